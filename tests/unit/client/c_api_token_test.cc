// The token checks through the C ABI (tessera_client.h), against the in-process token server.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

#include "base/system_clock.h"
#include "tessera/tessera_client.h"
#include "tests/unit/client/fake_token_server.h"
#include "tests/unit/client/token_factory.h"
#include "tests/unit/client/token_test_support.h"

namespace tessera::client {
namespace {

using testing::FakeTokenServer;
using testing::TokenFactory;
using testing::TokenMode;

struct Observed {
  std::atomic<int> lost{0};
  std::atomic<int> token_error{0};
};

void OnEvent(void* user_data, const tessera_lease_event* event) {
  auto* observed = static_cast<Observed*>(user_data);
  if (event->kind != TESSERA_LEASE_LOST) return;
  observed->token_error = event->token_error;
  ++observed->lost;
}

class CApiTokenTest : public ::testing::Test {
 protected:
  CApiTokenTest() : tokens_(RealClock().Now()), server_(tokens_, Duration(3000), Duration(300)) {}

  void TearDown() override {
    tessera_lease_free(lease_);
    tessera_client_free(client_);
  }

  // A client trusting `key` (DER).
  void Connect(const std::vector<uint8_t>& key) {
    tessera_options* options = tessera_options_new();
    ASSERT_NE(options, nullptr);
    const std::string server = "127.0.0.1:" + std::to_string(server_.port());
    ASSERT_EQ(tessera_options_add_server(options, server.c_str()), TESSERA_OK);
    ASSERT_EQ(tessera_options_set_vendor_key(options, key.data(), key.size()), TESSERA_OK)
        << tessera_last_error();
    ASSERT_EQ(tessera_options_set_lease_callback(options, &OnEvent, &observed_), TESSERA_OK);
    const int rc = tessera_client_new(options, &client_);
    tessera_options_free(options);
    ASSERT_EQ(rc, TESSERA_OK) << tessera_last_error();
  }

  int Checkout() { return tessera_checkout(client_, "cad", "2.1", 1, 0, 0, &lease_, nullptr); }

