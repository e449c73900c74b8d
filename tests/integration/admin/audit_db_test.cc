// `tessera audit verify|show|export` on the database of a real tesserad: keys made with the
// real `tessera provision` and `tessera-vendor`, traffic over TCP, the database then
// tampered with through SQLite. Every tampering is named with the right block.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include <functional>
#include <sstream>

#include "hsm/crypto.h"
#include "hsm/key_store.h"
#include "server/store/audit_blocks.h"
#include "tests/integration/admin/admin_test_util.h"
#include "tests/support/raw_client.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tesserad_process.h"

namespace tessera::admin::testing {
namespace {

using ::tessera::testing::RawClient;
using ::tessera::testing::TempDir;
using ::tessera::testing::TesseradOptions;
using ::tessera::testing::TesseradProcess;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kEntitlement[] = R"({
  "features": [
    {"name": "cad", "version_min": "1.0", "version_max": "3.0", "seats": 2,
     "lease_ttl_ms": 60000, "heartbeat_interval_ms": 20000}
  ]
})";

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// A SQLite connection for tampering. Aborts the test on any error.
class Sql {
 public:
  explicit Sql(const std::filesystem::path& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) ADD_FAILURE() << sqlite3_errmsg(db_);
  }
  ~Sql() { sqlite3_close(db_); }
  Sql(const Sql&) = delete;
  Sql& operator=(const Sql&) = delete;

  void Exec(const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << (error ? error : "?");
    }
    sqlite3_free(error);
  }

  // The first column of the first row of `sql` with `?` bound to `arg`.
  std::string Blob(const std::string& sql, int64_t arg) {
    sqlite3_stmt* s = Prepare(sql);
    sqlite3_bind_int64(s, 1, arg);
    std::string out;
    if (sqlite3_step(s) == SQLITE_ROW) {
      const void* data = sqlite3_column_blob(s, 0);
      out.assign(static_cast<const char*>(data), static_cast<size_t>(sqlite3_column_bytes(s, 0)));
    } else {
      ADD_FAILURE() << "no row: " << sql << " " << arg;
    }
    sqlite3_finalize(s);
    return out;
  }

  // Runs `sql` with ?1 = blob, ?2 = a, ?3 = b.
  void Run(const std::string& sql, const std::string& blob, int64_t a, int64_t b = 0) {
    sqlite3_stmt* s = Prepare(sql);
    sqlite3_bind_blob(s, 1, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, a);
    sqlite3_bind_int64(s, 3, b);
    if (sqlite3_step(s) != SQLITE_DONE) ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
    sqlite3_finalize(s);
  }

 private:
  sqlite3_stmt* Prepare(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
    }
    return s;
  }

  sqlite3* db_ = nullptr;
};

// Header and leaves of two rows trade places; the sequence column stays.
void SwapRows(Sql& db, int64_t a, int64_t b) {
  const std::string ha = db.Blob("SELECT header FROM audit_blocks WHERE sequence = ?", a);
  const std::string hb = db.Blob("SELECT header FROM audit_blocks WHERE sequence = ?", b);
  db.Run("UPDATE audit_blocks SET header = ?1 WHERE sequence = ?2", hb, a);
  db.Run("UPDATE audit_blocks SET header = ?1 WHERE sequence = ?2", ha, b);
  db.Run("UPDATE audit_leaves SET sequence = -1 WHERE sequence = ?2", "", a);
  db.Run("UPDATE audit_leaves SET sequence = ?2 WHERE sequence = ?3", "", a, b);
  db.Run("UPDATE audit_leaves SET sequence = ?2 WHERE sequence = -1", "", b);
}

// Replaces a row's header and leaves with `block`.
void ReplaceRow(Sql& db, int64_t row, const v1::AuditBlock& block) {
  db.Run("UPDATE audit_blocks SET header = ?1 WHERE sequence = ?2",
         block.header().SerializeAsString(), row);
  db.Run("DELETE FROM audit_leaves WHERE sequence = ?2", "", row);
  for (int i = 0; i < block.events_size(); ++i) {
    db.Run("INSERT INTO audit_leaves (sequence, idx, leaf) VALUES (?2, ?3, ?1)", block.events(i),
           row, i);
  }
}

class AuditDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_.File("server"));
    ToolResult r = Vendor({"dev-init", "--dir", dir_.File("vendor").string()});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    r = Cli({"provision", "--key-uri", key_uri_, "--insecure-dev-keys"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    r = Vendor({"certify", "--vendor-key", "soft:" + dir_.File("vendor/vendor-root.pem").string(),
                "--insecure-dev-keys", "--appliance-key-uri", key_uri_, "--customer",
                "Example Corp", "--days", "30", "--out", cert_.string()});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    auto store = hsm::OpenKeyStore(key_uri_, {.allow_insecure = true});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto spki = (*store)->PublicKeyDer();
    ASSERT_TRUE(spki.ok());
    WriteBytes(appliance_pub_, std::string(spki->begin(), spki->end()));
    appliance_id_ = hsm::ApplianceId(*spki);

    TesseradOptions options;
    options.entitlement_json = kEntitlement;
    options.keep_database = true;
    options.extra_args = {"--key-uri", key_uri_, "--insecure-dev-keys", "--certificate",
                          cert_.string()};
    server_ = std::make_unique<TesseradProcess>(dir_.File("server"), options);
    Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
    ASSERT_NO_FATAL_FAILURE(MakeTraffic());
    auto stopped = server_->Stop();
    ASSERT_TRUE(stopped.ok() && *stopped == 0) << server_->Log();
    Count();
  }

  void TearDown() override {
    if (HasFailure() && server_) std::cerr << "---- tesserad.log ----\n" << server_->Log();
  }

  std::unique_ptr<RawClient> Client(const std::string& id, const std::string& user,
                                    const std::string& host) {
    auto c = std::make_unique<RawClient>();
    EXPECT_TRUE(c->Connect(server_->port()).ok());
    auto hello = c->Hello(id, user, host);
    EXPECT_TRUE(hello.ok() && hello->has_hello_reply());
    return c;
  }

  static std::string Grant(RawClient& c) {
    auto r = c.Checkout("cad", "1.0");
    EXPECT_TRUE(r.ok() && r->checkout_reply().has_granted()) << (r.ok() ? r->DebugString() : "");
    return r.ok() ? r->checkout_reply().granted().lease_id() : "";
  }

  static void Release(RawClient& c, const std::string& lease) {
    auto r = c.Checkin(lease);
    EXPECT_TRUE(r.ok() && r->checkin_reply().released()) << (r.ok() ? r->DebugString() : "");
  }

  // Sequential requests, so each commits a batch of its own: several blocks.
  void MakeTraffic() {
    auto alice = Client("c-alice", "alice", "ws1");
    auto bob = Client("c-bob", "bob", "ws2");
    auto carol = Client("c-carol", "carol", "ws3");
    const std::string a = Grant(*alice);
    const std::string b = Grant(*bob);
    auto denied = carol->Checkout("cad", "1.0");
    ASSERT_TRUE(denied.ok() && denied->checkout_reply().has_denied());
    Release(*alice, a);
    const std::string c = Grant(*carol);
    Release(*bob, b);
    Release(*carol, c);
  }

  void Count() {
    auto blocks = store::ReadAuditBlocks(db_.string(), 0, 100'000);
    ASSERT_TRUE(blocks.ok()) << blocks.status().ToString();
    blocks_ = blocks->size();
    for (const auto& b : *blocks) events_ += static_cast<size_t>(b.events_size());
    ASSERT_GE(blocks_, 6u) << "too few blocks for the tamper cases";
  }

  std::string AllOk() const {
    return "OK: " + std::to_string(blocks_) + " block(s), " + std::to_string(events_) +
           " event(s), sequence 0.." + std::to_string(blocks_ - 1) + "\n";
  }

  // A consistent copy of the database to tamper with.
  std::filesystem::path Copy(const std::string& name) {
    std::filesystem::path copy = dir_.File(name);
    std::filesystem::remove(copy);
    Sql(db_).Exec("VACUUM INTO '" + copy.string() + "'");
    return copy;
  }

  ToolResult Cli(const std::vector<std::string>& args) { return Run(cli_, args); }
  ToolResult Vendor(const std::vector<std::string>& args) { return Run(vendor_, args); }
  ToolResult Run(const std::string& binary, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {binary};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunTool(argv, dir_.path());
  }

  ToolResult VerifyDb(const std::filesystem::path& db, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"audit",     "verify",       "--db",
                                     db.string(), "--vendor-pub", vendor_pub_.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return Cli(args);
  }

  const std::string cli_ = TESSERA_CLI_PATH;
  const std::string vendor_ = TESSERA_VENDOR_PATH;
  TempDir dir_{"admin-audit-db"};
  const std::string key_uri_ = "soft:" + dir_.File("identity.pem").string();
  const std::filesystem::path cert_ = dir_.File("appliance.cert");
  const std::filesystem::path vendor_pub_ = dir_.File("vendor/vendor-root.spki");
  const std::filesystem::path appliance_pub_ = dir_.File("appliance.spki");
  const std::filesystem::path db_ = dir_.File("server/tesserad.db");
  std::string appliance_id_;
  std::unique_ptr<TesseradProcess> server_;
  size_t blocks_ = 0;
  size_t events_ = 0;
};

TEST_F(AuditDbTest, TheUntouchedDatabaseVerifiesWithEachTrustAnchor) {
  ToolResult r = VerifyDb(db_);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr(AllOk()));
  EXPECT_THAT(r.out, HasSubstr("appliance: " + appliance_id_));
  EXPECT_THAT(r.out, HasSubstr("\"Example Corp\""));

  r = VerifyDb(db_, {"--certificate", cert_.string(), "--page-size", "2"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr(AllOk()));

  r = Cli({"audit", "verify", "--db", db_.string(), "--appliance-pub", appliance_pub_.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr(AllOk()));

  r = Cli({"audit", "verify", "--db", db_.string(), "--key-uri", key_uri_, "--insecure-dev-keys",
           "--page-size", "1"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr(AllOk()));

  r = VerifyDb(db_, {"--from", "2"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("OK: " + std::to_string(blocks_ - 2) + " block(s)"));
  EXPECT_THAT(r.out, HasSubstr("sequence 2.." + std::to_string(blocks_ - 1)));
  EXPECT_THAT(r.out, HasSubstr("linked to: block 1"));
}

TEST_F(AuditDbTest, VerifiesWhileTesseradRuns) {
  ASSERT_TRUE(server_->Restart().ok()) << server_->Log();
  auto dave = Client("c-dave", "dave", "ws4");
  Grant(*dave);
  ToolResult r = VerifyDb(db_, {"--page-size", "3"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("OK: "));
  auto stopped = server_->Stop();
  ASSERT_TRUE(stopped.ok() && *stopped == 0);
}

TEST_F(AuditDbTest, WrongTrustAnchorsFail) {
  ToolResult r = Vendor({"dev-init", "--dir", dir_.File("other-vendor").string()});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  r = Cli({"audit", "verify", "--db", db_.string(), "--vendor-pub",
           dir_.File("other-vendor/vendor-root.spki").string()});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("FAILED: certificate: audit.bad_certificate_signature"));

  SoftKey other(dir_.File("other-appliance.pem"));
  WriteBytes(dir_.File("other.spki"), std::string(other.spki().begin(), other.spki().end()));
  r = Cli({"audit", "verify", "--db", db_.string(), "--appliance-pub",
           dir_.File("other.spki").string()});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("FAILED: block 0 (position 0): audit.bad_header_signature"));

  r = Cli({"audit", "verify", "--db", db_.string(), "--key-uri",
           "soft:" + dir_.File("other-appliance.pem").string(), "--insecure-dev-keys"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("FAILED: block 0 (position 0): audit.bad_header_signature"));
}

TEST_F(AuditDbTest, EveryTamperingIsNamedWithItsBlock) {
  SoftKey intruder(dir_.File("intruder.pem"));
  ChainBuilder foreign_chain(intruder);
  const std::vector<v1::AuditBlock> foreign = foreign_chain.SealMany(3, 2);
  // A certificate the same vendor issued to another appliance.
  ToolResult certified =
      Vendor({"certify", "--vendor-key", "soft:" + dir_.File("vendor/vendor-root.pem").string(),
              "--insecure-dev-keys", "--appliance-key-uri", intruder.uri(), "--customer",
              "Other Corp", "--days", "30", "--out", dir_.File("intruder.cert").string()});
  ASSERT_EQ(certified.exit_code, 0) << certified.out << certified.err;
  const std::string intruder_cert = ReadBytes(dir_.File("intruder.cert"));

  struct Case {
    const char* name;
    std::function<void(Sql&)> tamper;
    const char* expected;
    std::vector<std::string> page_sizes;
  };
  const std::vector<Case> cases = {
      {"header byte",
       [](Sql& db) {
         v1::SignedEnvelope header;
         ASSERT_TRUE(header.ParseFromString(
             db.Blob("SELECT header FROM audit_blocks WHERE sequence = ?", 2)));
         std::string* payload = header.mutable_payload();
         (*payload)[payload->size() / 2] = static_cast<char>((*payload)[payload->size() / 2] ^ 1);
         db.Run("UPDATE audit_blocks SET header = ?1 WHERE sequence = ?2",
                header.SerializeAsString(), 2);
       },
       "FAILED: block 2 (position 2): audit.bad_header_signature",
       {"1000", "2"}},
      {"header not an envelope",
       [](Sql& db) {
         db.Run("UPDATE audit_blocks SET header = ?1 WHERE sequence = ?2", "\xff\xff\xff", 2);
       },
       "FAILED: block 2 (position 2): audit.malformed: database ",
       {"1000", "2"}},
      {"event leaf",
       [](Sql& db) {
         v1::AuditEvent event;
         ASSERT_TRUE(event.ParseFromString(
             db.Blob("SELECT leaf FROM audit_leaves WHERE sequence = ? AND idx = 0", 3)));
         event.set_user("mallory");
         db.Run("UPDATE audit_leaves SET leaf = ?1 WHERE sequence = ?2 AND idx = 0",
                event.SerializeAsString(), 3);
       },
       "FAILED: block 3 (position 3): audit.merkle_root_mismatch",
       {"1000", "2"}},
      {"block deleted",
       [](Sql& db) {
         db.Exec("DELETE FROM audit_leaves WHERE sequence = 2");
         db.Exec("DELETE FROM audit_blocks WHERE sequence = 2");
       },
       "FAILED: block 3 (position 2): audit.sequence_gap",
       {"1000", "2"}},
      {"rows swapped",
       [](Sql& db) { SwapRows(db, 2, 3); },
       "FAILED: block 3 (position 2): audit.out_of_order",
       {"1000", "2"}},
      // Rows 3 and 4 fall in different pages of two blocks.
      {"rows swapped across pages",
       [](Sql& db) { SwapRows(db, 3, 4); },
       "FAILED: block 4 (position 3): audit.out_of_order",
       {"1000", "2"}},
      {"block of another appliance",
       [&](Sql& db) { ReplaceRow(db, 2, foreign[2]); },
       "FAILED: block 2 (position 2): audit.bad_header_signature",
       {"1000", "2"}},
      {"certificate of another appliance",
       [&](Sql& db) {
         db.Run("UPDATE appliance SET certificate = ?1 WHERE id = ?2", intruder_cert, 1);
       },
       "FAILED: block 0 (position 0): audit.bad_header_signature",
       {"1000"}},
  };
  int n = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::filesystem::path copy = Copy("tampered-" + std::to_string(n++) + ".db");
    {
      Sql db(copy);
      c.tamper(db);
    }
    for (const std::string& page : c.page_sizes) {
      SCOPED_TRACE("page size " + page);
      ToolResult r = VerifyDb(copy, {"--page-size", page});
      EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
      EXPECT_THAT(r.out, HasSubstr(c.expected)) << r.out;
      EXPECT_THAT(r.out, Not(HasSubstr("OK")));
    }
  }
  // The untouched copy passes.
  ToolResult r = VerifyDb(Copy("untouched.db"));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr(AllOk()));
}

TEST_F(AuditDbTest, ShowListsTheTraffic) {
  ToolResult r = Cli({"audit", "show", "--db", db_.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = Lines(r.out);
  EXPECT_EQ(lines.size(), events_) << r.out;
  EXPECT_THAT(r.out, HasSubstr("APPLIANCE_STARTED"));
  EXPECT_THAT(r.out, HasSubstr(" LEASE_GRANTED feature=cad user=alice host=ws1 lease="));
  EXPECT_THAT(r.out, HasSubstr(" CHECKOUT_DENIED feature=cad user=carol host=ws3"));
  EXPECT_THAT(r.out, HasSubstr("reason=NO_SEATS"));
  EXPECT_THAT(r.out, HasSubstr(" LEASE_RELEASED feature=cad user=bob host=ws2"));

  r = Cli({"audit", "show", "--db", db_.string(), "--json", "--from", "1", "--limit", "3",
           "--page-size", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  uint64_t previous_block = 0;
  for (const std::string& line : lines) {
    nlohmann::json j = nlohmann::json::parse(line);
    EXPECT_GE(j["block"].get<uint64_t>(), std::max<uint64_t>(1, previous_block));
    previous_block = j["block"].get<uint64_t>();
    EXPECT_EQ(j["appliance_id"], appliance_id_);
  }

  r = Cli(
      {"audit", "show", "--db", db_.string(), "--verify", "--vendor-pub", vendor_pub_.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Lines(r.out).size(), events_);
  EXPECT_THAT(r.err, HasSubstr("verified: " + std::to_string(blocks_) + " block(s)"));
}

TEST_F(AuditDbTest, ExportsAreAcceptedByTheVendor) {
  const std::string out = dir_.File("audit.bin").string();
  ToolResult r = Cli({"audit", "export", "--db", db_.string(), "--out", out, "--page-size", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("exported: " + std::to_string(blocks_) + " block(s)"));
  EXPECT_THAT(r.out, HasSubstr("certificate: included"));
  r = Vendor({"audit", "verify", out, "--vendor-pub", vendor_pub_.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr(AllOk()));
  r = Cli({"audit", "verify", "--export", out, "--vendor-pub", vendor_pub_.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr(AllOk()));

  // A later range links to the block before it; the vendor verifies it from there.
  const std::string tail = dir_.File("tail.bin").string();
  r = Cli({"audit", "export", "--db", db_.string(), "--out", tail, "--from", "3", "--certificate",
           cert_.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = Vendor({"audit", "verify", tail, "--vendor-pub", vendor_pub_.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("OK: " + std::to_string(blocks_ - 3) + " block(s)"));
  EXPECT_THAT(r.out, HasSubstr("sequence 3.." + std::to_string(blocks_ - 1)));

  const std::string two = dir_.File("two.bin").string();
  r = Cli({"audit", "export", "--db", db_.string(), "--out", two, "--from", "1", "--limit", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = Vendor({"audit", "verify", two, "--vendor-pub", vendor_pub_.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("OK: 2 block(s)"));
  EXPECT_THAT(r.out, HasSubstr("sequence 1..2"));

  // An export of a tampered database: the vendor names the bad block.
  const std::filesystem::path bad_db = Copy("bad.db");
  {
    Sql db(bad_db);
    v1::AuditEvent event;
    ASSERT_TRUE(event.ParseFromString(
        db.Blob("SELECT leaf FROM audit_leaves WHERE sequence = ? AND idx = 0", 3)));
    event.set_count(event.count() + 1);
    db.Run("UPDATE audit_leaves SET leaf = ?1 WHERE sequence = ?2 AND idx = 0",
           event.SerializeAsString(), 3);
  }
  const std::string bad = dir_.File("bad.bin").string();
  r = Cli({"audit", "export", "--db", bad_db.string(), "--out", bad});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = Vendor({"audit", "verify", bad, "--vendor-pub", vendor_pub_.string()});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("bad block 3 (position 3): audit.merkle_root_mismatch"));

  // No export starts where the block before is missing; nothing is left behind.
  const std::filesystem::path gap_db = Copy("gap.db");
  Sql(gap_db).Exec(
      "DELETE FROM audit_leaves WHERE sequence = 2; DELETE FROM audit_blocks WHERE "
      "sequence = 2;");
  const std::filesystem::path refused = dir_.File("refused.bin");
  r = Cli({"audit", "export", "--db", gap_db.string(), "--out", refused.string(), "--from", "3"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("block 2 is not in the database"));
  EXPECT_FALSE(std::filesystem::exists(refused));
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
    EXPECT_EQ(entry.path().string().find(".tmp."), std::string::npos) << entry.path();
  }
  r = Cli({"audit", "export", "--db", dir_.File("missing.db").string(), "--out", out});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
}

// The monotonic counter advances at every export made with the key store, and the database
// records it: a copy of the database from before the export is detected afterwards.
TEST_F(AuditDbTest, AnExportAdvancesTheCounterSoACopyFromBeforeItIsDetected) {
  const std::filesystem::path backup = Copy("before-export.db");
  const std::string out = dir_.File("counted.bin").string();
  ToolResult r = Cli({"audit", "export", "--db", db_.string(), "--out", out, "--key-uri", key_uri_,
                      "--insecure-dev-keys"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("counter: advanced to "));
  v1::AuditExport exported;
  ASSERT_TRUE(exported.ParseFromString(ReadBytes(out)));
  const uint64_t first = exported.counter_advanced_to();
  EXPECT_GT(first, 0u);
  // An export that cannot be made changes nothing: a mistyped database is not created and
  // the counter stays where it was.
  const std::filesystem::path typo = dir_.File("no-such.db");
  r = Cli({"audit", "export", "--db", typo.string(), "--out", out + ".x", "--key-uri", key_uri_,
           "--insecure-dev-keys"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_FALSE(std::filesystem::exists(typo));
  r = Cli({"audit", "export", "--db", db_.string(), "--out", out, "--key-uri", key_uri_,
           "--insecure-dev-keys"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_TRUE(exported.ParseFromString(ReadBytes(out)));
  EXPECT_EQ(exported.counter_advanced_to(), first + 1);
  // Without the key store the export still works, says the counter did not move, and the
  // file says so too.
  r = Cli({"audit", "export", "--db", db_.string(), "--out", out});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("not advanced"));
  ASSERT_TRUE(exported.ParseFromString(ReadBytes(out)));
  EXPECT_EQ(exported.counter_advanced_to(), 0u);

  // The copy from before the exports comes back: tesserad refuses seats ...
  for (const char* suffix : {"-wal", "-shm"}) std::filesystem::remove(db_.string() + suffix);
  std::filesystem::copy_file(backup, db_, std::filesystem::copy_options::overwrite_existing);
  ASSERT_TRUE(server_->Restart().ok()) << server_->Log();
  EXPECT_TRUE(server_->WaitForLog("event=rollback_detected", std::chrono::seconds(5)));
  auto c = Client("c-after", "alice", "ws1");
  auto denied = c->Checkout("cad", "1.0");
  ASSERT_TRUE(denied.ok() && denied->checkout_reply().has_denied());
  EXPECT_EQ(denied->checkout_reply().denied().reason(), v1::UNAVAILABLE);
  c.reset();
  auto stopped = server_->Stop();
  ASSERT_TRUE(stopped.ok() && *stopped == 0) << server_->Log();
  // ... and an export of it is refused, with nothing written.
  const std::filesystem::path refused = dir_.File("refused.bin");
  r = Cli({"audit", "export", "--db", db_.string(), "--out", refused.string(), "--key-uri",
           key_uri_, "--insecure-dev-keys"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("ROLLBACK: "));
  EXPECT_FALSE(std::filesystem::exists(refused));
}

TEST_F(AuditDbTest, AnExportWhileTesseradRunsIsNotMistakenForARollback) {
  ASSERT_TRUE(server_->Restart().ok()) << server_->Log();
  const std::string out = dir_.File("live.bin").string();
  ToolResult r = Cli({"audit", "export", "--db", db_.string(), "--out", out, "--key-uri", key_uri_,
                      "--insecure-dev-keys"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto stopped = server_->Stop();
  ASSERT_TRUE(stopped.ok() && *stopped == 0) << server_->Log();
  ASSERT_TRUE(server_->Restart().ok()) << server_->Log();
  auto c = Client("c-live", "alice", "ws1");
  EXPECT_FALSE(Grant(*c).empty());
  EXPECT_THAT(server_->Log(), Not(HasSubstr("event=rollback_detected")));
}

}  // namespace
}  // namespace tessera::admin::testing
