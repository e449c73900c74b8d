// `tessera-vendor` as a user runs it: the real binary, real soft: key files and a real
// swtpm-backed tpm: key. Certificates it issues make lease tokens that verify offline.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "hsm/key_store.h"
#include "protocol/audit/chain.h"
#include "protocol/audit/token.h"
#include "tests/integration/hsm/hsm_test_env.h"
#include "tests/unit/audit/test_key.h"

namespace tessera::audit {
namespace {

using hsm::testing::CommandResult;
using hsm::testing::RunCommand;
using hsm::testing::Swtpm;
using hsm::testing::TempDir;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteAll(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  out << data;
}

CommandResult Vendor(const std::vector<std::string>& args) {
  std::vector<std::string> argv;
  argv.reserve(args.size() + 1);
  argv.emplace_back(TESSERA_VENDOR_PATH);
  for (const auto& a : args) argv.push_back(a);
  return RunCommand(argv);
}

class VendorCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_dir_ = tmp_.path() + "/root";
    CommandResult r = Vendor({"dev-init", "--dir", root_dir_});
    ASSERT_EQ(r.exit_code, 0) << r.out;
    EXPECT_NE(r.out.find("BEGIN PUBLIC KEY"), std::string::npos) << r.out;
    vendor_spki_ = ReadAll(root_dir_ + "/vendor-root.spki");
    ASSERT_FALSE(vendor_spki_.empty());
  }

  std::string vendor_uri() const { return "soft:" + root_dir_ + "/vendor-root.pem"; }

  std::unique_ptr<hsm::KeyStore> NewKey(const std::string& uri, bool insecure) {
    auto store = hsm::OpenKeyStore(uri, {.allow_insecure = insecure});
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    if (!store.ok()) return nullptr;
    Status created = (*store)->CreateKey(false);
    EXPECT_TRUE(created.ok()) << created.ToString();
    return std::move(*store);
  }

  v1::SignedEnvelope ReadCertificate(const std::string& path) {
    v1::SignedEnvelope env;
    EXPECT_TRUE(env.ParseFromString(ReadAll(path)));
    return env;
  }

  // Seals a block with `appliance` holding one grant and checks its token offline.
  void ExpectTokenVerifies(hsm::KeyStore& appliance, const v1::SignedEnvelope& cert_env) {
    v1::ApplianceCertificate cert;
    ASSERT_TRUE(cert.ParseFromString(cert_env.payload()));
    auto spki = appliance.PublicKeyDer();
    ASSERT_TRUE(spki.ok());
    EXPECT_EQ(cert.identity_public_key(), std::string(spki->begin(), spki->end()));
    const std::string id = cert.appliance_id();
    const TimePoint now = FromUnixMillis(cert.not_before_ms()) + Seconds(60);
    std::vector<std::string> events = {
        testing::DenialEvent(id, 1),
        testing::GrantEvent(id, "L-1", "cad", "nonce-1", now, now + Seconds(3600))};
    SealParams params;
    params.appliance_id = id;
    params.wall_time = now;
    if (appliance.capabilities().trusted_clock) {
      auto clock = appliance.ReadClock();
      ASSERT_TRUE(clock.ok()) << clock.status().ToString();
      params.tpm_clock = *clock;
    }
    auto block = SealBlock(ChainTip::Genesis(), events, params, SignerFn(appliance));
    ASSERT_TRUE(block.ok()) << block.status().ToString();
    EXPECT_EQ(block->header.has_tpm_clock(), appliance.capabilities().trusted_clock);
    auto token = BuildLeaseToken(*block, events, 1, cert_env);
    ASSERT_TRUE(token.ok());
    auto lease = VerifyLeaseToken(AsBytes(*token), AsBytes(vendor_spki_), "nonce-1", "cad",
                                  now + Seconds(10));
    ASSERT_TRUE(lease.ok()) << lease.status().ToString();
    EXPECT_EQ(lease->lease_id, "L-1");
    EXPECT_EQ(lease->customer, "Example Corp");
    // The same token against another vendor's root key fails on the certificate.
    testing::TestKey other_vendor;
    auto foreign =
        VerifyLeaseToken(AsBytes(*token), other_vendor.spki(), "nonce-1", "cad", now + Seconds(10));
    EXPECT_EQ(AuditErrorOf(foreign.status()), AuditError::kCertificateSignature);
  }

  TempDir tmp_;
  std::string root_dir_;
  std::string vendor_spki_;
};

TEST_F(VendorCliTest, CertifiesASoftKeyStoreKeyAndItsTokensVerify) {
  const std::string appliance_uri = "soft:" + tmp_.path() + "/appliance.pem";
  auto appliance = NewKey(appliance_uri, true);
  ASSERT_TRUE(appliance);
  const std::string cert_path = tmp_.path() + "/cert.bin";
  CommandResult r = Vendor({"certify", "--vendor-key", vendor_uri(), "--insecure-dev-keys",
                            "--appliance-key-uri", appliance_uri, "--customer", "Example Corp",
                            "--days", "30", "--serial", "17", "--out", cert_path});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto cert_env = ReadCertificate(cert_path);
  auto cert = VerifyCertificate(cert_env, AsBytes(vendor_spki_), std::nullopt);
  ASSERT_TRUE(cert.ok()) << cert.status().ToString();
  EXPECT_EQ(cert->serial(), 17u);
  EXPECT_EQ(cert->not_after_ms() - cert->not_before_ms(), 30LL * 86'400'000);
  EXPECT_NE(r.out.find(cert->appliance_id()), std::string::npos) << r.out;
  ExpectTokenVerifies(*appliance, cert_env);
}

