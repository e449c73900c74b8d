// Licensing models: token pools, named users, metered, borrowing, overdraft, linger.
#include <gtest/gtest.h>

#include "engine_test_util.h"

namespace tessera::engine::testing {
namespace {

Entitlement PoolEntitlement(uint32_t tokens, uint32_t overdraft = 0) {
  Entitlement e;
  e.pools = {TokenPool{"suite", tokens, overdraft}};
  Feature solver = Concurrent("solver", 0);
  solver.model = LicenseModel::kTokenPool;
  solver.pool = "suite";
  solver.tokens_per_seat = 3;
  Feature viewer = Concurrent("viewer", 0);
  viewer.model = LicenseModel::kTokenPool;
  viewer.pool = "suite";
  viewer.tokens_per_seat = 1;
  e.features = {solver, viewer};
  return e;
}

TEST(TokenPoolTest, FeaturesDrawWeightedTokensFromTheSharedPool) {
  Engine engine = MakeEngine(PoolEntitlement(10));
  const Lease s = LeaseOf(engine.Checkout(Req(Client("a"), "solver", 2), kT0));
  EXPECT_EQ(s.tokens, 6u);
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("b"), "viewer", 4), kT0)));
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("c"), "viewer", 1), kT0)), DenialReason::kNoSeats);
  EXPECT_EQ(engine.UsageOf("viewer", kT0)->pool_tokens_in_use, 10u);
  ASSERT_TRUE(std::holds_alternative<Released>(engine.Checkin(s.id, "a", 0, kT0)));
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("c"), "solver", 3), kT0)),
            DenialReason::kNoSeats);  // 9 tokens, 6 free
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("c"), "solver", 2), kT0)));
}

TEST(TokenPoolTest, SoftFeaturesMayUseThePoolOverdraft) {
  Entitlement e = PoolEntitlement(3, 3);
  e.features[1].enforcement = Enforcement::kSoft;
  Engine engine = MakeEngine(e);
  EXPECT_FALSE(LeaseOf(engine.Checkout(Req(Client("a"), "viewer", 3), kT0)).overdraft);
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("b"), "solver", 1), kT0)),
            DenialReason::kNoSeats);  // hard feature: no overdraft
  const Lease o = LeaseOf(engine.Checkout(Req(Client("c"), "viewer", 2), kT0));
  EXPECT_TRUE(o.overdraft);
  EXPECT_EQ(FindEvent(engine.TakeEvents(), EventKind::kOverdraftUsed)->count, 2u);
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("d"), "viewer", 2), kT0)), DenialReason::kNoSeats);
}

Feature NamedUser(uint32_t seats) {
  Feature f = Concurrent("design", seats);
  f.model = LicenseModel::kNamedUser;
  f.named_user_min_period = Seconds(3600);
  return f;
}

TEST(NamedUserTest, OneUserHoldsOneSeatAcrossClients) {
  Engine engine = MakeEngine({NamedUser(1)});
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("a1", "alice"), "design"), kT0)));
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("a2", "alice"), "design", 3), kT0)));
  EXPECT_EQ(engine.UsageOf("design", kT0)->in_use, 1u);
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("b", "bob"), "design"), kT0)),
            DenialReason::kNoSeats);
  EXPECT_EQ(engine.ExportState().bindings.at(0).user, "alice");
}

TEST(NamedUserTest, SeatSticksForTheMinimumPeriodAfterRelease) {
  Engine engine = MakeEngine({NamedUser(1)});
  const Lease a = LeaseOf(engine.Checkout(Req(Client("a", "alice"), "design"), kT0));
  ASSERT_TRUE(std::holds_alternative<Released>(engine.Checkin(a.id, "a", 0, kT0 + Seconds(10))));
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("b", "bob"), "design"), kT0 + Seconds(3599))),
            DenialReason::kNoSeats);
  EXPECT_EQ(engine.NextDeadline(), kT0 + Seconds(3600));
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("b", "bob"), "design"), kT0 + Seconds(3600))));
}

