// The SDK verifies every lease token offline against the vendor root key it was built with:
// grants, renewals and resumes from an in-process server that builds tokens with the audit
// library (genuine ones, and every kind of wrong one).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "base/system_clock.h"
#include "hsm/crypto.h"
#include "tessera/client.h"
#include "tests/unit/client/fake_token_server.h"
#include "tests/unit/client/token_factory.h"
#include "tests/unit/client/token_test_support.h"

namespace tessera::client {
namespace {

using testing::Eventually;
using testing::FakeTokenServer;
using testing::TokenFactory;
using testing::TokenMode;

class TokenVerificationTest : public ::testing::Test {
 protected:
  // Long leases: a renewal token is only asked for near the end of the current one.
  explicit TokenVerificationTest(Duration ttl = Seconds(60), Duration interval = Duration(300))
      : tokens_(RealClock().Now()), server_(tokens_, ttl, interval) {}

  ClientOptions Options(std::optional<std::vector<uint8_t>> key = std::nullopt) {
    ClientOptions options;
    options.servers = {"127.0.0.1:" + std::to_string(server_.port())};
    options.connect_timeout = Seconds(5);
    options.request_timeout = Seconds(10);
    options.vendor_root_public_key = key ? *key : tokens_.genuine_vendor_spki();
    options.on_lease_event = [this](const LeaseEvent& event) {
      std::lock_guard lock(mu_);
      events_.push_back(event);
    };
    return options;
  }

  std::unique_ptr<Client> Connect(const ClientOptions& options) {
    auto client = Client::Create(options);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(client).value() : nullptr;
  }

  static CheckoutRequest Cad() {
    CheckoutRequest request;
    request.feature = "cad";
    request.version = "2.1";
    return request;
  }

  std::vector<LeaseEvent> Events() {
    std::lock_guard lock(mu_);
    return events_;
  }

  bool CheckedIn(const std::string& lease_id) {
    for (const auto& id : server_.checkins()) {
      if (id == lease_id) return true;
    }
    return false;
  }

