// What one engine call changed in the durable state, derived from its events; and the unit
// of work the batch pipeline persists (docs/STORE.md "Batch pipeline").
//
// Pure functions and value types: no I/O. The server's engine executor builds one Unit per
// engine call (events from Engine::TakeEvents()) and submits it to the BatchWriter.
// Thread safety: value types.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/time.h"
#include "server/engine/engine.h"

namespace tessera::store {

// The bytes of a loaded entitlement or rules file, and when it was loaded.
struct LicenseFile {
  std::string content;
  TimePoint loaded_at{};

  friend bool operator==(const LicenseFile&, const LicenseFile&) = default;
};

// Changes to the durable state, applied in this order: `replace` (everything), lease
// deletes, lease upserts, metered additions, `bindings`, `next_lease_id_floor`.
struct StateChanges {
  // Replaces leases, bindings, counters and the next lease id wholesale. Used at startup,
  // after an entitlement reload, and to resynchronise after a failed batch.
  std::optional<engine::EngineState> replace;
  std::map<engine::LeaseId, engine::Lease> upserts;  // latest snapshot per lease
  std::set<engine::LeaseId> deletes;                 // never also in upserts
  std::map<std::string, uint64_t> metered_added;     // feature -> units drawn
  // The full set of named-user bindings, in the engine's order, when the caller has it
  // (the engine reports bindings through ExportState() only; events do not carry them).
  std::optional<std::vector<engine::NamedUserBinding>> bindings;
  // The stored next lease id becomes max(stored, this); 0 leaves it unchanged.
  engine::LeaseId next_lease_id_floor = 0;

  bool empty() const {
    return !replace && upserts.empty() && deletes.empty() && metered_added.empty() && !bindings &&
           next_lease_id_floor == 0;
  }
};

// Derives lease upserts/deletes, metered additions and the next-lease-id floor from the
// events of one or more engine calls, in order. Renewals of one lease coalesce into its
// latest snapshot. Exact for leases and counters because the engine reports every lease
// change with a snapshot and every meter draw with its units; not covered (the caller
// passes them explicitly): named-user bindings, and the silent changes of a reload
// (SetEntitlement caps expiries and drops bindings without events) or a restore.
StateChanges DeriveChanges(const std::vector<engine::Event>& events);

// Folds `later` into `into` so that applying the result equals applying `into`, then `later`.
void MergeChanges(StateChanges& into, StateChanges later);

// Everything one engine call (or one admin action) hands to the store.
struct Unit {
  std::vector<engine::Event> events;
  StateChanges changes;
  std::optional<LicenseFile> entitlement;  // a newly loaded entitlement file
  std::optional<LicenseFile> rules;        // a newly loaded rules file
};

// A unit for a call's events with the changes derived from them.
Unit UnitFromEvents(std::vector<engine::Event> events);

// A unit that replaces the whole durable state (startup, reload, resync).
Unit FullStateUnit(engine::EngineState state, std::vector<engine::Event> events = {});

}  // namespace tessera::store
