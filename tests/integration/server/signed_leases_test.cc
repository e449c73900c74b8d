// tesserad with an identity key signs every committed batch as an audit block and hands
// out lease tokens that verify offline with the vendor root key alone. Run against each key
// store backend: soft: (file), a real swtpm and a real SoftHSM2 token.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "base/system_clock.h"
#include "hsm/crypto.h"
#include "hsm/key_store.h"
#include "hsm/provision.h"
#include "protocol/audit/chain.h"
#include "protocol/audit/envelope.h"
#include "protocol/audit/token.h"
#include "server/daemon.h"
#include "server/store/audit_blocks.h"
#include "tests/integration/hsm/hsm_test_env.h"
#include "tests/integration/server/server_test_util.h"
#include "tests/integration/server/signed_appliance.h"
#include "tests/unit/audit/test_key.h"

namespace tessera::testing {
namespace {

namespace v1 = tessera::v1;
using audit::AsBytes;
using audit::testing::TestKey;

class SignedLeasesTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_.path() / "d");
    Status ready = appliance_.Init();
    ASSERT_TRUE(ready.ok()) << ready.ToString();
    appliance_id_ = appliance_.appliance_id();
    appliance_spki_ = appliance_.spki();

    TesseradOptions options;
    options.entitlement_json = kBasicEntitlement;
    options.keep_database = true;
    options.extra_args = appliance_.TesseradArgs();
    server_ = std::make_unique<TesseradProcess>(dir_.path() / "d", options);
    Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString() << server_->Log();
  }

  std::unique_ptr<RawClient> Connect(const std::string& client_id) {
    return HelloClient(server_->port(), client_id);
  }

  Result<audit::VerifiedLease> Verify(const std::string& token, const std::string& nonce,
                                      const std::string& feature = "cad") {
    return audit::VerifyLeaseToken(AsBytes(token), vendor_.spki(), nonce, feature,
                                   RealClock().Now());
  }

  std::vector<v1::AuditBlock> StoredBlocks() {
    return testing::StoredBlocks(dir_.path() / "d" / "tesserad.db");
  }

  static int CountKind(const std::vector<v1::AuditBlock>& blocks, v1::AuditEventKind kind) {
    return static_cast<int>(EventsOfKind(blocks, kind).size());
  }

  TempDir dir_{"signed-leases"};
  SignedAppliance appliance_{dir_.path(), GetParam()};
  TestKey& vendor_ = appliance_.vendor();
  std::string appliance_id_;
  Bytes appliance_spki_;
  std::unique_ptr<TesseradProcess> server_;
};

TEST_P(SignedLeasesTest, GrantsAndRequestedRenewalsCarryTokensThatVerifyOffline) {
  auto c = Connect("signed-client");
  v1::CheckoutRequest req;
  req.set_feature("cad");
  req.set_version("2.0");
  req.set_nonce("nonce-1");
  auto reply = c->Checkout(req);
  ASSERT_TRUE(reply.ok() && reply->checkout_reply().has_granted()) << reply->DebugString();
  const v1::Lease& lease = reply->checkout_reply().granted();
  ASSERT_FALSE(lease.token().empty());
  auto verified = Verify(lease.token(), "nonce-1");
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
  EXPECT_EQ(verified->lease_id, lease.lease_id());
  EXPECT_EQ(verified->appliance_id, appliance_id_);
  EXPECT_EQ(verified->customer, "Example Corp");
  EXPECT_EQ(ToUnixMillis(verified->expires_at), lease.expires_at_ms());
  // The token is bound to this checkout: another nonce or feature does not verify.
  EXPECT_EQ(audit::AuditErrorOf(Verify(lease.token(), "nonce-2").status()),
            audit::AuditError::kNonceMismatch);
  // Another vendor's root key does not accept it.
  TestKey other_vendor;
  EXPECT_EQ(audit::AuditErrorOf(audit::VerifyLeaseToken(AsBytes(lease.token()), other_vendor.spki(),
                                                        "nonce-1", "cad", RealClock().Now())
                                    .status()),
            audit::AuditError::kCertificateSignature);

  // A retry of the same checkout (a lost reply) gets the same lease with a token of its own.
  auto retry = c->Checkout(req);
  ASSERT_TRUE(retry.ok() && retry->checkout_reply().has_granted()) << retry->DebugString();
  EXPECT_EQ(retry->checkout_reply().granted().lease_id(), lease.lease_id());
  auto retried = Verify(retry->checkout_reply().granted().token(), "nonce-1");
  ASSERT_TRUE(retried.ok()) << retried.status().ToString();
  EXPECT_GT(retried->block_sequence, verified->block_sequence);

  // A plain heartbeat carries no token; one that asks for it gets a fresh one.
  auto plain = c->Heartbeat({lease.lease_id()});
  ASSERT_TRUE(plain.ok() && plain->heartbeat_reply().results_size() == 1);
  EXPECT_TRUE(plain->heartbeat_reply().results(0).renewed());
  EXPECT_TRUE(plain->heartbeat_reply().results(0).token().empty());
  v1::Frame hb;
  hb.mutable_heartbeat()->add_lease_ids(lease.lease_id());
  hb.mutable_heartbeat()->add_token_lease_ids(lease.lease_id());
  auto asked = c->Call(hb);
  ASSERT_TRUE(asked.ok() && asked->heartbeat_reply().results_size() == 1);
  const v1::LeaseRenewal& renewal = asked->heartbeat_reply().results(0);
  ASSERT_TRUE(renewal.renewed());
  ASSERT_FALSE(renewal.token().empty());
  auto renewed = Verify(renewal.token(), "nonce-1");
  ASSERT_TRUE(renewed.ok()) << renewed.status().ToString();
  EXPECT_EQ(ToUnixMillis(renewed->expires_at), renewal.expires_at_ms());
  EXPECT_GT(renewed->block_sequence, verified->block_sequence);

  v1::Frame status;
  status.mutable_status();
  auto st = c->Call(status);
  ASSERT_TRUE(st.ok() && st->has_status_reply());
  EXPECT_TRUE(st->status_reply().signed_leases());
  EXPECT_TRUE(st->status_reply().locked_reason().empty());
}