  TokenFactory tokens_;
  FakeTokenServer server_;
  std::mutex mu_;
  std::vector<LeaseEvent> events_;
};

TEST_F(TokenVerificationTest, GenuineTokenIsAcceptedAndItsFactsAreOnTheLease) {
  auto client = Connect(Options());
  ASSERT_NE(client, nullptr);
  auto outcome = client->Checkout(Cad());
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  ASSERT_TRUE(outcome->granted());
  const Lease& lease = outcome->lease();
  EXPECT_TRUE(lease.token_verified);
  EXPECT_FALSE(lease.token.empty());
  EXPECT_EQ(lease.appliance_id, tokens_.appliance_id());
  EXPECT_EQ(lease.customer, "Example Corp");
  EXPECT_EQ(lease.block_sequence, 0u);
  EXPECT_EQ(lease.token_expires_at, lease.expires_at);
  const auto held = client->Leases();
  ASSERT_EQ(held.size(), 1u);
  EXPECT_TRUE(held[0].token_verified);
  EXPECT_TRUE(server_.checkins().empty());
}

struct Refusal {
  TokenMode mode;
  TokenError error;
  std::string tag;
};

void PrintTo(const Refusal& refusal, std::ostream* out) { *out << refusal.tag; }

class TokenRefusalTest : public TokenVerificationTest,
                         public ::testing::WithParamInterface<Refusal> {};

TEST_P(TokenRefusalTest, GrantIsRefusedWithTheTypedErrorAndTheSeatGoesBack) {
  server_.set_grant_mode(GetParam().mode);
  auto client = Connect(Options());
  ASSERT_NE(client, nullptr);
  auto outcome = client->Checkout(Cad());
  ASSERT_FALSE(outcome.ok()) << "a grant with a bad token was accepted";
  EXPECT_EQ(outcome.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(TokenErrorOf(outcome.status()), GetParam().error) << outcome.status().ToString();
  EXPECT_NE(outcome.status().message().find(GetParam().tag), std::string::npos)
      << outcome.status().ToString();
  EXPECT_TRUE(client->Leases().empty());
  ASSERT_EQ(server_.granted().size(), 1u);
  const std::string granted = server_.granted()[0];
  EXPECT_TRUE(Eventually([&] { return CheckedIn(granted); })) << "the seat was not checked in";
}

INSTANTIATE_TEST_SUITE_P(
    EveryFault, TokenRefusalTest,
    ::testing::Values(
        Refusal{TokenMode::kForeignVendor, TokenError::kCertificateSignature,
                "audit.bad_certificate_signature"},
        Refusal{TokenMode::kOtherNonce, TokenError::kNonceMismatch, "audit.nonce_mismatch"},
        Refusal{TokenMode::kOtherFeature, TokenError::kFeatureMismatch, "audit.feature_mismatch"},
        Refusal{TokenMode::kExpired, TokenError::kLeaseExpired, "audit.lease_expired"},
        Refusal{TokenMode::kExpiredCertificate, TokenError::kCertificateExpired,
                "audit.certificate_expired"},
        Refusal{TokenMode::kMissing, TokenError::kMissing, "token.missing"},
        Refusal{TokenMode::kTruncated, TokenError::kMalformed, "audit.malformed"},
        Refusal{TokenMode::kCorrupted, TokenError::kInclusionProof, "audit.bad_inclusion_proof"},
        Refusal{TokenMode::kOtherLease, TokenError::kLeaseMismatch, "token.lease_mismatch"}),
    [](const ::testing::TestParamInfo<Refusal>& param) {
      std::string name;
      for (char c : param.param.tag) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return name;
    });

TEST_F(TokenVerificationTest, TheServersOwnVendorKeyWouldAcceptItsOwnCertificate) {
  // The refusal above is the key's doing: trusting the server's vendor key accepts the token.
  server_.set_grant_mode(TokenMode::kForeignVendor);
  auto client = Connect(Options(tokens_.foreign_vendor_spki()));
  ASSERT_NE(client, nullptr);
  auto outcome = client->Checkout(Cad());
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_TRUE(outcome->lease().token_verified);
}

TEST_F(TokenVerificationTest, WithoutAVendorKeyTokensPassUnverified) {
  server_.set_grant_mode(TokenMode::kForeignVendor);
  ClientOptions options = Options();
  options.vendor_root_public_key.clear();
  auto client = Connect(options);
  ASSERT_NE(client, nullptr);
  auto outcome = client->Checkout(Cad());
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  ASSERT_TRUE(outcome->granted());
  EXPECT_FALSE(outcome->lease().token_verified);
  EXPECT_FALSE(outcome->lease().token.empty());
  EXPECT_TRUE(outcome->lease().appliance_id.empty());
}

TEST_F(TokenVerificationTest, AKeyThatIsNotAP256PublicKeyIsRefusedAtCreate) {
  ClientOptions options = Options(std::vector<uint8_t>{0x30, 0x03, 0x02, 0x01, 0x01});
  auto client = Client::Create(options);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), StatusCode::kInvalidArgument);
}

class ShortLeaseTokenTest : public TokenVerificationTest {
 protected:
  // Renewed every 300 ms; the token is refreshed once it has less than 600 ms left.
  ShortLeaseTokenTest() : TokenVerificationTest(Duration(3000), Duration(300)) {}
};

TEST_F(ShortLeaseTokenTest, RenewalsAskForAndVerifyFreshTokensNearTheEndOfTheCurrentOne) {
  auto client = Connect(Options());
  ASSERT_NE(client, nullptr);
  auto outcome = client->Checkout(Cad());
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  const std::string id = outcome->lease().lease_id;
  ASSERT_TRUE(Eventually([&] {
    const auto held = client->Leases();
    return held.size() == 1 && held[0].block_sequence >= 2;
  })) << "no fresh token was taken";
  const auto held = client->Leases();
  ASSERT_EQ(held.size(), 1u);
  EXPECT_TRUE(held[0].token_verified);
  EXPECT_GT(held[0].token_expires_at, outcome->lease().token_expires_at);
  const auto heartbeats = server_.heartbeats();
  ASSERT_FALSE(heartbeats.empty());
  // The grant's token had 2.7 s left at the first renewal: no token asked for then.
  EXPECT_TRUE(heartbeats.front().token_lease_ids.empty());
  size_t asked = 0;
  for (const auto& hb : heartbeats) {
    for (const auto& t : hb.token_lease_ids) {
      EXPECT_NE(std::find(hb.lease_ids.begin(), hb.lease_ids.end(), t), hb.lease_ids.end())
          << "token_lease_ids is not a subset of lease_ids";
      ++asked;
    }
  }
  EXPECT_GE(asked, 2u);
  EXPECT_LT(asked, heartbeats.size()) << "a fresh token on every renewal";
  EXPECT_TRUE(Events().empty());
}

TEST_F(ShortLeaseTokenTest, ARenewalTokenThatFailsLosesTheLeaseAndReportsIt) {
  auto client = Connect(Options());
  ASSERT_NE(client, nullptr);
  auto outcome = client->Checkout(Cad());
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  const std::string id = outcome->lease().lease_id;
  server_.set_renewal_mode(TokenMode::kOtherNonce);
  ASSERT_TRUE(Eventually([&] { return !Events().empty(); }));
  const LeaseEvent event = Events().front();
  EXPECT_EQ(event.kind, LeaseEvent::Kind::kLost);
  EXPECT_EQ(event.lease_id, id);
  EXPECT_EQ(event.token_error, TokenError::kNonceMismatch);
  EXPECT_NE(event.detail.find("audit.nonce_mismatch"), std::string::npos) << event.detail;
  EXPECT_TRUE(client->Leases().empty());
  EXPECT_TRUE(Eventually([&] { return CheckedIn(id); }));
}

TEST_F(ShortLeaseTokenTest, AResumeIsVerifiedLikeAGrant) {
  auto client = Connect(Options());
  ASSERT_NE(client, nullptr);
  auto first = client->Checkout(Cad());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  const std::string id = first->lease().lease_id;

  // A good resume keeps the lease, with the resume's token.
  server_.Forget(id);
  ASSERT_TRUE(Eventually([&] {
    for (const auto& e : Events()) {
      if (e.kind == LeaseEvent::Kind::kResumed) return true;
    }
    return false;
  }));
  ASSERT_EQ(client->Leases().size(), 1u);
  EXPECT_TRUE(client->Leases()[0].token_verified);
  EXPECT_GT(client->Leases()[0].block_sequence, first->lease().block_sequence);

  // A resume whose token belongs to another vendor loses it.
  server_.set_grant_mode(TokenMode::kForeignVendor);
  server_.Forget(id);
  ASSERT_TRUE(Eventually([&] {
    for (const auto& e : Events()) {
      if (e.kind == LeaseEvent::Kind::kLost) return true;
    }
    return false;
  }));
  for (const auto& e : Events()) {
    if (e.kind != LeaseEvent::Kind::kLost) continue;
    EXPECT_EQ(e.lease_id, id);
    EXPECT_EQ(e.token_error, TokenError::kCertificateSignature);
  }
  EXPECT_TRUE(client->Leases().empty());
}

TEST_F(ShortLeaseTokenTest, AResumeOfALeaseTheServerStillHoldsMayProveTheFirstNonce) {
  auto client = Connect(Options());
  ASSERT_NE(client, nullptr);
  auto first = client->Checkout(Cad());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  const std::string id = first->lease().lease_id;
  server_.Lapse(id);  // re-granted as it was: the token states the first checkout's nonce
  ASSERT_TRUE(Eventually([&] {
    for (const auto& e : Events()) {
      if (e.kind == LeaseEvent::Kind::kResumed) return true;
    }
    return false;
  }));
  for (const auto& e : Events()) EXPECT_NE(e.kind, LeaseEvent::Kind::kLost) << e.detail;
  // Its renewal tokens, with that same nonce, keep verifying.
  const uint64_t resumed_block = client->Leases().at(0).block_sequence;
  ASSERT_TRUE(Eventually([&] {
    const auto held = client->Leases();
    return held.size() == 1 && held[0].block_sequence > resumed_block;
  }));
  EXPECT_EQ(client->Leases().at(0).nonce, first->lease().nonce);
  for (const auto& e : Events()) EXPECT_NE(e.kind, LeaseEvent::Kind::kLost) << e.detail;
}

// ---------------------------------------------------------------------------------------
// Offline verification (borrowed leases) and key files

class OfflineVerifyTest : public TokenVerificationTest {
 protected:
  void SetUp() override {
    CheckoutRequest request = Cad();
    request.borrow_duration = Seconds(3600);
    auto client = Connect(Options());
    ASSERT_NE(client, nullptr);
    auto outcome = client->Checkout(request);
    ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
    lease_ = outcome->lease();
  }
  Lease lease_;
};

TEST_F(OfflineVerifyTest, AKeptTokenVerifiesWithoutANetwork) {
  auto verified =
      VerifyLeaseToken(lease_.token, tokens_.genuine_vendor_spki(), "cad", RealClock().Now());
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
  EXPECT_EQ(verified->lease_id, lease_.lease_id);
  EXPECT_EQ(verified->feature, "cad");
  EXPECT_EQ(verified->nonce, lease_.nonce);
  EXPECT_EQ(verified->expires_at, lease_.token_expires_at);
  EXPECT_EQ(verified->appliance_id, tokens_.appliance_id());
  EXPECT_EQ(verified->customer, "Example Corp");
  EXPECT_EQ(verified->block_sequence, lease_.block_sequence);
  EXPECT_TRUE(verified->token_verified);
  EXPECT_EQ(verified->token, lease_.token);
}

TEST_F(OfflineVerifyTest, EveryWrongInputIsRefusedWithItsError) {
  const auto key = tokens_.genuine_vendor_spki();
  const TimePoint now = RealClock().Now();
  auto error = [](const Result<Lease>& r) { return TokenErrorOf(r.status()); };
  EXPECT_EQ(error(VerifyLeaseToken(lease_.token, tokens_.foreign_vendor_spki(), "cad", now)),
            TokenError::kCertificateSignature);
  EXPECT_EQ(error(VerifyLeaseToken(lease_.token, key, "cam", now)), TokenError::kFeatureMismatch);
  EXPECT_EQ(error(VerifyLeaseToken(lease_.token, key, "cad", lease_.token_expires_at)),
            TokenError::kLeaseExpired);
  EXPECT_EQ(error(VerifyLeaseToken("", key, "cad", now)), TokenError::kMissing);
  EXPECT_EQ(error(VerifyLeaseToken(lease_.token.substr(0, 40), key, "cad", now)),
            TokenError::kMalformed);
  auto bad_key = VerifyLeaseToken(lease_.token, {1, 2, 3}, "cad", now);
  ASSERT_FALSE(bad_key.ok());
  EXPECT_EQ(bad_key.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(TokenErrorOf(bad_key.status()).has_value());
}

TEST(VendorKeyFileTest, LoadsDerAndPemAndRefusesOthers) {
  TokenFactory tokens(RealClock().Now());
  testing::ScratchDir dir;
  const auto spki = tokens.genuine_vendor_spki();
  auto der = LoadVendorRootPublicKey(dir.Write("vendor-root.spki", testing::AsString(spki)));
  ASSERT_TRUE(der.ok()) << der.status().ToString();
  EXPECT_EQ(*der, spki);
  auto pem_text = hsm::SpkiToPem(spki);
  ASSERT_TRUE(pem_text.ok());
  auto pem = LoadVendorRootPublicKey(dir.Write("vendor-root.pub.pem", *pem_text));
  ASSERT_TRUE(pem.ok()) << pem.status().ToString();
  EXPECT_EQ(*pem, spki);
  auto garbage = LoadVendorRootPublicKey(dir.Write("garbage", "not a key"));
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.status().code(), StatusCode::kInvalidArgument);
  auto missing = LoadVendorRootPublicKey((dir.Write("x", "") / "nope").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

TEST(TokenErrorTest, TagsRoundTripThroughTheStatus) {
  for (int n = 1; n <= kMaxTokenError; ++n) {
    const auto error = static_cast<TokenError>(n);
    const Status status(StatusCode::kPermissionDenied,
                        "token rejected: " + std::string(TokenErrorTag(error)) + ": detail");
    EXPECT_EQ(TokenErrorOf(status), error) << TokenErrorTag(error);
  }
  // "audit.bad_certificate" is not taken for "audit.bad_certificate_signature" nor back.
  EXPECT_EQ(TokenErrorOf(Status(StatusCode::kPermissionDenied,
                                "token rejected: audit.bad_certificate_signature: x")),
            TokenError::kCertificateSignature);
  EXPECT_FALSE(TokenErrorOf(PermissionDenied("audit.nonce_mismatch: x")).has_value());
  EXPECT_FALSE(TokenErrorOf(Unavailable("token rejected: audit.malformed")).has_value());
}

}  // namespace
}  // namespace tessera::client
