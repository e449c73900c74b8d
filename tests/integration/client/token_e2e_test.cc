// Lease tokens from a real tesserad that signs with a soft: identity key certified by a
// development vendor root key (tessera provision, tessera-vendor dev-init and certify): the
// C++ SDK, the C ABI and the CLI verify grants and renewals offline, and a client built with
// another vendor's key refuses the same server's grants.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/system_clock.h"
#include "tessera/tessera_client.h"
#include "tests/integration/client/client_fixture.h"

namespace tessera::client::testing {
namespace {

class ClientTokenE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string key_uri = "soft:" + dir_.File("appliance-key.pem").string();
    Run({BuildPath("admin/cli/tessera"), "provision", "--key-uri", key_uri, "--insecure-dev-keys"});
    Run({BuildPath("vendor/tessera-vendor"), "dev-init", "--dir", dir_.File("vendor").string()});
    Run({BuildPath("vendor/tessera-vendor"), "dev-init", "--dir", dir_.File("other").string()});
    Run({BuildPath("vendor/tessera-vendor"), "certify", "--vendor-key",
         "soft:" + dir_.File("vendor/vendor-root.pem").string(), "--insecure-dev-keys",
         "--appliance-key-uri", key_uri, "--customer", "E2E Corp", "--days", "2", "--out",
         dir_.File("cert.bin").string()});
    if (HasFatalFailure()) return;

    FeatureSpec cad;
    cad.seats = 2;
    cad.lease_ttl_ms = 2000;  // renewed every 500 ms; a fresh token asked below 1 s left
    cad.heartbeat_interval_ms = 500;
    std::filesystem::create_directories(dir_.File("server"));
    tessera::testing::TesseradOptions options;
    options.entitlement_json = EntitlementJson({cad});
    options.extra_args = {"--key-uri", key_uri, "--insecure-dev-keys", "--certificate",
                          dir_.File("cert.bin").string()};
    server_ = std::make_unique<tessera::testing::TesseradProcess>(dir_.File("server"), options);
    const Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
    servers_ = "127.0.0.1:" + std::to_string(server_->port());
  }

  void Run(std::vector<std::string> argv) {
    const std::string what = argv[0] + " " + argv[1];
    ChildProcess child(std::move(argv), {}, dir_.path());
    ASSERT_TRUE(child.started()) << what;
    const int code = child.Wait();
    ASSERT_EQ(code, 0) << what << ": " << child.Stderr() << child.Stdout();
  }

  ClientOptions Options(const std::string& vendor) {
    ClientOptions options = LocalOptions({server_->port()});
    auto key = LoadVendorRootPublicKey(dir_.File(vendor + "/vendor-root.spki").string());
    EXPECT_TRUE(key.ok()) << key.status().ToString();
    if (key.ok()) options.vendor_root_public_key = *key;
    return options;
  }

  std::string ApplianceId() {
    auto probe = Client::Create(LocalOptions({server_->port()}));
    if (!probe.ok()) return "";
    auto status = (*probe)->GetStatus();
    return status.ok() ? status->appliance_id : "";
  }

  tessera::testing::TempDir dir_{"client-token-e2e"};
  std::unique_ptr<tessera::testing::TesseradProcess> server_;
  std::string servers_;
};