TEST(NamedUserTest, SeatStaysWhileTheUserHoldsALeasePastTheMinimum) {
  Engine engine = MakeEngine({NamedUser(1)});
  Lease a = LeaseOf(engine.Checkout(Req(Client("a", "alice"), "design"), kT0));
  for (int s = 50; s < 4000; s += 50) {
    ASSERT_TRUE(std::holds_alternative<Renewed>(engine.Heartbeat(a.id, "a", kT0 + Seconds(s))));
  }
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("b", "bob"), "design"), kT0 + Seconds(4000))),
            DenialReason::kNoSeats);
  ASSERT_TRUE(std::holds_alternative<Released>(engine.Checkin(a.id, "a", 0, kT0 + Seconds(4001))));
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("b", "bob"), "design"), kT0 + Seconds(4001))));
}

TEST(NamedUserTest, SoftEnforcementFlagsTheBindingBeyondSeats) {
  Feature f = NamedUser(1);
  f.enforcement = Enforcement::kSoft;
  f.overdraft = 1;
  Engine engine = MakeEngine({f});
  EXPECT_FALSE(LeaseOf(engine.Checkout(Req(Client("a", "alice"), "design"), kT0)).overdraft);
  EXPECT_TRUE(LeaseOf(engine.Checkout(Req(Client("b", "bob"), "design"), kT0)).overdraft);
  EXPECT_TRUE(engine.ExportState().bindings.at(1).overdraft);
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("c", "carol"), "design"), kT0)),
            DenialReason::kNoSeats);
}

TEST(NamedUserTest, ReservationsAndMaximaCountBoundUsers) {
  Rules r;
  r.user_groups["eng"] = {"alice", "bob"};
  r.reservations = {Reservation{"design", 1, Matcher{MatchKind::kUser, "alice"}}};
  r.maxima = {MaxRule{"design", 1, Matcher{MatchKind::kGroup, "eng"}}};
  Engine engine = MakeEngine({NamedUser(3)}, r);
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("b", "bob"), "design"), kT0)));
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("c", "carol"), "design"), kT0)));
  // The last free seat is alice's; dave may not take it.
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("d", "dave"), "design"), kT0)),
            DenialReason::kNoSeats);
  // alice is in eng, whose one seat bob holds.
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("a", "alice"), "design"), kT0)),
            DenialReason::kOverGroupMaximum);
  // bob's second client reuses bob's seat: no new unit, so no maximum applies.
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("b2", "bob"), "design"), kT0)));
}

Feature Metered(MeterMode mode, uint64_t total, uint64_t overdraft = 0) {
  Feature f = Concurrent("runs", 0);
  f.model = LicenseModel::kMetered;
  f.meter_mode = mode;
  f.metered_total = total;
  f.metered_overdraft = overdraft;
  return f;
}

TEST(ModelsTest, MeteredHugeDrawIsInvalidNotAFreeSeat) {
  Engine engine = MakeEngine({Metered(MeterMode::kPerCheckout, 5)});
  CheckoutRequest all = Req(Client("a"), "runs");
  all.metered_units = 5;
  ASSERT_TRUE(IsGranted(engine.Checkout(all, kT0)));
  CheckoutRequest huge = Req(Client("b"), "runs");
  huge.metered_units = UINT64_MAX;  // would wrap to -1 as a signed count
  EXPECT_EQ(DenialOf(engine.Checkout(huge, kT0)), DenialReason::kInvalidRequest);
  EXPECT_EQ(engine.UsageOf("runs", kT0)->metered_remaining, 0);
  EXPECT_EQ(engine.UsageOf("runs", kT0)->in_use, 1u);
}

