// `tessera audit verify|show` on export files, run as a user runs them: the real binary, keys
// in soft: key store files, chains sealed with the audit library.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <sstream>

#include "hsm/crypto.h"
#include "protocol/audit/block.h"
#include "tests/integration/admin/admin_test_util.h"
#include "tests/support/temp_dir.h"

namespace tessera::admin::testing {
namespace {

using ::tessera::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Flips one byte of the block header's Merkle root, inside the signed payload.
void FlipHeaderByte(v1::AuditBlock& block) {
  v1::BlockHeader header;
  ASSERT_TRUE(header.ParseFromString(block.header().payload()));
  std::string* payload = block.mutable_header()->mutable_payload();
  size_t at = payload->find(header.merkle_root());
  ASSERT_NE(at, std::string::npos);
  (*payload)[at + 5] = static_cast<char>((*payload)[at + 5] ^ 0x01);
}

class AuditExportFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteBytes(vendor_pub_, std::string(vendor_.spki().begin(), vendor_.spki().end()));
    WriteBytes(appliance_pub_, std::string(appliance_.spki().begin(), appliance_.spki().end()));
  }

  ToolResult Cli(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {kCli};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunTool(argv, dir_.path());
  }

  const std::string kCli = TESSERA_CLI_PATH;

  std::string Write(const std::string& name, const v1::AuditExport& e) {
    std::filesystem::path p = dir_.File(name);
    WriteBytes(p, e.SerializeAsString());
    return p.string();
  }

  // `audit verify --export FILE --vendor-pub` with extra arguments.
  ToolResult VerifyExport(const v1::AuditExport& e, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"audit",           "verify",       "--export",
                                     Write("x.bin", e), "--vendor-pub", vendor_pub_.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return Cli(args);
  }

  TempDir dir_{"admin-audit"};
  SoftKey vendor_{dir_.File("vendor.pem")};
  SoftKey appliance_{dir_.File("appliance.pem")};
  v1::SignedEnvelope cert_ = Certify(vendor_, appliance_.spki());
  std::filesystem::path vendor_pub_ = dir_.File("vendor.spki");
  std::filesystem::path appliance_pub_ = dir_.File("appliance.spki");
  ChainBuilder chain_{appliance_};
};

TEST_F(AuditExportFileTest, VerifiesWithEachTrustAnchor) {
  const std::string file = Write("good.bin", MakeExport(chain_.SealMany(3, 4), &cert_));

  ToolResult r = Cli({"audit", "verify", "--export", file, "--vendor-pub", vendor_pub_.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("OK: 3 block(s), 12 event(s), sequence 0..2\n"));
  EXPECT_THAT(r.out, HasSubstr("appliance: " + appliance_.id()));
  EXPECT_THAT(r.out, HasSubstr("\"Example Corp\" (serial 42"));

  r = Cli({"audit", "verify", "--export", file, "--appliance-pub", appliance_pub_.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("OK: 3 block(s), 12 event(s), sequence 0..2\n"));

  r = Cli(
      {"audit", "verify", "--export", file, "--key-uri", appliance_.uri(), "--insecure-dev-keys"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("OK: 3 block(s)"));

  // PEM public keys, as `tessera key info` and `tessera-vendor dev-init` print them.
  std::filesystem::path vendor_pem = dir_.File("vendor.pub.pem");
  std::filesystem::path appliance_pem = dir_.File("appliance.pub.pem");
  WriteBytes(vendor_pem, hsm::SpkiToPem(vendor_.spki()).value());
  WriteBytes(appliance_pem, hsm::SpkiToPem(appliance_.spki()).value());
  r = Cli({"audit", "verify", "--export", file, "--vendor-pub", vendor_pem.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("OK: 3 block(s), 12 event(s), sequence 0..2\n"));
  r = Cli({"audit", "verify", "--export", file, "--appliance-pub", appliance_pem.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("OK: 3 block(s), 12 event(s), sequence 0..2\n"));

  // soft: is refused without the insecure option: bad usage, nothing verified.
  r = Cli({"audit", "verify", "--export", file, "--key-uri", appliance_.uri()});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("OK")));
}

TEST_F(AuditExportFileTest, CertificateComesFromTheExportOrAFile) {
  v1::AuditExport e = MakeExport(chain_.SealMany(2, 2), nullptr);
  ToolResult r = VerifyExport(e);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("FAILED: certificate: audit.bad_certificate_signature"));

  std::filesystem::path cert_file = dir_.File("cert.bin");
  WriteBytes(cert_file, cert_.SerializeAsString());
  r = VerifyExport(e, {"--certificate", cert_file.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("OK: 2 block(s), 4 event(s), sequence 0..1"));
}

TEST_F(AuditExportFileTest, WrongTrustAnchorFails) {
  const v1::AuditExport e = MakeExport(chain_.SealMany(2, 2), &cert_);
  SoftKey other_vendor(dir_.File("other-vendor.pem"));
  std::filesystem::path other_vendor_pub = dir_.File("other-vendor.spki");
  WriteBytes(other_vendor_pub, std::string(other_vendor.spki().begin(), other_vendor.spki().end()));
  ToolResult r = Cli({"audit", "verify", "--export", Write("e.bin", e), "--vendor-pub",
                      other_vendor_pub.string()});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("FAILED: certificate: audit.bad_certificate_signature"));

  SoftKey other_appliance(dir_.File("other-appliance.pem"));
  std::filesystem::path other_pub = dir_.File("other-appliance.spki");
  WriteBytes(other_pub, std::string(other_appliance.spki().begin(), other_appliance.spki().end()));
  r = Cli(
      {"audit", "verify", "--export", Write("e.bin", e), "--appliance-pub", other_pub.string()});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("FAILED: block 0 (position 0): audit.bad_header_signature"));

  // A certificate for another appliance, validly signed by the vendor.
  std::filesystem::path foreign_cert = dir_.File("foreign-cert.bin");
  WriteBytes(foreign_cert, Certify(vendor_, other_appliance.spki()).SerializeAsString());
  r = VerifyExport(e, {"--certificate", foreign_cert.string()});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("FAILED: block 0 (position 0): audit.bad_header_signature"));
}