TEST_F(ClientTokenE2eTest, TheSdkVerifiesTheGrantAndEveryRenewalToken) {
  const std::string appliance_id = ApplianceId();
  ASSERT_FALSE(appliance_id.empty());
  auto client = Client::Create(Options("vendor"));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto outcome = (*client)->Checkout(Request("cad"));
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString() << "\n" << server_->Log();
  ASSERT_TRUE(outcome->granted());
  const Lease granted = outcome->lease();
  EXPECT_TRUE(granted.token_verified);
  EXPECT_EQ(granted.appliance_id, appliance_id);
  EXPECT_EQ(granted.customer, "E2E Corp");

  // Renewal tokens: the client asks for one near the end of the current token and verifies
  // it; a token that failed would have lost the lease (no event) instead.
  ASSERT_TRUE(WaitUntil([&] {
    const auto held = (*client)->Leases();
    return held.size() == 1 && held[0].token_expires_at > granted.token_expires_at &&
           held[0].block_sequence > granted.block_sequence;
  })) << "no fresh token arrived\n"
      << server_->Log();
  const Lease renewed = (*client)->Leases().at(0);
  EXPECT_TRUE(renewed.token_verified);
  EXPECT_EQ(renewed.lease_id, granted.lease_id);
  EXPECT_NE(renewed.token, granted.token);
  // The renewal token re-checks offline, as a kept token would.
  auto offline = VerifyLeaseToken(renewed.token, Options("vendor").vendor_root_public_key, "cad",
                                  RealClock().Now());
  ASSERT_TRUE(offline.ok()) << offline.status().ToString();
  EXPECT_EQ(offline->lease_id, granted.lease_id);
  EXPECT_EQ(offline->nonce, granted.nonce);
  auto checkin = (*client)->Checkin(granted.lease_id);
  ASSERT_TRUE(checkin.ok()) << checkin.status().ToString();
  EXPECT_TRUE(checkin->released);
}

TEST_F(ClientTokenE2eTest, AClientOfAnotherVendorRefusesTheGrantAndGivesTheSeatBack) {
  auto client = Client::Create(Options("other"));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto outcome = (*client)->Checkout(Request("cad"));
  ASSERT_FALSE(outcome.ok()) << "a grant certified by another vendor was accepted";
  EXPECT_EQ(TokenErrorOf(outcome.status()), TokenError::kCertificateSignature)
      << outcome.status().ToString();
  EXPECT_TRUE((*client)->Leases().empty());
  auto observer = Client::Create(LocalOptions({server_->port()}));
  ASSERT_TRUE(observer.ok());
  EXPECT_TRUE(WaitUntil([&] { return InUse(**observer, "cad") == 0; }))
      << "the refused seat was not checked in";
}

TEST_F(ClientTokenE2eTest, TheCAbiVerifiesAndHandsOutTheToken) {
  tessera_options* options = tessera_options_new();
  ASSERT_NE(options, nullptr);
  ASSERT_EQ(tessera_options_add_servers(options, servers_.c_str()), TESSERA_OK);
  const std::string key = dir_.File("vendor/vendor-root.spki").string();
  ASSERT_EQ(tessera_options_set_vendor_key_file(options, key.c_str()), TESSERA_OK)
      << tessera_last_error();
  tessera_client* client = nullptr;
  ASSERT_EQ(tessera_client_new(options, &client), TESSERA_OK) << tessera_last_error();
  tessera_options_free(options);
  tessera_lease* lease = nullptr;
  ASSERT_EQ(tessera_checkout(client, "cad", "2.0", 1, 0, 0, &lease, nullptr), TESSERA_OK)
      << tessera_last_error();
  EXPECT_EQ(tessera_lease_token_verified(lease), 1);
  EXPECT_EQ(std::string(tessera_lease_customer(lease)), "E2E Corp");
  size_t length = 0;
  const uint8_t* token = tessera_lease_token(lease, &length);
  ASSERT_GT(length, 0u);
  const auto spki = LoadVendorRootPublicKey(key);
  ASSERT_TRUE(spki.ok());
  tessera_lease* verified = nullptr;
  int token_error = -1;
  EXPECT_EQ(tessera_verify_lease_token(token, length, spki->data(), spki->size(), "cad", 0,
                                       &verified, &token_error),
            TESSERA_OK)
      << tessera_last_error();
  EXPECT_EQ(token_error, TESSERA_TOKEN_OK);
  tessera_lease_free(verified);
  tessera_lease_free(lease);
  tessera_client_free(client);

  // The same through a client of another vendor: refused with its code.
  options = tessera_options_new();
  ASSERT_EQ(tessera_options_add_servers(options, servers_.c_str()), TESSERA_OK);
  const std::string other = dir_.File("other/vendor-root.spki").string();
  ASSERT_EQ(tessera_options_set_vendor_key_file(options, other.c_str()), TESSERA_OK);
  ASSERT_EQ(tessera_client_new(options, &client), TESSERA_OK);
  tessera_options_free(options);
  EXPECT_EQ(tessera_checkout(client, "cad", "2.0", 1, 0, 0, &lease, nullptr),
            TESSERA_E_TOKEN_REJECTED);
  EXPECT_EQ(tessera_last_token_error(), TESSERA_TOKEN_BAD_CERTIFICATE_SIGNATURE);
  tessera_client_free(client);
}