TEST_P(SignedLeasesTest, TheStoredChainVerifiesAndContinuesAcrossARestart) {
  {
    auto c = Connect("chain-client");
    for (int i = 0; i < 2; ++i) {
      auto r = c->Checkout("cad", "1.0");
      ASSERT_TRUE(r.ok() && r->checkout_reply().has_granted());
      auto in = c->Checkin(r->checkout_reply().granted().lease_id());
      ASSERT_TRUE(in.ok() && in->checkin_reply().released());
    }
  }
  auto stopped = server_->Stop();
  ASSERT_TRUE(stopped.ok() && *stopped == 0) << server_->Log();
  std::vector<v1::AuditBlock> first = StoredBlocks();
  ASSERT_GE(first.size(), 2u);
  audit::ChainVerdict v = audit::VerifyChain(first, appliance_spki_, {});
  ASSERT_TRUE(v.ok()) << v.fault->status.ToString();
  EXPECT_EQ(CountKind(first, v1::APPLIANCE_STARTED), 1);
  EXPECT_EQ(CountKind(first, v1::LEASE_GRANTED), 2);
  EXPECT_EQ(CountKind(first, v1::AUDIT_LEASE_RELEASED), 2);

  ASSERT_TRUE(server_->Restart().ok()) << server_->Log();
  {
    auto c = Connect("chain-client-2");
    auto r = c->Checkout("cad", "1.0");
    ASSERT_TRUE(r.ok() && r->checkout_reply().has_granted());
    EXPECT_TRUE(Verify(r->checkout_reply().granted().token(), "").ok());
  }
  ASSERT_TRUE(server_->Stop().ok());
  std::vector<v1::AuditBlock> all = StoredBlocks();
  ASSERT_GT(all.size(), first.size());
  v = audit::VerifyChain(all, appliance_spki_, {});
  ASSERT_TRUE(v.ok()) << v.fault->status.ToString();
  EXPECT_EQ(v.blocks, all.size());
  EXPECT_EQ(CountKind(all, v1::APPLIANCE_STARTED), 2);
  // Another key does not verify the chain.
  TestKey stranger;
  EXPECT_FALSE(audit::VerifyChain(all, stranger.spki(), {}).ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, SignedLeasesTest,
                         ::testing::Values(Backend::kSoft, Backend::kTpm, Backend::kPkcs11),
                         BackendName);

TEST(SignedLeasesConfigTest, ACertificateForAnotherKeyStopsTheStart) {
  TempDir dir("signed-wrong-cert");
  std::filesystem::create_directories(dir.path() / "d");
  const std::string uri = "soft:" + (dir.path() / "identity.pem").string();
  hsm::OpenOptions open;
  open.allow_insecure = true;
  auto store = hsm::OpenKeyStore(uri, open);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE(hsm::Provision(**store, {}).ok());
  TestKey vendor;
  TestKey someone_else;
  v1::SignedEnvelope cert = audit::testing::Certify(vendor, someone_else, RealClock().Now(),
                                                    RealClock().Now() + std::chrono::hours(24));
  const auto cert_path = dir.path() / "other.cert";
  {
    FILE* f = std::fopen(cert_path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::string bytes = cert.SerializeAsString();
    ASSERT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
    std::fclose(f);
  }
  TesseradOptions options;
  options.extra_args = {"--key-uri", uri, "--insecure-dev-keys", "--certificate",
                        cert_path.string()};
  TesseradProcess server(dir.path() / "d", options);
  Status started = server.Start();
  EXPECT_FALSE(started.ok());
  EXPECT_NE(
      started.message().find("tesserad exited with " + std::to_string(server::kExitBadConfig)),
      std::string::npos)
      << started.ToString();
  EXPECT_NE(server.Log().find("event=bad_certificate"), std::string::npos) << server.Log();
  EXPECT_NE(server.Log().find("not for this key"), std::string::npos) << server.Log();
}

}  // namespace
}  // namespace tessera::testing