TEST_F(AuditExportFileTest, TamperedExportsNameTheFirstBadBlock) {
  const std::vector<v1::AuditBlock> blocks = chain_.SealMany(4, 3);
  SoftKey intruder(dir_.File("intruder.pem"));
  ChainBuilder foreign(intruder);
  const std::vector<v1::AuditBlock> foreign_blocks = foreign.SealMany(4, 3);

  struct Case {
    const char* name;
    std::function<void(std::vector<v1::AuditBlock>&)> tamper;
    const char* expected;
  };
  const std::vector<Case> cases = {
      {"header byte", [](auto& b) { FlipHeaderByte(b[1]); },
       "FAILED: block 1 (position 1): audit.bad_header_signature"},
      {"event leaf",
       [](auto& b) {
         std::string* leaf = b[2].mutable_events(1);
         (*leaf)[leaf->size() - 1] = static_cast<char>((*leaf)[leaf->size() - 1] ^ 0x20);
       },
       "FAILED: block 2 (position 2): audit.merkle_root_mismatch"},
      {"event removed", [](auto& b) { b[2].mutable_events()->RemoveLast(); },
       "FAILED: block 2 (position 2): audit.merkle_root_mismatch"},
      {"block deleted", [](auto& b) { b.erase(b.begin() + 1); },
       "FAILED: block 2 (position 1): audit.sequence_gap"},
      {"blocks swapped", [](auto& b) { std::swap(b[1], b[2]); },
       "FAILED: block 2 (position 1): audit.out_of_order"},
      {"foreign block", [&](auto& b) { b[2] = foreign_blocks[2]; },
       "FAILED: block 2 (position 2): audit.bad_header_signature"},
      {"block repeated", [](auto& b) { b.insert(b.begin() + 2, b[1]); },
       "FAILED: block 1 (position 2): audit.out_of_order"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<v1::AuditBlock> copy = blocks;
    c.tamper(copy);
    ToolResult r = VerifyExport(MakeExport(copy, &cert_));
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_THAT(r.out, HasSubstr(c.expected)) << r.out;
    // The same through the appliance key and in pages of one block.
    r = Cli({"audit", "verify", "--export", Write("t.bin", MakeExport(copy, &cert_)),
             "--appliance-pub", appliance_pub_.string(), "--page-size", "1"});
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_THAT(r.out, HasSubstr(c.expected)) << r.out;
  }
  ToolResult untouched = VerifyExport(MakeExport(blocks, &cert_));
  EXPECT_EQ(untouched.exit_code, 0) << untouched.out;
}

// Pages are verified with the previous page's last block in front, so checks across a page
// boundary are as strict as within a page.
TEST_F(AuditExportFileTest, PagingKeepsEveryCheckAcrossPageBoundaries) {
  std::vector<v1::AuditBlock> blocks = chain_.SealMany(7, 2);
  for (const char* page : {"1", "2", "3", "1000"}) {
    SCOPED_TRACE(page);
    ToolResult r = VerifyExport(MakeExport(blocks, &cert_), {"--page-size", page});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_THAT(r.out, HasSubstr("OK: 7 block(s), 14 event(s), sequence 0..6"));
  }

  // Swapped across a page boundary: found later, so a reordering, not a gap.
  std::vector<v1::AuditBlock> swapped = blocks;
  std::swap(swapped[3], swapped[4]);
  ToolResult r = VerifyExport(MakeExport(swapped, &cert_), {"--page-size", "2"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("FAILED: block 4 (position 3): audit.out_of_order"));

  // A counter that goes back exactly at a page boundary.
  ChainBuilder rollback(appliance_);
  std::vector<v1::AuditBlock> rolled;
  rolled.push_back(rollback.Seal({Denial(appliance_.id(), 0)}, 3));
  rolled.push_back(rollback.Seal({Denial(appliance_.id(), 1)}, 5));
  rollback.ForgetCounter();
  rolled.push_back(rollback.Seal({Denial(appliance_.id(), 2)}, 4));
  for (const char* page : {"1", "2", "1000"}) {
    SCOPED_TRACE(page);
    r = VerifyExport(MakeExport(rolled, &cert_), {"--page-size", page});
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_THAT(r.out, HasSubstr("FAILED: block 2 (position 2): audit.clock_went_backwards"));
  }
}

TEST_F(AuditExportFileTest, FromLinksTheRangeToTheBlockBefore) {
  const std::vector<v1::AuditBlock> blocks = chain_.SealMany(5, 2);
  const v1::AuditExport whole = MakeExport(blocks, &cert_);
  ToolResult r = VerifyExport(whole, {"--from", "2"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("OK: 3 block(s), 6 event(s), sequence 2..4"));
  EXPECT_THAT(r.out, HasSubstr("linked to: block 1"));

  r = VerifyExport(whole, {"--from", "9"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("OK: 0 block(s), 0 event(s)"));

  // An export that starts at block 2 links to block 1's hash.
  std::vector<v1::AuditBlock> tail(blocks.begin() + 2, blocks.end());
  const audit::Digest link = audit::BlockHash(blocks[1].header());
  const std::string link_bytes(link.begin(), link.end());
  r = VerifyExport(MakeExport(tail, &cert_, link_bytes));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("OK: 3 block(s), 6 event(s), sequence 2..4"));

  const audit::Digest stale = audit::BlockHash(blocks[0].header());
  r = VerifyExport(MakeExport(tail, &cert_, std::string(stale.begin(), stale.end())));
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("FAILED: block 2 (position 0): audit.chain_broken"));
}

TEST_F(AuditExportFileTest, BadUsageAndUnreadableInputExitTwo) {
  const std::string file = Write("good.bin", MakeExport(chain_.SealMany(1, 1), &cert_));
  const std::string vendor = vendor_pub_.string();
  const std::filesystem::path pem = dir_.File("vendor.pem.pub");
  WriteBytes(pem, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
  const std::filesystem::path garbage = dir_.File("garbage.bin");
  WriteBytes(garbage, "\xff\xff\xff not a protobuf");
  const std::vector<std::vector<std::string>> cases = {
      {"audit", "verify", "--vendor-pub", vendor},
      {"audit", "verify", "--export", file},
      {"audit", "verify", "--export", file, "--vendor-pub", vendor, "--appliance-pub",
       appliance_pub_.string()},
      {"audit", "verify", "--export", file, "--db", file, "--vendor-pub", vendor},
      {"audit", "verify", "--export", dir_.File("missing.bin").string(), "--vendor-pub", vendor},
      {"audit", "verify", "--export", garbage.string(), "--vendor-pub", vendor},
      {"audit", "verify", "--export", file, "--vendor-pub", pem.string()},
      {"audit", "verify", "--export", file, "--appliance-pub", appliance_pub_.string(),
       "--certificate", file},
      {"audit", "verify", "--export", file, "--vendor-pub", vendor, "--page-size", "0"},
      {"audit", "verify", "--export", file, "--vendor-pub", vendor, "--from", "-1"},
      {"audit", "show", "--export", file, "--appliance-pub", appliance_pub_.string()},
      {"audit", "show", "--export", file, "--verify"},
      {"audit", "show"},
      {"audit", "frobnicate"},
  };
  for (const auto& args : cases) {
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    SCOPED_TRACE(joined);
    ToolResult r = Cli(args);
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_THAT(r.out, Not(HasSubstr("OK")));
  }
}

TEST_F(AuditExportFileTest, ShowPrintsOneReadableLinePerEvent) {
  std::vector<v1::AuditBlock> blocks;
  blocks.push_back(
      chain_.Seal({Grant(appliance_.id(), "L-1", "alice"), Denial(appliance_.id(), 7)}));
  blocks.push_back(chain_.Seal({Grant(appliance_.id(), "L-2", "bob smith")}));
  const std::string file = Write("show.bin", MakeExport(blocks, &cert_));

  ToolResult r = Cli({"audit", "show", "--export", file});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_EQ(lines[0],
            "2026-01-01T00:00:05.000Z block=0 LEASE_GRANTED feature=cad user=alice host=ws-1 "
            "lease=L-1 count=2 until=2026-01-01T00:01:05.000Z");
  EXPECT_EQ(lines[1],
            "2026-01-01T00:00:00.007Z block=0 CHECKOUT_DENIED feature=cad user=user7 "
            "host=host-7 count=1 reason=NO_SEATS detail=\"all 5 seats in use\"");
  EXPECT_THAT(lines[2], HasSubstr("block=1 LEASE_GRANTED feature=cad user=\"bob smith\""));

  r = Cli({"audit", "show", "--export", file, "--from", "1"});
  EXPECT_EQ(Lines(r.out).size(), 1u) << r.out;
  r = Cli({"audit", "show", "--export", file, "--limit", "2"});
  EXPECT_EQ(Lines(r.out).size(), 2u) << r.out;

  r = Cli({"audit", "show", "--export", file, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 3u);
  nlohmann::json first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first["block"], 0);
  EXPECT_EQ(first["index"], 0);
  EXPECT_EQ(first["kind"], "LEASE_GRANTED");
  EXPECT_EQ(first["user"], "alice");
  EXPECT_EQ(first["lease_id"], "L-1");
  EXPECT_EQ(first["count"], 2);
  EXPECT_EQ(first["time"], "2026-01-01T00:00:05.000Z");
  EXPECT_EQ(first["lease"]["expires_at"], "2026-01-01T00:01:05.000Z");
  nlohmann::json denial = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(denial["denial_reason"], "NO_SEATS");
  EXPECT_EQ(denial["detail"], "all 5 seats in use");
}

TEST_F(AuditExportFileTest, ShowEscapesControlCharacters) {
  const std::string evil = "eve\x1b[31m\nforged line\xc2\x9b";
  const std::string file =
      Write("evil.bin", MakeExport({chain_.Seal({Grant(appliance_.id(), "L-1", evil)})}, &cert_));
  ToolResult r = Cli({"audit", "show", "--export", file});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("\xc2\x9b"), std::string::npos) << r.out;
  EXPECT_EQ(Lines(r.out).size(), 1u) << r.out;
  EXPECT_THAT(r.out, HasSubstr(R"(user="eve\x1b[31m\nforged line\xc2\x9b")"));

  r = Cli({"audit", "show", "--export", file, "--json"});
  ASSERT_EQ(Lines(r.out).size(), 1u) << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out)["user"], evil);
}

TEST_F(AuditExportFileTest, ShowVerifyStopsAtTheFirstBadBlock) {
  std::vector<v1::AuditBlock> blocks = chain_.SealMany(3, 2);
  const std::string good = Write("good.bin", MakeExport(blocks, &cert_));
  ToolResult r =
      Cli({"audit", "show", "--export", good, "--verify", "--vendor-pub", vendor_pub_.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Lines(r.out).size(), 6u) << r.out;
  EXPECT_THAT(r.err, HasSubstr("verified: 3 block(s), 6 event(s), sequence 0..2"));

  FlipHeaderByte(blocks[2]);
  const std::string bad = Write("bad.bin", MakeExport(blocks, &cert_));
  r = Cli({"audit", "show", "--export", bad, "--verify", "--vendor-pub", vendor_pub_.string()});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(Lines(r.out).size(), 4u) << r.out;  // blocks 0 and 1 only
  EXPECT_THAT(r.err, HasSubstr("FAILED: block 2 (position 2): audit.bad_header_signature"));

  // Without --verify the tampered block is shown: show does not verify.
  r = Cli({"audit", "show", "--export", bad});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Lines(r.out).size(), 6u) << r.out;
}

}  // namespace
}  // namespace tessera::admin::testing
