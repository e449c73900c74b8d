// Leases over time: heartbeats, exact expiry, resume, nonce retry, revoke, reloads, and
// export/restore.
#include <gtest/gtest.h>

#include "engine_test_util.h"

namespace tessera::engine::testing {
namespace {

TEST(LifecycleTest, HeartbeatExtendsTheLease) {
  Engine engine = MakeEngine({Concurrent("cad", 1)});
  const Lease l = LeaseOf(engine.Checkout(Req(Client("a"), "cad"), kT0));
  auto hb = engine.Heartbeat(l.id, "a", kT0 + Seconds(50));
  ASSERT_TRUE(std::holds_alternative<Renewed>(hb));
  EXPECT_EQ(std::get<Renewed>(hb).lease.expires_at, kT0 + Seconds(110));
  EXPECT_EQ(engine.NextDeadline(), kT0 + Seconds(110));
  EXPECT_EQ(FindEvent(engine.TakeEvents(), EventKind::kRenewed)->lease_id, l.id);
}

TEST(LifecycleTest, LeaseIsGoneExactlyAtItsExpiryForEveryCall) {
  Engine engine = MakeEngine({Concurrent("cad", 1)});
  const Lease l = LeaseOf(engine.Checkout(Req(Client("a"), "cad"), kT0));
  EXPECT_TRUE(std::holds_alternative<Renewed>(engine.Heartbeat(l.id, "a", kT0)));
  const Lease renewed = engine.FindLease(l.id, kT0).value();
  EXPECT_EQ(engine.FindLease(l.id, renewed.expires_at - Duration{1})->id, l.id);
  // No ExpireDue: the next call at the expiry instant already sees the seat free.
  EXPECT_EQ(std::get<Lost>(engine.Heartbeat(l.id, "a", renewed.expires_at)).reason,
            LossReason::kExpired);
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("b"), "cad"), renewed.expires_at)));
  std::vector<Event> events = engine.TakeEvents();
  std::optional<Event> expired = FindEvent(events, EventKind::kExpired);
  ASSERT_TRUE(expired);
  EXPECT_EQ(expired->at, renewed.expires_at);
}

TEST(LifecycleTest, OtherClientsCannotTouchALease) {
  Engine engine = MakeEngine({Concurrent("cad", 1)});
  const Lease l = LeaseOf(engine.Checkout(Req(Client("a"), "cad"), kT0));
  EXPECT_EQ(std::get<Lost>(engine.Heartbeat(l.id, "b", kT0)).reason, LossReason::kUnknown);
  EXPECT_EQ(std::get<Lost>(engine.Checkin(l.id, "b", 0, kT0)).reason, LossReason::kUnknown);
  EXPECT_EQ(std::get<Lost>(engine.Heartbeat(999, "a", kT0)).reason, LossReason::kUnknown);
  EXPECT_TRUE(engine.FindLease(l.id, kT0).has_value());
}

TEST(LifecycleTest, LostLeasesSayWhy) {
  Engine engine = MakeEngine({Concurrent("cad", 3)});
  const Lease a = LeaseOf(engine.Checkout(Req(Client("a"), "cad"), kT0));
  const Lease b = LeaseOf(engine.Checkout(Req(Client("b"), "cad"), kT0));
  const Lease c = LeaseOf(engine.Checkout(Req(Client("c"), "cad"), kT0));
  ASSERT_TRUE(std::holds_alternative<Released>(engine.Checkin(a.id, "a", 0, kT0)));
  ASSERT_TRUE(engine.Revoke(b.id, "operator request", kT0));
  EXPECT_FALSE(engine.Revoke(b.id, "again", kT0));
  TimePoint later = kT0 + Seconds(61);
  EXPECT_EQ(std::get<Lost>(engine.Heartbeat(a.id, "a", later)).reason, LossReason::kReleased);
  EXPECT_EQ(std::get<Lost>(engine.Heartbeat(b.id, "b", later)).reason, LossReason::kRevoked);
  EXPECT_EQ(std::get<Lost>(engine.Heartbeat(c.id, "c", later)).reason, LossReason::kExpired);
  EXPECT_EQ(std::get<Lost>(engine.Checkin(a.id, "a", 0, later)).reason, LossReason::kReleased);
}

