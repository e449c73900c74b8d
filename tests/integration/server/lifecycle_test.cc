// Process lifecycle: SIGTERM drains (ServerDraining push, exit 0), SIGHUP reloads rules and
// entitlement without dropping leases, revocations are pushed, and bad files or flags give
// the documented exit codes.
#include <gtest/gtest.h>

#include <csignal>

#include "tests/integration/server/server_test_util.h"

namespace tessera::testing {
namespace {

namespace v1 = tessera::v1;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST_F(ServerTest, SigtermDrainsAndExitsZero) {
  StartServer(kBasicEntitlement, "", R"({"drain_grace_ms": 10000})");
  auto c = Client("c1");
  auto lease = c->Checkout("cad", "1.0");
  ASSERT_TRUE(lease->checkout_reply().has_granted());
  ASSERT_TRUE(server_->Signal(SIGTERM).ok());
  auto push = c->ReadBody(v1::Frame::kServerDraining);
  ASSERT_TRUE(push.ok()) << push.status().ToString();
  EXPECT_EQ(push->request_id(), 0u);
  EXPECT_EQ(push->server_draining().grace_ms(), 10000u);
  // In-flight and new non-checkout work is still served while draining.
  auto in = c->Checkin(lease->checkout_reply().granted().lease_id());
  ASSERT_TRUE(in.ok());
  EXPECT_TRUE(in->checkin_reply().released());
  auto st = c->StatusQuery();
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(st->status_reply().draining());
  // New connections are no longer accepted.
  RawClient late;
  bool refused = !late.Connect(server_->port()).ok() || late.WaitClosed(seconds(5)) ||
                 !late.Hello("late").ok();
  EXPECT_TRUE(refused);
  // The last client leaves; the server exits 0 well before the grace ends.
  c->Close();
  auto code = server_->WaitExit(seconds(8));
  ASSERT_TRUE(code.ok()) << code.status().ToString();
  EXPECT_EQ(*code, 0);
  EXPECT_NE(server_->Log().find("event=stopped"), std::string::npos);
}

TEST_F(ServerTest, SigtermClosesClientsThatStayAfterTheGrace) {
  StartServer(kBasicEntitlement, "", R"({"drain_grace_ms": 300})");
  auto c = Client("c1");
  auto stays = Client("c2", "bob");
  auto code = server_->Stop(seconds(20));
  ASSERT_TRUE(code.ok()) << code.status().ToString();
  EXPECT_EQ(*code, 0);
  EXPECT_TRUE(c->ReadBody(v1::Frame::kServerDraining).ok());
  EXPECT_TRUE(stays->WaitClosed(seconds(5)));
}

TEST_F(ServerTest, SighupReloadsRulesWithoutDroppingLeases) {
  StartServer(kBasicEntitlement, "{}");
  auto bob = Client("bob-app", "bob");
  auto lease = bob->Checkout("cad", "1.0");
  ASSERT_TRUE(lease->checkout_reply().has_granted());
  const std::string id = lease->checkout_reply().granted().lease_id();

  server_->WriteRules(R"({"deny": [{"feature": "cad", "user": "bob"}]})");
  ASSERT_TRUE(server_->Signal(SIGHUP).ok());
  ASSERT_TRUE(server_->WaitForLog("event=reload_done", seconds(10)));

  auto denied = bob->Checkout("cad", "1.0");
  ASSERT_TRUE(denied->checkout_reply().has_denied()) << denied->DebugString();
  EXPECT_EQ(denied->checkout_reply().denied().reason(), v1::DENIED_BY_RULE);
  auto hb = bob->Heartbeat({id});
  ASSERT_TRUE(hb.ok());
  EXPECT_TRUE(hb->heartbeat_reply().results(0).renewed()) << hb->DebugString();
  auto alice = Client("alice-app", "alice");
  EXPECT_TRUE(alice->Checkout("cad", "1.0")->checkout_reply().has_granted());
}

TEST_F(ServerTest, ReloadRemovingAFeaturePushesLeaseRevoked) {
  StartServer(R"({"features": [{"name": "cad", "seats": 2}, {"name": "cam", "seats": 2}]})");
  auto c = Client("c1");
  auto lease = c->Checkout("cam", "1.0");
  ASSERT_TRUE(lease->checkout_reply().has_granted());
  server_->WriteEntitlement(R"({"features": [{"name": "cad", "seats": 2}]})");
  ASSERT_TRUE(server_->Signal(SIGHUP).ok());
  auto push = c->ReadBody(v1::Frame::kLeaseRevoked);
  ASSERT_TRUE(push.ok()) << push.status().ToString();
  EXPECT_EQ(push->lease_revoked().lease_id(), lease->checkout_reply().granted().lease_id());
  EXPECT_EQ(c->Heartbeat({push->lease_revoked().lease_id()})->heartbeat_reply().results(0).lost(),
            v1::LEASE_REVOKED);
}

TEST_F(ServerTest, BadReloadKeepsServingThePreviousFiles) {
  StartServer();
  auto c = Client("c1");
  server_->WriteEntitlement(R"({"features": [{"name": "cad", "seats": "many"}]})");
  ASSERT_TRUE(server_->Signal(SIGHUP).ok());
  ASSERT_TRUE(server_->WaitForLog("event=reload_failed", seconds(10)));
  EXPECT_NE(server_->Log().find("features[0].seats"), std::string::npos);
  EXPECT_TRUE(c->Checkout("cad", "1.0")->checkout_reply().has_granted());
}

// Starts tesserad expecting it to fail, and returns the status Start() reports.
::tessera::Status StartExpectingFailure(const std::filesystem::path& dir, TesseradOptions o) {
  TesseradProcess p(dir, std::move(o));
  return p.Start();
}

TEST(ServerExitCodes, BadFilesAndFlags) {
  TempDir dir("exit");
  TesseradOptions bad_entitlement;
  bad_entitlement.entitlement_json = R"({"features": [{"name": "x", "seets": 1}]})";
  auto s = StartExpectingFailure(dir.path(), bad_entitlement);
  EXPECT_NE(s.message().find("exited with 3"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("features[0].seets: unknown field"), std::string::npos);

  TesseradOptions bad_config;
  bad_config.config_json = R"({"max_conections": 5})";
  s = StartExpectingFailure(dir.path(), bad_config);
  EXPECT_NE(s.message().find("exited with 3"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("max_conections"), std::string::npos);

  TesseradOptions bad_rules;
  bad_rules.rules_json = R"({"deny": [{"feature": "x"}]})";
  s = StartExpectingFailure(dir.path(), bad_rules);
  EXPECT_NE(s.message().find("exited with 3"), std::string::npos) << s.ToString();

  TesseradOptions bad_flag;
  bad_flag.extra_args = {"--no-such-flag"};
  s = StartExpectingFailure(dir.path(), bad_flag);
  EXPECT_NE(s.message().find("exited with 2"), std::string::npos) << s.ToString();
}

TEST(ServerExitCodes, PortInUse) {
  TempDir dir("exit");
  TesseradProcess first(dir.path(), TesseradOptions{});
  ASSERT_TRUE(first.Start().ok());
  TempDir dir2("exit");
  TesseradOptions o;
  o.extra_args = {"--listen", "127.0.0.1:" + std::to_string(first.port())};
  TesseradProcess second(dir2.path(), o);
  auto s = second.Start();
  EXPECT_NE(s.message().find("exited with 4"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("cannot_listen"), std::string::npos);
}

}  // namespace
}  // namespace tessera::testing
