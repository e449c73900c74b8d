// tesserad restarted (SIGKILL or SIGTERM) keeps every lease with its expiry, resumes it as
// the same lease, grants no second seat, and keeps metered counts and named-user bindings.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "tests/integration/store/store_test_util.h"

namespace tessera::testing {
namespace {

class RestartTest : public ServerTest {
 protected:
  RestartTest() { keep_database_ = true; }
};

TEST_F(RestartTest, KilledServerKeepsLeasesAndResumesThem) {
  StartServer();
  auto c = Client("c1");
  v1::Lease a = Grant(*c, Req("cad"));
  v1::Lease b = Grant(*c, Req("cad"));
  ASSERT_FALSE(a.lease_id().empty());
  ASSERT_FALSE(b.lease_id().empty());
  std::map<std::string, std::int64_t> before = MyLeases(*c);
  ASSERT_EQ(before.size(), 2u);

  server_->Kill();
  ASSERT_TRUE(server_->Restart().ok());
  auto again = Client("c1");
  EXPECT_EQ(MyLeases(*again), before);  // same ids, same expiries

  v1::CheckoutRequest resume = Req("cad");
  resume.set_resume_lease_id(a.lease_id());
  v1::Lease resumed = Grant(*again, resume);
  EXPECT_EQ(resumed.lease_id(), a.lease_id());
  auto other = Client("c2", "bob");
  EXPECT_EQ(DenialOf(*other, Req("cad")), v1::NO_SEATS);  // both seats still held
  EXPECT_EQ(FeatureOf(*other, "cad").in_use(), 2u);
  auto hb = again->Heartbeat({b.lease_id()});
  ASSERT_TRUE(hb.ok());
  EXPECT_TRUE(hb->heartbeat_reply().results(0).renewed()) << hb->DebugString();
}

TEST_F(RestartTest, OrderlyStopKeepsLeases) {
  StartServer();
  auto c = Client("c1");
  v1::Lease a = Grant(*c, Req("cad"));
  auto before = MyLeases(*c);
  c->Close();
  auto code = server_->Stop();
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0);
  EXPECT_TRUE(server_->Log().find("store_closed") != std::string::npos);
  ASSERT_TRUE(server_->Restart().ok());
  auto again = Client("c1");
  EXPECT_EQ(MyLeases(*again), before);
  EXPECT_EQ(DenialOf(*again, Req("cad")), v1::DENIAL_REASON_UNSPECIFIED);  // 2nd seat free
}

TEST_F(RestartTest, MeteredCountsAndNamedUsersSurvive) {
  StartServer(R"({"features": [
      {"name": "meter", "model": "metered", "metered_total": 10},
      {"name": "named", "model": "named_user", "seats": 1}]})");
  auto alice = Client("c1", "alice");
  v1::Lease m = Grant(*alice, Req("meter", 3));
  ASSERT_TRUE(alice->Checkin(m.lease_id()).ok());
  v1::Lease n = Grant(*alice, Req("named"));
  ASSERT_TRUE(alice->Checkin(n.lease_id()).ok());  // the binding outlives the lease
  EXPECT_EQ(FeatureOf(*alice, "meter").metered_remaining(), 7u);

  server_->Kill();
  ASSERT_TRUE(server_->Restart().ok());
  auto bob = Client("c2", "bob");
  EXPECT_EQ(FeatureOf(*bob, "meter").metered_remaining(), 7u);
  EXPECT_EQ(DenialOf(*bob, Req("named")), v1::NO_SEATS);  // alice's binding holds the seat
  auto alice2 = Client("c3", "alice");
  EXPECT_FALSE(Grant(*alice2, Req("named")).lease_id().empty());
}

TEST_F(RestartTest, CorruptDatabaseRefusesToStart) {
  std::string garbage(8192, 'x');
  dir_.Write("tesserad.db", garbage);
  server_ = std::make_unique<TesseradProcess>(dir_.path(), TesseradOptions{});
  Status s = server_->Start();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("exited with 5"), std::string::npos) << s.ToString();
  EXPECT_NE(server_->Log().find("event=store_failed"), std::string::npos) << server_->Log();
  EXPECT_NE(server_->Log().find("tesserad.db"), std::string::npos);
  EXPECT_EQ(ReadFile(dir_.File("tesserad.db")), garbage);  // never overwritten
}

TEST_F(RestartTest, ReadOnlyDatabaseLocationRefusesToStartAndKeepsTheData) {
  // The database lives in ro/, which the second start sees as a read-only file system (a
  // private mount namespace with a read-only bind mount, set up by a wrapper around tesserad;
  // root ignores file modes, not mount flags).
  std::filesystem::create_directories(dir_.File("ro"));
  const std::string db = dir_.File("ro/tesserad.db").string();
  TesseradOptions options;
  options.entitlement_json = kBasicEntitlement;
  options.keep_database = true;
  options.extra_args = {"--db", db};  // the last --db wins
  StartServer(options);
  auto c = Client("c1");
  const v1::Lease held = Grant(*c, Req("cad"));
  ASSERT_FALSE(held.lease_id().empty());
  c.reset();
  auto stopped = server_->Stop();
  ASSERT_TRUE(stopped.ok() && *stopped == 0) << server_->Log();
  const std::string before = ReadFile(db);

  if (std::system("unshare --mount --propagation private true 2>/dev/null") != 0) {
    GTEST_SKIP() << "no private mount namespace here";
  }
  const auto wrapper = dir_.Write(
      "tesserad-ro.sh",
      "#!/bin/sh\n"
      "exec unshare --mount --propagation private /bin/sh -c "
      "'mount --bind \"$0\" \"$0\" && mount -o remount,bind,ro \"$0\" && exec \"$@\"' '" +
          dir_.File("ro").string() + "' '" + TesseradBinary() + "' \"$@\"\n");
  std::filesystem::permissions(wrapper, std::filesystem::perms::owner_all);
  TesseradOptions read_only = options;
  read_only.binary = wrapper.string();
  server_ = std::make_unique<TesseradProcess>(dir_.path(), read_only);
  Status s = server_->Start();
  ASSERT_FALSE(s.ok()) << server_->Log();
  EXPECT_NE(s.message().find("exited with 5"), std::string::npos) << s.ToString();
  EXPECT_NE(server_->Log().find("event=store_failed"), std::string::npos) << server_->Log();
  EXPECT_NE(server_->Log().find("read-only file system"), std::string::npos) << server_->Log();
  EXPECT_EQ(ReadFile(db), before);

  // Writable again: the lease is there with its expiry.
  server_ = std::make_unique<TesseradProcess>(dir_.path(), options);
  ASSERT_TRUE(server_->Start().ok()) << server_->Log();
  auto again = Client("c1");
  const auto mine = MyLeases(*again);
  ASSERT_EQ(mine.count(held.lease_id()), 1u);
  EXPECT_EQ(mine.at(held.lease_id()), held.expires_at_ms());
}

}  // namespace
}  // namespace tessera::testing
