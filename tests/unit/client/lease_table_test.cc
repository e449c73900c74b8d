#include "client/lease_table.h"

#include <gtest/gtest.h>

namespace tessera::client {
namespace {

Lease MakeLease(const std::string& id, Duration ttl, Duration interval, bool borrowed = false) {
  Lease lease;
  lease.lease_id = id;
  lease.feature = "cad";
  lease.issued_at = FromUnixMillis(1'000'000);
  lease.expires_at = lease.issued_at + ttl;
  lease.heartbeat_interval = interval;
  lease.borrowed = borrowed;
  return lease;
}

TEST(RenewalPeriodTest, UsesTheServerIntervalWhenItLeavesRoom) {
  EXPECT_EQ(RenewalPeriod(Duration(30'000), Duration(10'000)), Duration(10'000));
}

TEST(RenewalPeriodTest, FallsBackToAThirdOfTheTtl) {
  EXPECT_EQ(RenewalPeriod(Duration(30'000), Duration(0)), Duration(10'000));
  // An interval too close to the expiry is not trusted.
  EXPECT_EQ(RenewalPeriod(Duration(30'000), Duration(25'000)), Duration(10'000));
}

TEST(RenewalPeriodTest, NeverBelowTheFloor) {
  EXPECT_EQ(RenewalPeriod(Duration(30), Duration(0)), kMinRenewPeriod);
}

TEST(LeaseTableTest, NothingDueBeforeThePeriod) {
  LeaseTable table;
  table.Add(MakeLease("a", Duration(3000), Duration(1000)), Duration(0));
  EXPECT_TRUE(table.DueForRenewal(Duration(999)).empty());
  ASSERT_TRUE(table.NextDue().has_value());
  EXPECT_EQ(*table.NextDue(), Duration(1000));
  EXPECT_EQ(table.DueForRenewal(Duration(1000)), std::vector<std::string>{"a"});
}

TEST(LeaseTableTest, BatchesLeasesDueSoonIntoOneHeartbeat) {
  LeaseTable table;
  table.Add(MakeLease("a", Duration(3000), Duration(1000)), Duration(0));
  table.Add(MakeLease("b", Duration(3000), Duration(1000)), Duration(300));  // due 1300
  table.Add(MakeLease("c", Duration(3000), Duration(1000)), Duration(800));  // due 1800
  const auto due = table.DueForRenewal(Duration(1000));
  EXPECT_EQ(due, (std::vector<std::string>{"a", "b"}));  // within half a period of now
}

TEST(LeaseTableTest, RenewalMovesTheDueTimeFromWhenTheHeartbeatLeft) {
  LeaseTable table;
  table.Add(MakeLease("a", Duration(3000), Duration(1000)), Duration(0));
  table.Renewed("a", FromUnixMillis(1'000'000 + 5000), "tok", Duration(1000));
  EXPECT_EQ(*table.NextDue(), Duration(2000));
  EXPECT_EQ(table.Find("a")->lease.expires_at, FromUnixMillis(1'005'000));
  EXPECT_EQ(table.Find("a")->lease.token, "tok");
}

TEST(LeaseTableTest, ExpiryNeverMovesBackwards) {
  LeaseTable table;
  table.Add(MakeLease("a", Duration(3000), Duration(1000)), Duration(0));
  table.Renewed("a", FromUnixMillis(1), "", Duration(10));
  EXPECT_EQ(table.Find("a")->lease.expires_at, FromUnixMillis(1'003'000));
}

TEST(LeaseTableTest, BorrowedLeasesAreNeverRenewedNorResumed) {
  LeaseTable table;
  table.Add(MakeLease("b", Duration(3000), Duration(1000), /*borrowed=*/true), Duration(0));
  EXPECT_FALSE(table.NextDue().has_value());
  EXPECT_TRUE(table.DueForRenewal(Duration(1'000'000)).empty());
  EXPECT_TRUE(table.RenewableIds().empty());
  EXPECT_EQ(table.Snapshot().size(), 1u);
}

TEST(LeaseTableTest, ReplaceSwapsTheIdAfterAResume) {
  LeaseTable table;
  table.Add(MakeLease("old", Duration(3000), Duration(1000)), Duration(0));
  table.Replace("old", MakeLease("new", Duration(3000), Duration(1000)), Duration(500));
  EXPECT_FALSE(table.Contains("old"));
  EXPECT_TRUE(table.Contains("new"));
  EXPECT_EQ(*table.NextDue(), Duration(1500));
}

TEST(LeaseTableTest, RemoveReturnsTheLeaseOnce) {
  LeaseTable table;
  table.Add(MakeLease("a", Duration(3000), Duration(1000)), Duration(0));
  EXPECT_TRUE(table.Remove("a").has_value());
  EXPECT_FALSE(table.Remove("a").has_value());
  EXPECT_TRUE(table.empty());
}

}  // namespace
}  // namespace tessera::client
