// DeriveChanges and MergeChanges: pure functions from engine events to state changes.
#include "server/store/state_changes.h"

#include <gtest/gtest.h>

#include "tests/unit/store/store_test_util.h"

namespace tessera::store {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace)
using engine::EventKind;

engine::Event LeaseEvent(EventKind kind, const engine::Lease& lease) {
  engine::Event e;
  e.kind = kind;
  e.lease_id = lease.id;
  e.feature = lease.feature;
  e.lease = lease;
  return e;
}

TEST(StateChangesTest, RenewalsOfOneLeaseCoalesceIntoItsLatestSnapshot) {
  engine::Lease l = SampleLease(9);
  l.lingering = false;
  std::vector<engine::Event> events{LeaseEvent(EventKind::kGranted, l)};
  for (int i = 1; i <= 50; ++i) {
    l.expires_at += Seconds(10);
    events.push_back(LeaseEvent(EventKind::kRenewed, l));
  }
  StateChanges c = DeriveChanges(events);
  ASSERT_EQ(c.upserts.size(), 1u);
  EXPECT_EQ(c.upserts.at(9), l);
  EXPECT_TRUE(c.deletes.empty());
  EXPECT_EQ(c.next_lease_id_floor, 10u);
}

TEST(StateChangesTest, ReleaseWithLingerKeepsTheSeatWithoutLingerDeletes) {
  engine::Lease a = SampleLease(1);
  a.lingering = true;
  engine::Lease b = SampleLease(2);
  b.lingering = false;
  StateChanges c =
      DeriveChanges({LeaseEvent(EventKind::kReleased, a), LeaseEvent(EventKind::kReleased, b)});
  EXPECT_EQ(c.upserts.count(1), 1u);
  EXPECT_EQ(c.deletes, (std::set<engine::LeaseId>{2}));
  EXPECT_EQ(c.next_lease_id_floor, 0u);  // no grant
}

TEST(StateChangesTest, EndedThenResumedLeaseIsUpserted) {
  engine::Lease l = SampleLease(4);
  StateChanges c =
      DeriveChanges({LeaseEvent(EventKind::kGranted, l), LeaseEvent(EventKind::kExpired, l),
                     LeaseEvent(EventKind::kGranted, l)});
  EXPECT_EQ(c.upserts.count(4), 1u);
  EXPECT_TRUE(c.deletes.empty());
  StateChanges d =
      DeriveChanges({LeaseEvent(EventKind::kRenewed, l), LeaseEvent(EventKind::kRevoked, l)});
  EXPECT_TRUE(d.upserts.empty());
  EXPECT_EQ(d.deletes, (std::set<engine::LeaseId>{4}));
}

TEST(StateChangesTest, MeterDrawsAddUp) {
  engine::Event m;
  m.kind = EventKind::kMeteredConsumed;
  m.feature = "runs";
  m.units = 3;
  engine::Event n = m;
  n.units = 4;
  StateChanges c = DeriveChanges({m, n});
  EXPECT_EQ(c.metered_added, (std::map<std::string, uint64_t>{{"runs", 7}}));
}

TEST(StateChangesTest, MergeAppliesLaterChangesOnTop) {
  engine::Lease l = SampleLease(3);
  StateChanges first = DeriveChanges({LeaseEvent(EventKind::kGranted, l)});
  StateChanges second = DeriveChanges({LeaseEvent(EventKind::kExpired, l)});
  MergeChanges(first, second);
  EXPECT_TRUE(first.upserts.empty());
  EXPECT_EQ(first.deletes.count(3), 1u);
  EXPECT_EQ(first.next_lease_id_floor, 4u);

  // A full state discards what came before it; deltas after it stay.
  engine::EngineState full;
  full.next_lease_id = 2;
  MergeChanges(first, FullStateUnit(full).changes);
  EXPECT_TRUE(first.deletes.empty());
  ASSERT_TRUE(first.replace.has_value());
  MergeChanges(first, DeriveChanges({LeaseEvent(EventKind::kGranted, l)}));
  EXPECT_EQ(first.upserts.count(3), 1u);
  EXPECT_TRUE(first.replace.has_value());
}

TEST(StateChangesTest, EventsWithoutStateEffectChangeNothing) {
  engine::Event denied;
  denied.kind = EventKind::kDenied;
  engine::Event queued;
  queued.kind = EventKind::kQueued;
  EXPECT_TRUE(DeriveChanges({denied, queued}).empty());
}

}  // namespace
}  // namespace tessera::store