TEST_F(ClientTokenE2eTest, TheCliPrintsTheVerifiedTokenAndExitsSevenOnARejectedOne) {
  ChildProcess good({BuildPath("client/tessera-client"), "--server", servers_, "--vendor-pub",
                     dir_.File("vendor/vendor-root.spki").string(), "checkout", "cad", "--version",
                     "2.0", "--hold-for", "0.1"},
                    {}, dir_.path());
  ASSERT_EQ(good.Wait(), 0) << good.Stderr();
  EXPECT_NE(good.Stdout().find("token verified appliance=" + ApplianceId()), std::string::npos)
      << good.Stdout();
  EXPECT_NE(good.Stdout().find("customer=\"E2E Corp\""), std::string::npos) << good.Stdout();

  ChildProcess bad({BuildPath("client/tessera-client"), "--server", servers_, "checkout", "cad",
                    "--version", "2.0"},
                   {"TESSERA_VENDOR_PUB=" + dir_.File("other/vendor-root.spki").string()},
                   dir_.path());
  EXPECT_EQ(bad.Wait(), 7) << bad.Stderr();
  EXPECT_NE(bad.Stderr().find("audit.bad_certificate_signature"), std::string::npos)
      << bad.Stderr();
}

TEST_F(ClientTokenE2eTest, TheCExampleVerifiesWithTheVendorKeyFromTheEnvironment) {
  ChildProcess example({BuildPath("client/tessera-example-c"), "cad", "2.0"},
                       {"TESSERA_SERVERS=" + servers_,
                        "TESSERA_VENDOR_PUB=" + dir_.File("vendor/vendor-root.spki").string()},
                       dir_.path());
  ASSERT_EQ(example.Wait(), 0) << example.Stderr();
  EXPECT_NE(example.Stdout().find("token verified appliance="), std::string::npos)
      << example.Stdout();
  ChildProcess refused({BuildPath("client/tessera-example-c"), "cad", "2.0"},
                       {"TESSERA_SERVERS=" + servers_,
                        "TESSERA_VENDOR_PUB=" + dir_.File("other/vendor-root.spki").string()},
                       dir_.path());
  EXPECT_EQ(refused.Wait(), 3) << refused.Stderr();
}

TEST_F(ClientTokenE2eTest, ThePythonExampleVerifiesToo) {
  if (!std::string(TESSERA_SANITIZE).empty()) {
    GTEST_SKIP() << "python3 is not built with the sanitizers the library is";
  }
  const std::string lib = "TESSERA_CLIENT_LIB=" + BuildPath("client/libtessera-client.so");
  ChildProcess good(
      {"/usr/bin/env", "python3", SourcePath("examples/python/checkout.py"), "cad", "2.0"},
      {"TESSERA_SERVERS=" + servers_, lib,
       "TESSERA_VENDOR_PUB=" + dir_.File("vendor/vendor-root.spki").string()},
      dir_.path());
  ASSERT_EQ(good.Wait(), 0) << good.Stderr();
  EXPECT_NE(good.Stdout().find("token verified appliance="), std::string::npos) << good.Stdout();
  ChildProcess refused(
      {"/usr/bin/env", "python3", SourcePath("examples/python/checkout.py"), "cad", "2.0"},
      {"TESSERA_SERVERS=" + servers_, lib,
       "TESSERA_VENDOR_PUB=" + dir_.File("other/vendor-root.spki").string()},
      dir_.path());
  EXPECT_EQ(refused.Wait(), 3) << refused.Stderr();
  EXPECT_NE(refused.Stderr().find("audit.bad_certificate_signature"), std::string::npos)
      << refused.Stderr();
}

}  // namespace
}  // namespace tessera::client::testing
