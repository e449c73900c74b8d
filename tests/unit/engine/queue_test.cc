// Queueing: FIFO per feature, timeouts, cancellation, caps.
#include <gtest/gtest.h>

#include "engine_test_util.h"

namespace tessera::engine::testing {
namespace {

Feature Queueing(uint32_t seats, uint32_t max_queue = 3) {
  Feature f = Concurrent("cad", seats);
  f.max_queue_length = max_queue;
  f.max_queue_timeout = Seconds(300);
  return f;
}

CheckoutRequest Waiting(const ClientInfo& c, uint32_t count = 1, int timeout_s = 100) {
  CheckoutRequest r = Req(c, "cad", count);
  r.queue_timeout = Seconds(timeout_s);
  return r;
}

TEST(QueueTest, FreedSeatGoesToTheFirstWaiter) {
  Engine engine = MakeEngine({Queueing(1)});
  const Lease a = LeaseOf(engine.Checkout(Req(Client("a"), "cad"), kT0));
  std::optional<Queued> b = QueuedOf(engine.Checkout(Waiting(Client("b")), kT0));
  std::optional<Queued> c = QueuedOf(engine.Checkout(Waiting(Client("c")), kT0));
  ASSERT_TRUE(b && c);
  EXPECT_EQ(b->position, 1u);
  EXPECT_EQ(c->position, 2u);
  QueueTicket tb = b->ticket;
  engine.TakeEvents();
  ASSERT_TRUE(std::holds_alternative<Released>(engine.Checkin(a.id, "a", 0, kT0 + Seconds(1))));
  std::vector<Event> events = engine.TakeEvents();
  std::optional<Event> d = FindEvent(events, EventKind::kDequeued);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->ticket, tb);
  EXPECT_EQ(d->client.client_id, "b");
  ASSERT_TRUE(d->lease.has_value());
  EXPECT_EQ(d->lease->issued_at, kT0 + Seconds(1));
  EXPECT_EQ(engine.UsageOf("cad", kT0 + Seconds(1))->queued, 1u);
}

TEST(QueueTest, NewcomersDoNotOvertakeABlockedHead) {
  Engine engine = MakeEngine({Queueing(3)});
  const Lease a = LeaseOf(engine.Checkout(Req(Client("a"), "cad", 2), kT0));
  ASSERT_TRUE(QueuedOf(engine.Checkout(Waiting(Client("b"), 3), kT0)));
  // One seat is free, but b waits first: c is refused (no timeout) or queued behind.
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("c"), "cad"), kT0)), DenialReason::kNoSeats);
  std::optional<Queued> d = QueuedOf(engine.Checkout(Waiting(Client("d")), kT0));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->position, 2u);
  engine.TakeEvents();
  ASSERT_TRUE(std::holds_alternative<Released>(engine.Checkin(a.id, "a", 0, kT0)));
  std::vector<Event> events = engine.TakeEvents();
  ASSERT_EQ(Kinds(events), (std::vector{EventKind::kReleased, EventKind::kDequeued}));
  EXPECT_EQ(events[1].client.client_id, "b");
}

TEST(QueueTest, WaiterTimesOutWithAnEvent) {
  Engine engine = MakeEngine({Queueing(1)});
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("a"), "cad"), kT0)));
  std::optional<Queued> b = QueuedOf(engine.Checkout(Waiting(Client("b"), 1, 10), kT0));
  ASSERT_TRUE(b);
  QueueTicket ticket = b->ticket;
  EXPECT_EQ(engine.NextDeadline(), kT0 + Seconds(10));
  engine.TakeEvents();
  engine.ExpireDue(kT0 + Seconds(9));
  EXPECT_TRUE(engine.TakeEvents().empty());
  engine.ExpireDue(kT0 + Seconds(10));
  std::vector<Event> events = engine.TakeEvents();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, EventKind::kQueueTimeout);
  EXPECT_EQ(events[0].ticket, ticket);
  EXPECT_EQ(events[0].reason, DenialReason::kQueueTimeout);
  EXPECT_FALSE(engine.CancelQueued(ticket, kT0 + Seconds(11)));
}

TEST(QueueTest, TimeoutIsCappedByTheFeature) {
  Feature f = Queueing(1);
  f.max_queue_timeout = Seconds(5);
  Engine engine = MakeEngine({f});
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("a"), "cad"), kT0)));
  ASSERT_TRUE(QueuedOf(engine.Checkout(Waiting(Client("b"), 1, 1000), kT0)));
  EXPECT_EQ(engine.NextDeadline(), kT0 + Seconds(5));
}