TEST(MeteredTest, PerCheckoutDrawsUnitsAndNeverGoesBelowZero) {
  Engine engine = MakeEngine({Metered(MeterMode::kPerCheckout, 5)});
  CheckoutRequest r = Req(Client("a"), "runs");
  r.metered_units = 3;
  EXPECT_EQ(LeaseOf(engine.Checkout(r, kT0)).metered_units, 3u);
  std::optional<Event> m = FindEvent(engine.TakeEvents(), EventKind::kMeteredConsumed);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->units, 3u);
  EXPECT_EQ(m->metered_remaining, 2);
  r.client = Client("b");
  EXPECT_EQ(DenialOf(engine.Checkout(r, kT0)), DenialReason::kMeteredExhausted);
  r.metered_units = 2;
  EXPECT_TRUE(IsGranted(engine.Checkout(r, kT0)));
  EXPECT_EQ(engine.UsageOf("runs", kT0)->metered_remaining, 0);
  r.client = Client("c");
  r.metered_units = 1;
  EXPECT_EQ(DenialOf(engine.Checkout(r, kT0)), DenialReason::kMeteredExhausted);
}

TEST(MeteredTest, PerUseDrawsReportedUnitsAtCheckinDownToTheOverdraft) {
  Engine engine = MakeEngine({Metered(MeterMode::kPerUse, 10, 5)});
  const Lease a = LeaseOf(engine.Checkout(Req(Client("a"), "runs"), kT0));
  EXPECT_EQ(a.metered_units, 0u);
  engine.TakeEvents();
  ASSERT_TRUE(std::holds_alternative<Released>(engine.Checkin(a.id, "a", 12, kT0)));
  EXPECT_EQ(engine.UsageOf("runs", kT0)->metered_remaining, -2);
  const Lease b = LeaseOf(engine.Checkout(Req(Client("b"), "runs"), kT0));
  ASSERT_TRUE(std::holds_alternative<Released>(engine.Checkin(b.id, "b", 100, kT0)));
  EXPECT_EQ(engine.UsageOf("runs", kT0)->metered_remaining, -5);  // clamped at the overdraft
  std::vector<Event> events = engine.TakeEvents();
  const Event* last = nullptr;
  for (const Event& e : events) {
    if (e.kind == EventKind::kMeteredConsumed) last = &e;
  }
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(last->units, 3u);
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("c"), "runs"), kT0)),
            DenialReason::kMeteredExhausted);
}

TEST(MeteredTest, ConsumptionSurvivesAReloadWithMoreUnits) {
  Engine engine = MakeEngine({Metered(MeterMode::kPerCheckout, 1)});
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("a"), "runs"), kT0)));
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("b"), "runs"), kT0)),
            DenialReason::kMeteredExhausted);
  Entitlement e;
  e.features = {Metered(MeterMode::kPerCheckout, 3)};
  ASSERT_TRUE(engine.SetEntitlement(e, kT0).ok());
  EXPECT_EQ(engine.UsageOf("runs", kT0)->metered_remaining, 2);
}

TEST(BorrowTest, BorrowedLeaseLastsItsDurationWithoutHeartbeats) {
  Feature f = Concurrent("cad", 1);
  f.borrowable = true;
  f.max_borrow = Seconds(7 * 86400);
  Engine engine = MakeEngine({f});
  CheckoutRequest r = Req(Client("a"), "cad");
  r.borrow_duration = Seconds(3 * 86400);
  const Lease l = LeaseOf(engine.Checkout(r, kT0));
  EXPECT_TRUE(l.borrowed);
  EXPECT_EQ(l.heartbeat_interval, Duration{0});
  EXPECT_EQ(l.expires_at, kT0 + Seconds(3 * 86400));
  TimePoint later = kT0 + Seconds(2 * 86400);
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("b"), "cad"), later)), DenialReason::kNoSeats);
  EXPECT_EQ(engine.UsageOf("cad", later)->borrowed, 1u);
  auto hb = engine.Heartbeat(l.id, "a", later);
  EXPECT_EQ(std::get<Renewed>(hb).lease.expires_at, l.expires_at);  // not extended
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("b"), "cad"), l.expires_at)));
}

