// tesserad when its database cannot be written: no new grants (UNAVAILABLE), existing leases
// keep their stored expiry, and service resumes once the fault clears; online backup and
// restore into a fresh tesserad.
#include <gtest/gtest.h>
#include <csignal>
#include <cstdlib>

#include "tests/integration/store/store_test_util.h"

namespace tessera::testing {
namespace {

constexpr const char* kWide = R"({"features": [
    {"name": "cad", "seats": 100000, "lease_ttl_ms": 600000, "heartbeat_interval_ms": 60000}]})";

class FaultsTest : public ServerTest {
 protected:
  FaultsTest() { keep_database_ = true; }

  // Rewrites tesserad.json and sends SIGHUP; waits for the page cap to be applied `times`.
  void SetPageCap(std::uint64_t pages, int times) {
    dir_.Write("tesserad.json", R"({"store_resync_ms": 100, "store_max_page_count": )" +
                                    std::to_string(pages) + "}");
    ASSERT_TRUE(server_->Signal(SIGHUP).ok());
    ASSERT_TRUE(server_->WaitForLog("event=store_page_cap", 20s, times)) << server_->Log();
  }
};

TEST_F(FaultsTest, DiskFullDeniesGrantsKeepsLeasesAndRecovers) {
  StartServer(kWide, "", R"({"store_resync_ms": 100})");
  auto c = Client("c1");
  v1::Lease held = Grant(*c, Req("cad"));
  ASSERT_FALSE(held.lease_id().empty());
  SetPageCap(1, 1);  // SQLite caps at the current size: the next growth fails

  std::string detail;
  v1::DenialReason reason = v1::DENIAL_REASON_UNSPECIFIED;
  for (int i = 0; i < 5000 && reason == v1::DENIAL_REASON_UNSPECIFIED; ++i) {
    reason = DenialOf(*c, Req("cad"), &detail);
  }
  ASSERT_EQ(reason, v1::UNAVAILABLE) << "the database never filled up";
  EXPECT_NE(detail.find("database"), std::string::npos) << detail;
  EXPECT_EQ(DenialOf(*c, Req("cad")), v1::UNAVAILABLE);

  // The held lease keeps its meaning: a heartbeat reports the stored expiry, unchanged.
  auto hb = c->Heartbeat({held.lease_id()});
  ASSERT_TRUE(hb.ok());
  ASSERT_TRUE(hb->heartbeat_reply().results(0).renewed()) << hb->DebugString();
  EXPECT_EQ(hb->heartbeat_reply().results(0).expires_at_ms(), held.expires_at_ms());
  ASSERT_TRUE(server_->WaitForLog("event=store_fault", 10s));

  SetPageCap(0, 2);
  bool granted = false;
  for (int i = 0; i < 300 && !granted; ++i) {
    granted = DenialOf(*c, Req("cad")) == v1::DENIAL_REASON_UNSPECIFIED;
    if (!granted) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(granted) << server_->Log();
  EXPECT_TRUE(server_->WaitForLog("event=store_recovered", 10s));
  std::string log = server_->Log();
  EXPECT_EQ(log.find("event=store_fault"), log.rfind("event=store_fault")) << "logged twice";

  server_->Kill();
  ASSERT_TRUE(server_->Restart().ok());
  auto again = Client("c1");
  EXPECT_EQ(MyLeases(*again).count(held.lease_id()), 1u);
}

TEST_F(FaultsTest, BackupWhileServingRestoresIntoFreshServer) {
  StartServer();
  auto c = Client("c1");
  v1::Lease a = Grant(*c, Req("cad"));
  auto before = MyLeases(*c);
  std::string backup = dir_.File("backup.db").string();
  std::string cmd = TesseradBinary() + " backup --db " + server_->db_path().string() + " --to " +
                    backup + " 2>>" + dir_.File("backup.log").string();
  ASSERT_EQ(std::system(cmd.c_str()), 0) << ReadFile(dir_.File("backup.log"));
  EXPECT_EQ(DenialOf(*c, Req("cad")), v1::DENIAL_REASON_UNSPECIFIED);  // still serving
  ASSERT_NE(std::system(cmd.c_str()), 0);                              // never overwrites a backup

  TempDir fresh("restored");
  std::filesystem::copy_file(backup, fresh.File("tesserad.db"));
  TesseradOptions o;
  o.entitlement_json = kBasicEntitlement;
  o.keep_database = true;
  TesseradProcess restored(fresh.path(), o);
  ASSERT_TRUE(restored.Start().ok());
  RawClient rc;
  ASSERT_TRUE(rc.Connect(restored.port()).ok());
  ASSERT_TRUE(rc.Hello("c1").ok());
  EXPECT_EQ(MyLeases(rc), before);
}

}  // namespace
}  // namespace tessera::testing