TEST(LifecycleTest, RevokeFreesTheSeatAtOnceWithoutLinger) {
  Feature f = Concurrent("cad", 1);
  f.linger = Seconds(30);
  Engine engine = MakeEngine({f});
  const Lease l = LeaseOf(engine.Checkout(Req(Client("a"), "cad"), kT0));
  engine.TakeEvents();
  ASSERT_TRUE(engine.Revoke(l.id, "license audit", kT0));
  std::vector<Event> events = engine.TakeEvents();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, EventKind::kRevoked);
  EXPECT_EQ(events[0].detail, "license audit");
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("b"), "cad"), kT0)));
}

TEST(LifecycleTest, ResumeReturnsTheSameLeaseNeverASecondSeat) {
  Engine engine = MakeEngine({Concurrent("cad", 2)});
  const Lease l = LeaseOf(engine.Checkout(Req(Client("a"), "cad"), kT0));
  CheckoutRequest again = Req(Client("a"), "cad");
  again.resume_lease_id = l.id;
  const Lease r = LeaseOf(engine.Checkout(again, kT0 + Seconds(30)));
  EXPECT_EQ(r.id, l.id);
  EXPECT_EQ(r.expires_at, kT0 + Seconds(90));
  EXPECT_EQ(engine.UsageOf("cad", kT0 + Seconds(30))->in_use, 1u);
}

TEST(LifecycleTest, ResumeOfAnotherClientsLeaseIsNotResumable) {
  Engine engine = MakeEngine({Concurrent("cad", 2)});
  const Lease l = LeaseOf(engine.Checkout(Req(Client("a"), "cad"), kT0));
  CheckoutRequest steal = Req(Client("b"), "cad");
  steal.resume_lease_id = l.id;
  EXPECT_EQ(DenialOf(engine.Checkout(steal, kT0)), DenialReason::kLeaseNotResumable);
}

TEST(LifecycleTest, ResumeOfAnIdIssuedBeforeARestartKeepsThatId) {
  // After a restart without state the engine is seeded above every id issued before.
  Entitlement e;
  e.features = {Concurrent("cad", 3)};
  Engine engine = MakeEngine(e, {}, 1000);
  CheckoutRequest r = Req(Client("a"), "cad");
  r.resume_lease_id = 777;
  EXPECT_EQ(LeaseOf(engine.Checkout(r, kT0)).id, 777u);
  // A fresh id never collides with a live resumed one.
  EXPECT_EQ(LeaseOf(engine.Checkout(Req(Client("b"), "cad"), kT0)).id, 1000u);
}

TEST(LifecycleTest, ResumeCannotClaimAnIdNotYetIssued) {
  Entitlement e;
  e.features = {Concurrent("cad", 3)};
  Engine engine = MakeEngine(e, {}, 10);
  CheckoutRequest r = Req(Client("a"), "cad");
  r.resume_lease_id = 10;  // the id the engine hands out next
  const Lease got = LeaseOf(engine.Checkout(r, kT0));
  EXPECT_EQ(got.id, 10u);  // allocated normally, not claimed
  const Lease future = LeaseOf(engine.Checkout(Req(Client("c"), "cad"), kT0));
  EXPECT_EQ(future.id, 11u);
  CheckoutRequest claim = Req(Client("d"), "cad");
  claim.resume_lease_id = 50;
  EXPECT_EQ(LeaseOf(engine.Checkout(claim, kT0)).id, 12u);
}