TEST(QueueTest, CancelledWaiterGetsAnEventAndLeavesTheLine) {
  Engine engine = MakeEngine({Queueing(1)});
  const Lease a = LeaseOf(engine.Checkout(Req(Client("a"), "cad"), kT0));
  QueueTicket b = QueuedOf(engine.Checkout(Waiting(Client("b")), kT0))->ticket;
  ASSERT_TRUE(QueuedOf(engine.Checkout(Waiting(Client("c")), kT0)));
  engine.TakeEvents();
  EXPECT_TRUE(engine.CancelQueued(b, kT0 + Seconds(1)));
  std::vector<Event> events = engine.TakeEvents();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, EventKind::kQueueCancelled);
  EXPECT_EQ(events[0].reason, DenialReason::kQueueCancelled);
  EXPECT_FALSE(engine.CancelQueued(b, kT0 + Seconds(1)));
  ASSERT_TRUE(std::holds_alternative<Released>(engine.Checkin(a.id, "a", 0, kT0 + Seconds(2))));
  EXPECT_EQ(FindEvent(engine.TakeEvents(), EventKind::kDequeued)->client.client_id, "c");
}

TEST(QueueTest, QueueLengthIsCappedAndQueueingMustBeAllowed) {
  Engine engine = MakeEngine({Queueing(1, 1)});
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("a"), "cad"), kT0)));
  ASSERT_TRUE(QueuedOf(engine.Checkout(Waiting(Client("b")), kT0)));
  EXPECT_EQ(DenialOf(engine.Checkout(Waiting(Client("c")), kT0)), DenialReason::kNoSeats);

  Engine no_queue = MakeEngine({Queueing(1, 0)});
  EXPECT_TRUE(IsGranted(no_queue.Checkout(Req(Client("a"), "cad"), kT0)));
  EXPECT_EQ(DenialOf(no_queue.Checkout(Waiting(Client("b")), kT0)), DenialReason::kNoSeats);
  // A request that can never fit is refused at once rather than queued.
  EXPECT_EQ(DenialOf(engine.Checkout(Waiting(Client("d"), 2), kT0)), DenialReason::kNoSeats);
}

TEST(QueueTest, ExpiryFreesSeatsForWaitersAtTheExpiryTime) {
  Engine engine = MakeEngine({Queueing(1)});
  const Lease a = LeaseOf(engine.Checkout(Req(Client("a"), "cad"), kT0));
  ASSERT_TRUE(QueuedOf(engine.Checkout(Waiting(Client("b"), 1, 200), kT0)));
  engine.TakeEvents();
  // Nothing is called until well after the expiry; the waiter is served as of the expiry.
  engine.ExpireDue(kT0 + Seconds(70));
  std::vector<Event> events = engine.TakeEvents();
  ASSERT_EQ(Kinds(events), (std::vector{EventKind::kExpired, EventKind::kDequeued}));
  EXPECT_EQ(events[0].at, a.expires_at);
  EXPECT_EQ(events[1].at, a.expires_at);
  EXPECT_EQ(events[1].lease->expires_at, a.expires_at + Seconds(60));
}

TEST(QueueTest, WaiterDeniedByANewRuleIsAnsweredWithItsTicket) {
  Engine engine = MakeEngine({Queueing(1)});
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("a"), "cad"), kT0)));
  QueueTicket t = QueuedOf(engine.Checkout(Waiting(Client("b")), kT0))->ticket;
  engine.TakeEvents();
  Rules rules;
  rules.deny = {AccessRule{"cad", Matcher{MatchKind::kUser, "user-b"}}};
  ASSERT_TRUE(engine.SetRules(rules, kT0).ok());
  // The waiter is answered at once rather than left waiting for a seat it cannot get.
  std::vector<Event> events = engine.TakeEvents();
  ASSERT_EQ(Kinds(events), (std::vector{EventKind::kDenied}));
  EXPECT_EQ(events[0].ticket, t);
  EXPECT_EQ(events[0].reason, DenialReason::kDeniedByRule);
  EXPECT_EQ(engine.UsageOf("cad", kT0)->queued, 0u);
}

TEST(QueueTest, ReloadWithMoreSeatsServesWaiters) {
  Engine engine = MakeEngine({Queueing(1)});
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("a"), "cad"), kT0)));
  QueueTicket t = QueuedOf(engine.Checkout(Waiting(Client("b")), kT0))->ticket;
  engine.TakeEvents();
  Entitlement more;
  more.features = {Queueing(2)};
  ASSERT_TRUE(engine.SetEntitlement(more, kT0 + Seconds(1)).ok());
  std::vector<Event> events = engine.TakeEvents();
  ASSERT_EQ(Kinds(events), (std::vector{EventKind::kDequeued}));
  EXPECT_EQ(events[0].ticket, t);
}

TEST(QueueTest, RuleChangeServesWaiters) {
  Rules r;
  r.reservations = {Reservation{"cad", 1, Matcher{MatchKind::kUser, "vip"}}};
  Engine engine = MakeEngine({Queueing(2)}, r);
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("a"), "cad"), kT0)));
  ASSERT_TRUE(QueuedOf(engine.Checkout(Waiting(Client("b")), kT0)));
  engine.TakeEvents();
  ASSERT_TRUE(engine.SetRules(Rules{}, kT0 + Seconds(1)).ok());
  EXPECT_EQ(Kinds(engine.TakeEvents()), (std::vector{EventKind::kDequeued}));
}

}  // namespace
}  // namespace tessera::engine::testing
