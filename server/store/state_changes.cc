#include "server/store/state_changes.h"

#include <algorithm>
#include <utility>

namespace tessera::store {

namespace {

using engine::Event;
using engine::EventKind;

void Upsert(StateChanges& c, const engine::Lease& lease) {
  c.deletes.erase(lease.id);
  c.upserts.insert_or_assign(lease.id, lease);
}

void Delete(StateChanges& c, engine::LeaseId id) {
  c.upserts.erase(id);
  c.deletes.insert(id);
}

}  // namespace

StateChanges DeriveChanges(const std::vector<Event>& events) {
  StateChanges c;
  for (const Event& e : events) {
    switch (e.kind) {
      case EventKind::kGranted:
      case EventKind::kDequeued:
        if (e.lease) {
          Upsert(c, *e.lease);
          c.next_lease_id_floor = std::max(c.next_lease_id_floor, e.lease->id + 1);
        }
        break;
      case EventKind::kRenewed:
      case EventKind::kReclaimed:
        if (e.lease) Upsert(c, *e.lease);
        break;
      case EventKind::kReleased:
        // With linger the seat stays held (a lingering snapshot); otherwise the lease ends.
        if (e.lease && e.lease->lingering) {
          Upsert(c, *e.lease);
        } else {
          Delete(c, e.lease_id);
        }
        break;
      case EventKind::kLingerEnded:
      case EventKind::kExpired:
      case EventKind::kRevoked:
        Delete(c, e.lease_id);
        break;
      case EventKind::kMeteredConsumed:
        c.metered_added[e.feature] += e.units;
        break;
      case EventKind::kDenied:
      case EventKind::kQueued:
      case EventKind::kQueueTimeout:
      case EventKind::kQueueCancelled:
      case EventKind::kOverdraftUsed:
        break;
    }
  }
  return c;
}

void MergeChanges(StateChanges& into, StateChanges later) {
  if (later.replace) {
    into = std::move(later);
    return;
  }
  for (engine::LeaseId id : later.deletes) Delete(into, id);
  for (auto& [id, lease] : later.upserts) Upsert(into, lease);
  for (const auto& [feature, units] : later.metered_added) into.metered_added[feature] += units;
  if (later.bindings) into.bindings = std::move(later.bindings);
  into.next_lease_id_floor = std::max(into.next_lease_id_floor, later.next_lease_id_floor);
}

Unit UnitFromEvents(std::vector<Event> events) {
  Unit u;
  u.changes = DeriveChanges(events);
  u.events = std::move(events);
  return u;
}

Unit FullStateUnit(engine::EngineState state, std::vector<Event> events) {
  Unit u;
  u.changes.replace = std::move(state);
  u.events = std::move(events);
  return u;
}

}  // namespace tessera::store