TEST(LifecycleTest, ResumeCannotTakeOverAnIdThatEndedForAnotherClient) {
  Engine engine = MakeEngine({Concurrent("cad", 2)});
  const Lease a = LeaseOf(engine.Checkout(Req(Client("a"), "cad"), kT0));
  ASSERT_TRUE(std::holds_alternative<Released>(engine.Checkin(a.id, "a", 0, kT0)));
  CheckoutRequest steal = Req(Client("b"), "cad");
  steal.resume_lease_id = a.id;
  const Lease b = LeaseOf(engine.Checkout(steal, kT0));
  EXPECT_NE(b.id, a.id);
  // The owner's heartbeat still learns its lease was released, not "unknown".
  const HeartbeatOutcome hb = engine.Heartbeat(a.id, "a", kT0);
  ASSERT_TRUE(std::holds_alternative<Lost>(hb));
  EXPECT_EQ(std::get<Lost>(hb).reason, LossReason::kReleased);
  // The owner itself may take its ended id back.
  CheckoutRequest own = Req(Client("a"), "cad");
  own.resume_lease_id = a.id;
  EXPECT_EQ(LeaseOf(engine.Checkout(own, kT0)).id, a.id);
}

TEST(LifecycleTest, RetryWithTheSameNonceGetsTheSameLease) {
  Engine engine = MakeEngine({Concurrent("cad", 3)});
  CheckoutRequest r = Req(Client("a"), "cad");
  r.nonce = "n-1";
  const Lease first = LeaseOf(engine.Checkout(r, kT0));
  engine.TakeEvents();
  const Lease retry = LeaseOf(engine.Checkout(r, kT0 + Seconds(1)));
  EXPECT_EQ(retry.id, first.id);
  EXPECT_EQ(retry.count, first.count);
  EXPECT_EQ(retry.expires_at, first.expires_at + Seconds(1)) << "renewed by the retry";
  const auto events = engine.TakeEvents();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, EventKind::kRenewed);
  EXPECT_EQ(events[0].lease_id, first.id);
  EXPECT_EQ(engine.UsageOf("cad", kT0 + Seconds(1))->in_use, 1u);
  r.nonce = "n-2";
  EXPECT_NE(LeaseOf(engine.Checkout(r, kT0 + Seconds(1))).id, first.id);
  EXPECT_EQ(engine.UsageOf("cad", kT0 + Seconds(1))->in_use, 2u);
}

TEST(LifecycleTest, ReloadKeepsLeasesAndRevokesThoseOfRemovedFeatures) {
  Feature cad = Concurrent("cad", 2);
  Feature cam = Concurrent("cam", 1);
  cam.max_queue_length = 2;
  Engine engine = MakeEngine({cad, cam});
  const Lease a = LeaseOf(engine.Checkout(Req(Client("a"), "cad", 2), kT0));
  const Lease b = LeaseOf(engine.Checkout(Req(Client("b"), "cam"), kT0));
  CheckoutRequest w = Req(Client("c"), "cam");
  w.queue_timeout = Seconds(60);
  QueueTicket t = QueuedOf(engine.Checkout(w, kT0))->ticket;
  engine.TakeEvents();
  Entitlement smaller;
  smaller.features = {Concurrent("cad", 1)};
  ASSERT_TRUE(engine.SetEntitlement(smaller, kT0 + Seconds(1)).ok());
  std::vector<Event> events = engine.TakeEvents();
  ASSERT_EQ(Kinds(events), (std::vector{EventKind::kRevoked, EventKind::kDenied}));
  EXPECT_EQ(events[0].lease_id, b.id);
  EXPECT_EQ(events[1].ticket, t);
  EXPECT_EQ(events[1].reason, DenialReason::kNoSuchFeature);
  EXPECT_TRUE(engine.FindLease(a.id, kT0 + Seconds(1)).has_value());
  EXPECT_EQ(engine.UsageOf("cad", kT0 + Seconds(1))->in_use, 2u);  // above the new seats
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("d"), "cad"), kT0 + Seconds(1))),
            DenialReason::kNoSeats);
}