  TokenFactory tokens_;
  FakeTokenServer server_;
  Observed observed_;
  tessera_client* client_ = nullptr;
  tessera_lease* lease_ = nullptr;
};

TEST_F(CApiTokenTest, AGenuineTokenIsVerifiedAndReadable) {
  Connect(tokens_.genuine_vendor_spki());
  ASSERT_EQ(Checkout(), TESSERA_OK) << tessera_last_error();
  EXPECT_EQ(tessera_lease_token_verified(lease_), 1);
  EXPECT_EQ(std::string(tessera_lease_appliance_id(lease_)), tokens_.appliance_id());
  EXPECT_EQ(std::string(tessera_lease_customer(lease_)), "Example Corp");
  EXPECT_EQ(tessera_lease_block_sequence(lease_), 0u);
  size_t length = 0;
  const uint8_t* token = tessera_lease_token(lease_, &length);
  ASSERT_NE(token, nullptr);
  ASSERT_GT(length, 0u);

  // The same bytes verify offline; at the lease's end they do not.
  const auto key = tokens_.genuine_vendor_spki();
  tessera_lease* verified = nullptr;
  int token_error = -1;
  ASSERT_EQ(tessera_verify_lease_token(token, length, key.data(), key.size(), "cad", 0, &verified,
                                       &token_error),
            TESSERA_OK)
      << tessera_last_error();
  EXPECT_EQ(token_error, TESSERA_TOKEN_OK);
  EXPECT_EQ(std::string(tessera_lease_id(verified)), std::string(tessera_lease_id(lease_)));
  EXPECT_EQ(tessera_lease_expires_at_ms(verified), tessera_lease_expires_at_ms(lease_));
  tessera_lease_free(verified);
  verified = nullptr;
  EXPECT_EQ(
      tessera_verify_lease_token(token, length, key.data(), key.size(), "cad",
                                 tessera_lease_expires_at_ms(lease_), &verified, &token_error),
      TESSERA_E_TOKEN_REJECTED);
  EXPECT_EQ(verified, nullptr);
  EXPECT_EQ(token_error, TESSERA_TOKEN_LEASE_EXPIRED);
  EXPECT_EQ(tessera_last_token_error(), TESSERA_TOKEN_LEASE_EXPIRED);
  EXPECT_EQ(std::string(tessera_token_error_name(token_error)), "audit.lease_expired");
  EXPECT_EQ(tessera_verify_lease_token(token, length, key.data(), key.size(), "cam", 0, &verified,
                                       &token_error),
            TESSERA_E_TOKEN_REJECTED);
  EXPECT_EQ(token_error, TESSERA_TOKEN_FEATURE_MISMATCH);
}

TEST_F(CApiTokenTest, AForeignCertificateIsRefusedWithItsCode) {
  server_.set_grant_mode(TokenMode::kForeignVendor);
  Connect(tokens_.genuine_vendor_spki());
  EXPECT_EQ(Checkout(), TESSERA_E_TOKEN_REJECTED);
  EXPECT_EQ(lease_, nullptr);
  EXPECT_EQ(tessera_last_token_error(), TESSERA_TOKEN_BAD_CERTIFICATE_SIGNATURE);
  EXPECT_NE(std::string(tessera_last_error()).find("audit.bad_certificate_signature"),
            std::string::npos)
      << tessera_last_error();
  EXPECT_EQ(std::string(tessera_result_name(TESSERA_E_TOKEN_REJECTED)), "token_rejected");
  ASSERT_EQ(server_.granted().size(), 1u);
  const std::string granted = server_.granted()[0];
  EXPECT_TRUE(testing::Eventually([&] {
    for (const auto& id : server_.checkins()) {
      if (id == granted) return true;
    }
    return false;
  }));
  // A later success clears the token error.
  server_.set_grant_mode(TokenMode::kGenuine);
  ASSERT_EQ(Checkout(), TESSERA_OK) << tessera_last_error();
  EXPECT_EQ(tessera_last_token_error(), TESSERA_TOKEN_OK);
}

TEST_F(CApiTokenTest, AMissingTokenIsRefused) {
  server_.set_grant_mode(TokenMode::kMissing);
  Connect(tokens_.genuine_vendor_spki());
  EXPECT_EQ(Checkout(), TESSERA_E_TOKEN_REJECTED);
  EXPECT_EQ(tessera_last_token_error(), TESSERA_TOKEN_MISSING);
  EXPECT_EQ(std::string(tessera_token_error_name(TESSERA_TOKEN_MISSING)), "token.missing");
}

TEST_F(CApiTokenTest, ARejectedRenewalTokenReachesTheCallback) {
  Connect(tokens_.genuine_vendor_spki());
  ASSERT_EQ(Checkout(), TESSERA_OK) << tessera_last_error();
  server_.set_renewal_mode(TokenMode::kCorrupted);
  ASSERT_TRUE(testing::Eventually([&] { return observed_.lost.load() > 0; }));
  EXPECT_EQ(observed_.token_error.load(), TESSERA_TOKEN_BAD_INCLUSION_PROOF);
}

TEST(CApiVendorKeyTest, KeyFromAFileAndBadKeys) {
  TokenFactory tokens(RealClock().Now());
  testing::ScratchDir dir;
  tessera_options* options = tessera_options_new();
  ASSERT_NE(options, nullptr);
  const auto spki = tokens.genuine_vendor_spki();
  const auto good = dir.Write("vendor-root.spki", testing::AsString(spki));
  EXPECT_EQ(tessera_options_set_vendor_key_file(options, good.c_str()), TESSERA_OK)
      << tessera_last_error();
  const auto bad = dir.Write("bad.spki", "definitely not DER");
  EXPECT_EQ(tessera_options_set_vendor_key_file(options, bad.c_str()), TESSERA_E_INVALID_ARGUMENT);
  EXPECT_EQ(tessera_options_set_vendor_key_file(options, (dir.Write("y", "") / "no").c_str()),
            TESSERA_E_NOT_FOUND);
  const uint8_t junk[] = {0x30, 0x01, 0x00};
  EXPECT_EQ(tessera_options_set_vendor_key(options, junk, sizeof(junk)),
            TESSERA_E_INVALID_ARGUMENT);
  EXPECT_EQ(tessera_options_set_vendor_key(options, nullptr, 0), TESSERA_E_INVALID_ARGUMENT);
  tessera_options_free(options);
}

}  // namespace
}  // namespace tessera::client
