// Customer rules: deny and allow lists, maxima, reservations, and their order.
#include <gtest/gtest.h>

#include "engine_test_util.h"

namespace tessera::engine::testing {
namespace {

Rules BaseRules() {
  Rules r;
  r.user_groups["eng"] = {"alice", "bob"};
  r.host_groups["lab"] = {"lab1", "lab2"};
  return r;
}

TEST(RulesTest, DenyListRefusesMatchingUsersGroupsAndHosts) {
  Rules r = BaseRules();
  r.deny = {AccessRule{"cad", Matcher{MatchKind::kUser, "mallory"}},
            AccessRule{"", Matcher{MatchKind::kHostGroup, "lab"}}};
  Engine engine = MakeEngine({Concurrent("cad", 5), Concurrent("cam", 5)}, r);
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("m", "mallory"), "cad"), kT0)),
            DenialReason::kDeniedByRule);
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("m", "mallory"), "cam"), kT0)));
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("a", "alice", "lab2"), "cam"), kT0)),
            DenialReason::kDeniedByRule);
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("a", "alice", "desk"), "cam"), kT0)));
}

TEST(RulesTest, AllowListAdmitsOnlyMatchingClients) {
  Rules r = BaseRules();
  r.allow = {AccessRule{"cad", Matcher{MatchKind::kGroup, "eng"}},
             AccessRule{"cad", Matcher{MatchKind::kHost, "build"}}};
  Engine engine = MakeEngine({Concurrent("cad", 5), Concurrent("cam", 5)}, r);
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("a", "alice"), "cad"), kT0)));
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("c", "carol", "build"), "cad"), kT0)));
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("d", "dave"), "cad"), kT0)),
            DenialReason::kDeniedByRule);
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("d", "dave"), "cam"), kT0)));
}

TEST(RulesTest, DenyIsCheckedBeforeAllow) {
  Rules r = BaseRules();
  r.allow = {AccessRule{"cad", Matcher{MatchKind::kGroup, "eng"}}};
  r.deny = {AccessRule{"cad", Matcher{MatchKind::kUser, "bob"}}};
  Engine engine = MakeEngine({Concurrent("cad", 5)}, r);
  auto o = engine.Checkout(Req(Client("b", "bob"), "cad"), kT0);
  ASSERT_EQ(DenialOf(o), DenialReason::kDeniedByRule);
  EXPECT_NE(std::get<Denied>(o).detail.find("deny"), std::string::npos);
}

TEST(RulesTest, UserMaximumCountsSeatsAcrossTheUsersClients) {
  Rules r = BaseRules();
  r.maxima = {MaxRule{"cad", 2, Matcher{MatchKind::kUser, "alice"}}};
  Engine engine = MakeEngine({Concurrent("cad", 10)}, r);
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("a1", "alice"), "cad"), kT0)));
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("a2", "alice"), "cad"), kT0)));
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("a3", "alice"), "cad"), kT0)),
            DenialReason::kOverUserMaximum);
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("b", "bob"), "cad", 3), kT0)));
}

TEST(RulesTest, WildcardUserMaximumLimitsEachUser) {
  Rules r = BaseRules();
  r.maxima = {MaxRule{"cad", 1, Matcher{MatchKind::kUser, "*"}}};
  Engine engine = MakeEngine({Concurrent("cad", 10)}, r);
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("a1", "alice"), "cad"), kT0)));
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("b1", "bob"), "cad"), kT0)));
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("a2", "alice"), "cad"), kT0)),
            DenialReason::kOverUserMaximum);
}

TEST(RulesTest, GroupMaximumCountsTheGroupTogether) {
  Rules r = BaseRules();
  r.maxima = {MaxRule{"cad", 3, Matcher{MatchKind::kGroup, "eng"}}};
  Engine engine = MakeEngine({Concurrent("cad", 10)}, r);
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("a", "alice"), "cad", 2), kT0)));
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("b", "bob"), "cad", 2), kT0)),
            DenialReason::kOverGroupMaximum);
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("b", "bob"), "cad", 1), kT0)));
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("c", "carol"), "cad", 5), kT0)));
}

TEST(RulesTest, ReservedSeatsAreKeptForTheirHolders) {
  Rules r = BaseRules();
  r.reservations = {Reservation{"cad", 2, Matcher{MatchKind::kGroup, "eng"}}};
  Engine engine = MakeEngine({Concurrent("cad", 4)}, r);
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("c", "carol"), "cad", 2), kT0)));
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("d", "dave"), "cad"), kT0)),
            DenialReason::kNoSeats);
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("a", "alice"), "cad"), kT0)));
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("b", "bob"), "cad"), kT0)));
  EXPECT_EQ(engine.UsageOf("cad", kT0)->in_use, 4u);
}

TEST(RulesTest, ReservationHoldersAlsoUseUnreservedSeats) {
  Rules r = BaseRules();
  r.reservations = {Reservation{"cad", 1, Matcher{MatchKind::kHost, "lab1"}}};
  Engine engine = MakeEngine({Concurrent("cad", 3)}, r);
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("x", "xavier", "lab1"), "cad", 3), kT0)));
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("y", "yann", "lab1"), "cad"), kT0)),
            DenialReason::kNoSeats);
}

TEST(RulesTest, MaximumIsCheckedBeforeCapacity) {
  Rules r = BaseRules();
  r.maxima = {MaxRule{"cad", 0, Matcher{MatchKind::kHostGroup, "lab"}}};
  Engine engine = MakeEngine({Concurrent("cad", 0)}, r);
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("a", "alice", "lab1"), "cad"), kT0)),
            DenialReason::kOverGroupMaximum);
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("a", "alice", "desk"), "cad"), kT0)),
            DenialReason::kNoSeats);
}

TEST(RulesTest, InvalidRulesAreRefusedAndLeaveTheOldOnes) {
  Rules r = BaseRules();
  r.deny = {AccessRule{"cad", Matcher{MatchKind::kUser, "mallory"}}};
  Engine engine = MakeEngine({Concurrent("cad", 5)}, r);
  Rules bad = BaseRules();
  bad.maxima = {MaxRule{"cad", 1, Matcher{MatchKind::kGroup, "nope"}}};
  EXPECT_FALSE(engine.SetRules(bad, kT0).ok());
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("m", "mallory"), "cad"), kT0)),
            DenialReason::kDeniedByRule);
}

}  // namespace
}  // namespace tessera::engine::testing