TEST_F(VendorCliTest, CertifiesASwtpmKeyAndItsTokensVerify) {
  Swtpm tpm(tmp_.path() + "/tpm");
  tpm.Start();
  const std::string appliance_uri = "tpm:tcti=" + tpm.tcti();
  auto appliance = NewKey(appliance_uri, false);
  ASSERT_TRUE(appliance);
  ASSERT_TRUE(appliance->capabilities().trusted_clock);
  const std::string cert_path = tmp_.path() + "/cert.bin";
  CommandResult r =
      Vendor({"certify", "--vendor-key", vendor_uri(), "--insecure-dev-keys", "--appliance-key-uri",
              appliance_uri, "--customer", "Example Corp", "--days", "365", "--out", cert_path});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  ExpectTokenVerifies(*appliance, ReadCertificate(cert_path));
}

TEST_F(VendorCliTest, CertifiesAnSpkiFile) {
  testing::TestKey appliance;
  const std::string spki_path = tmp_.path() + "/appliance.spki";
  WriteAll(spki_path, std::string(appliance.spki().begin(), appliance.spki().end()));
  const std::string cert_path = tmp_.path() + "/cert.bin";
  CommandResult r = Vendor({"certify", "--vendor-key", vendor_uri(), "--insecure-dev-keys",
                            "--appliance-key-spki", spki_path, "--customer", "Example Corp",
                            "--days", "1", "--out", cert_path});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto cert = VerifyCertificate(ReadCertificate(cert_path), AsBytes(vendor_spki_), std::nullopt);
  ASSERT_TRUE(cert.ok()) << cert.status().ToString();
  EXPECT_EQ(cert->appliance_id(), appliance.id());
  EXPECT_EQ(cert->customer(), "Example Corp");
}

TEST_F(VendorCliTest, RefusesBadRequests) {
  testing::TestKey appliance;
  const std::string spki_path = tmp_.path() + "/appliance.spki";
  WriteAll(spki_path, std::string(appliance.spki().begin(), appliance.spki().end()));
  const std::string out = tmp_.path() + "/cert.bin";
  // A soft: vendor key needs the explicit development flag.
  CommandResult r = Vendor({"certify", "--vendor-key", vendor_uri(), "--appliance-key-spki",
                            spki_path, "--customer", "C", "--days", "1", "--out", out});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("hsm.insecure_refused"), std::string::npos) << r.out;
  // Not a key.
  WriteAll(tmp_.path() + "/junk", "not a key");
  r = Vendor({"certify", "--vendor-key", vendor_uri(), "--insecure-dev-keys",
              "--appliance-key-spki", tmp_.path() + "/junk", "--customer", "C", "--days", "1",
              "--out", out});
  EXPECT_EQ(r.exit_code, 2) << r.out;
  r = Vendor({"certify", "--vendor-key", vendor_uri(), "--insecure-dev-keys",
              "--appliance-key-spki", spki_path, "--customer", "C", "--days", "0", "--out", out});
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_FALSE(std::filesystem::exists(out));
  // dev-init never overwrites a root key.
  r = Vendor({"dev-init", "--dir", root_dir_});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(ReadAll(root_dir_ + "/vendor-root.spki"), vendor_spki_);
}

TEST_F(VendorCliTest, AuditVerifyPassesAnUntouchedExportAndNamesTheFirstBadBlock) {
  testing::TestKey appliance;
  const std::string spki_path = tmp_.path() + "/appliance.spki";
  WriteAll(spki_path, std::string(appliance.spki().begin(), appliance.spki().end()));
  const std::string cert_path = tmp_.path() + "/cert.bin";
  ASSERT_EQ(Vendor({"certify", "--vendor-key", vendor_uri(), "--insecure-dev-keys",
                    "--appliance-key-spki", spki_path, "--customer", "C", "--days", "1", "--out",
                    cert_path})
                .exit_code,
            0);
  v1::AuditExport good = testing::MakeExport(appliance, ReadCertificate(cert_path), 4, 3);
  const std::string file = tmp_.path() + "/audit.bin";
  const std::string pub = root_dir_ + "/vendor-root.spki";
  WriteAll(file, good.SerializeAsString());
  CommandResult r = Vendor({"audit", "verify", file, "--vendor-pub", pub});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("OK: 4 block(s), 12 event(s), sequence 0..3"), std::string::npos) << r.out;

  v1::AuditExport tampered = good;
  tampered.mutable_blocks(2)->mutable_events(1)->back() ^= 0x01;
  WriteAll(file, tampered.SerializeAsString());
  r = Vendor({"audit", "verify", file, "--vendor-pub", pub});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("bad block 2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("audit.merkle_root_mismatch"), std::string::npos) << r.out;

  tampered = good;
  tampered.mutable_blocks()->DeleteSubrange(1, 1);
  WriteAll(file, tampered.SerializeAsString());
  r = Vendor({"audit", "verify", file, "--vendor-pub", pub});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("bad block 2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("audit.sequence_gap"), std::string::npos) << r.out;

  WriteAll(file, "\x01\x02garbage");
  r = Vendor({"audit", "verify", file, "--vendor-pub", pub});
  EXPECT_EQ(r.exit_code, 2) << r.out;
}

}  // namespace
}  // namespace tessera::audit
