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
  table.Renewed("a", FromUnixMillis(1'000'000 + 5000), Duration(1000));
  EXPECT_EQ(*table.NextDue(), Duration(2000));
  EXPECT_EQ(table.Find("a")->lease.expires_at, FromUnixMillis(1'005'000));
}

TEST(LeaseTableTest, UpdateTokenKeepsTheVerifiedFactsAndIgnoresAnEmptyToken) {
  LeaseTable table;
  table.Add(MakeLease("a", Duration(3000), Duration(1000)), Duration(0), "nonce-a");
  EXPECT_EQ(table.Find("a")->nonce_sent, "nonce-a");
  Lease fresh;
  fresh.token = "tok";
  fresh.token_verified = true;
  fresh.appliance_id = "app";
  fresh.customer = "Example Corp";
  fresh.block_sequence = 7;
  fresh.token_expires_at = FromUnixMillis(1'009'000);
  table.UpdateToken("a", fresh);
  const Lease& held = table.Find("a")->lease;
  EXPECT_EQ(held.token, "tok");
  EXPECT_TRUE(held.token_verified);
  EXPECT_EQ(held.appliance_id, "app");
  EXPECT_EQ(held.block_sequence, 7u);
  EXPECT_EQ(held.token_expires_at, FromUnixMillis(1'009'000));
  table.UpdateToken("a", Lease{});
  EXPECT_EQ(table.Find("a")->lease.token, "tok");
}

// A verified lease with TTL 3000 and period 1000 (token ends at 1'003'000).
LeaseTable TokenTable() {
  LeaseTable table;
  Lease a = MakeLease("a", Duration(3000), Duration(1000));
  a.token_verified = true;
  a.token_expires_at = a.expires_at;
  Lease b = MakeLease("b", Duration(3000), Duration(1000));
  b.token_verified = true;
  b.token_expires_at = b.expires_at + Duration(1000);  // renewed with a token later
  Lease unverified = MakeLease("u", Duration(3000), Duration(1000));
  table.Add(a, Duration(0));
  table.Add(b, Duration(0));
  table.Add(unverified, Duration(0));
  return table;
}

TEST(LeaseTableTest, AFreshTokenIsAskedOnlyWhenTheCurrentOneEndsWithinTwoPeriods) {
  const LeaseTable table = TokenTable();
  const std::vector<std::string> all = {"a", "b", "u"};
  // 1'001'000 + 2 * 1000 = 1'003'000: "a"'s token ends exactly then, not before.
  EXPECT_TRUE(table.TokenDue(all, FromUnixMillis(1'001'000)).empty());
  EXPECT_EQ(table.TokenDue(all, FromUnixMillis(1'001'001)), std::vector<std::string>{"a"});
  EXPECT_EQ(table.TokenDue(all, FromUnixMillis(1'002'500)), (std::vector<std::string>{"a", "b"}));
}

TEST(LeaseTableTest, TokenIdsAreASubsetOfTheHeartbeatChunk) {
  const LeaseTable table = TokenTable();
  const TimePoint late = FromUnixMillis(1'010'000);  // every verified token is due
  EXPECT_EQ(table.TokenDue(std::vector<std::string>{"b"}, late), std::vector<std::string>{"b"});
  EXPECT_EQ(table.TokenDue(std::vector<std::string>{"u", "gone"}, late),
            std::vector<std::string>{});
}

TEST(LeaseTableTest, ExpiryNeverMovesBackwards) {
  LeaseTable table;
  table.Add(MakeLease("a", Duration(3000), Duration(1000)), Duration(0));
  table.Renewed("a", FromUnixMillis(1), Duration(10));
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