TEST(LifecycleTest, ReloadWithAnEarlierEndShortensLeases) {
  Engine engine = MakeEngine({Concurrent("cad", 2)});
  const Lease a = LeaseOf(engine.Checkout(Req(Client("a"), "cad"), kT0));
  Feature f = Concurrent("cad", 2);
  f.ends_at = kT0 + Seconds(10);
  f.grace = Seconds(5);
  Entitlement e;
  e.features = {f};
  ASSERT_TRUE(engine.SetEntitlement(e, kT0 + Seconds(1)).ok());
  EXPECT_EQ(engine.FindLease(a.id, kT0 + Seconds(1))->expires_at, kT0 + Seconds(15));
  EXPECT_FALSE(engine.FindLease(a.id, kT0 + Seconds(15)).has_value());
}

TEST(LifecycleTest, ExportAndRestoreCarryLeasesBindingsMetersAndIds) {
  Feature cad = Concurrent("cad", 2);
  Feature named = Concurrent("design", 1);
  named.model = LicenseModel::kNamedUser;
  Feature runs = Concurrent("runs", 0);
  runs.model = LicenseModel::kMetered;
  runs.metered_total = 10;
  Entitlement e;
  e.features = {cad, named, runs};
  Engine engine = MakeEngine(e, {}, 100);
  const Lease a = LeaseOf(engine.Checkout(Req(Client("a"), "cad"), kT0));
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("b", "bob"), "design"), kT0)));
  CheckoutRequest m = Req(Client("c"), "runs");
  m.metered_units = 4;
  EXPECT_TRUE(IsGranted(engine.Checkout(m, kT0)));
  EngineState state = engine.ExportState();
  EXPECT_EQ(state.next_lease_id, 103u);
  EXPECT_EQ(state.leases.size(), 3u);
  EXPECT_EQ(state.bindings.size(), 1u);
  EXPECT_EQ(state.metered_consumed.at("runs"), 4u);

  Engine restarted = MakeEngine(e, {}, 5000);
  ASSERT_TRUE(restarted.RestoreState(state).ok());
  EXPECT_EQ(restarted.ExportState(), state);
  EXPECT_EQ(std::get<Renewed>(restarted.Heartbeat(a.id, "a", kT0 + Seconds(1))).lease.id, a.id);
  EXPECT_EQ(DenialOf(restarted.Checkout(Req(Client("d", "dora"), "design"), kT0)),
            DenialReason::kNoSeats);
  EXPECT_EQ(restarted.UsageOf("runs", kT0)->metered_remaining, 6);
  EXPECT_EQ(LeaseOf(restarted.Checkout(Req(Client("e"), "cad"), kT0)).id, 103u);

  EngineState dup = state;
  dup.leases.push_back(dup.leases.front());
  EXPECT_FALSE(restarted.RestoreState(dup).ok());
}

TEST(LifecycleTest, TimeNeverRunsBackwards) {
  Engine engine = MakeEngine({Concurrent("cad", 1)});
  const Lease l = LeaseOf(engine.Checkout(Req(Client("a"), "cad"), kT0 + Seconds(100)));
  // An older `now` is treated as the latest seen: the lease is not issued in the past.
  auto hb = engine.Heartbeat(l.id, "a", kT0);
  EXPECT_EQ(std::get<Renewed>(hb).lease.expires_at, kT0 + Seconds(160));
}

TEST(LifecycleTest, NextDeadlineCoversLeasesLingerAndQueues) {
  Feature f = Concurrent("cad", 1);
  f.max_queue_length = 1;
  Engine engine = MakeEngine({f});
  EXPECT_FALSE(engine.NextDeadline().has_value());
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("a"), "cad"), kT0)));
  CheckoutRequest w = Req(Client("b"), "cad");
  w.queue_timeout = Seconds(5);
  ASSERT_TRUE(QueuedOf(engine.Checkout(w, kT0)));
  EXPECT_EQ(engine.NextDeadline(), kT0 + Seconds(5));
  engine.ExpireDue(kT0 + Seconds(5));
  EXPECT_EQ(engine.NextDeadline(), kT0 + Seconds(60));
}

}  // namespace
}  // namespace tessera::engine::testing