TEST(BorrowTest, NotBorrowableOrTooLongIsBorrowNotAllowed) {
  Feature f = Concurrent("cad", 1);
  Feature g = Concurrent("cam", 1);
  g.borrowable = true;
  g.max_borrow = Seconds(3600);
  Engine engine = MakeEngine({f, g});
  CheckoutRequest r = Req(Client("a"), "cad");
  r.borrow_duration = Seconds(60);
  EXPECT_EQ(DenialOf(engine.Checkout(r, kT0)), DenialReason::kBorrowNotAllowed);
  r.feature = "cam";
  r.borrow_duration = Seconds(3601);
  EXPECT_EQ(DenialOf(engine.Checkout(r, kT0)), DenialReason::kBorrowNotAllowed);
  r.borrow_duration = Seconds(3600);
  EXPECT_TRUE(IsGranted(engine.Checkout(r, kT0)));
}

TEST(OverdraftTest, HardEnforcementNeverExceedsSeats) {
  Feature f = Concurrent("cad", 2);
  f.overdraft = 3;  // ignored under hard enforcement
  Engine engine = MakeEngine({f});
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("a"), "cad", 2), kT0)));
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("b"), "cad"), kT0)), DenialReason::kNoSeats);
}

TEST(OverdraftTest, SoftEnforcementFlagsGrantsBeyondSeatsUpToTheOverdraft) {
  Feature f = Concurrent("cad", 2);
  f.overdraft = 2;
  f.enforcement = Enforcement::kSoft;
  Engine engine = MakeEngine({f});
  EXPECT_FALSE(LeaseOf(engine.Checkout(Req(Client("a"), "cad"), kT0)).overdraft);
  const Lease b = LeaseOf(engine.Checkout(Req(Client("b"), "cad", 2), kT0));
  EXPECT_TRUE(b.overdraft);
  std::vector<Event> events = engine.TakeEvents();
  std::optional<Event> o = FindEvent(events, EventKind::kOverdraftUsed);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->count, 1u);
  EXPECT_EQ(o->lease_id, b.id);
  EXPECT_EQ(engine.UsageOf("cad", kT0)->overdraft_in_use, 1u);
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("c"), "cad"), kT0)));
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("d"), "cad"), kT0)), DenialReason::kNoSeats);
}

TEST(LingerTest, SeatIsHeldAfterCheckinAndTheSameClientMayReclaimIt) {
  Feature f = Concurrent("cad", 1);
  f.linger = Seconds(30);
  Engine engine = MakeEngine({f});
  const Lease a = LeaseOf(engine.Checkout(Req(Client("a"), "cad"), kT0));
  auto released = engine.Checkin(a.id, "a", 0, kT0 + Seconds(5));
  ASSERT_TRUE(std::get<Released>(released).lease.lingering);
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("b"), "cad"), kT0 + Seconds(10))),
            DenialReason::kNoSeats);
  EXPECT_EQ(std::get<Lost>(engine.Heartbeat(a.id, "a", kT0 + Seconds(10))).reason,
            LossReason::kReleased);
  const Lease again = LeaseOf(engine.Checkout(Req(Client("a"), "cad"), kT0 + Seconds(20)));
  EXPECT_EQ(again.id, a.id);
  EXPECT_FALSE(again.lingering);
  EXPECT_EQ(again.expires_at, kT0 + Seconds(80));
  engine.TakeEvents();
  ASSERT_TRUE(std::holds_alternative<Released>(engine.Checkin(a.id, "a", 0, kT0 + Seconds(30))));
  engine.ExpireDue(kT0 + Seconds(60));
  EXPECT_EQ(Kinds(engine.TakeEvents()),
            (std::vector{EventKind::kReleased, EventKind::kLingerEnded}));
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("b"), "cad"), kT0 + Seconds(60))));
}

}  // namespace
}  // namespace tessera::engine::testing
