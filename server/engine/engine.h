// The licensing engine: a pure, single-threaded, deterministic state machine over the
// entitlement, the customer's rules and the leases (DESIGN.md §3, §5; docs/ENGINE.md).
//
// No I/O, no threads, no clock: `now` is an argument of every call and must not go backwards
// between calls (a smaller `now` is treated as the last one seen). Every call first applies
// everything due at or before `now` (expiries, linger ends, queue timeouts, named-user
// releases), in time order, so a lease whose expires_at <= now is gone for every call even
// if ExpireDue was never called. Same inputs, same outputs and same event stream.
//
// Outcomes are values; every state change is also reported as an Event, drained with
// TakeEvents(). Queued checkouts are answered through events (kDequeued, kQueueTimeout,
// kQueueCancelled, kDenied with the ticket).
//
// Thread safety: not thread-safe. One owner thread (the server's engine executor).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "server/engine/entitlement.h"
#include "server/engine/events.h"
#include "server/engine/lease.h"
#include "server/engine/rules.h"

namespace tessera::engine {

inline constexpr size_t kMaxNonceBytes = 64;
// The most units one checkout may draw from a metered feature.
inline constexpr uint64_t kMaxMeteredUnitsPerCheckout = 1'000'000'000'000;

struct EngineOptions {
  // The first lease id handed out (>= 1). The server seeds it so ids differ across restarts.
  LeaseId first_lease_id = 1;
  // How many ended leases are remembered to tell heartbeats "expired/revoked/released"
  // rather than "unknown".
  size_t max_remembered_ended_leases = 65536;
};

struct CheckoutRequest {
  ClientInfo client;  // client_id must be non-empty
  std::string feature;
  std::string version;        // dotted numeric, required
  uint32_t count = 1;         // >= 1 (the server maps the wire's 0 to 1); all or nothing
  std::string nonce;          // <= kMaxNonceBytes; a retry with the same nonce gets the same lease
  Duration queue_timeout{0};  // > 0: may wait up to this long (capped by the feature)
  Duration borrow_duration{0};             // > 0: an offline borrow lease of this length
  std::optional<LeaseId> resume_lease_id;  // resume a lease held before a blip or restart
  uint64_t metered_units = 1;  // metered, per-checkout: units drawn, 1..kMaxMeteredUnitsPerCheckout
};

struct Granted {
  Lease lease;
};
struct Queued {
  QueueTicket ticket = 0;
  uint32_t position = 0;  // 1 = next in line
};
struct Denied {
  DenialReason reason = DenialReason::kNoSeats;
  std::string detail;
};
using CheckoutOutcome = std::variant<Granted, Queued, Denied>;

struct Renewed {
  Lease lease;
};
struct Released {
  Lease lease;  // as it was checked in (lingering set when the seat lingers)
};
struct Lost {
  LossReason reason = LossReason::kUnknown;
};
using HeartbeatOutcome = std::variant<Renewed, Lost>;
using CheckinOutcome = std::variant<Released, Lost>;

// Status of one feature, for StatusReply and the admin console.
struct FeatureUsage {
  std::string name;
  LicenseModel model = LicenseModel::kConcurrent;
  std::string version_min;
  std::string version_max;
  uint32_t seats = 0;
  uint32_t in_use = 0;            // seats held (named user: users bound), incl. lingering
  uint32_t overdraft_in_use = 0;  // max(0, in_use - seats) under soft enforcement
  uint32_t lingering = 0;         // seats held by lingering leases
  uint32_t borrowed = 0;          // seats held by borrowed leases
  uint32_t queued = 0;            // waiters
  std::optional<TimePoint> starts_at;
  std::optional<TimePoint> ends_at;
  bool in_grace = false;          // now is past ends_at but inside the grace period
  int64_t metered_remaining = 0;  // metered: total - consumed (may be < 0 with overdraft)
  std::string pool;
  uint32_t pool_tokens = 0;
  uint32_t pool_tokens_in_use = 0;
  bool borrowable = false;
};

// A named-user seat: `user` holds one seat of `feature` until at least `held_until`, and
// for as long as it holds a lease of the feature.
struct NamedUserBinding {
  std::string feature;
  std::string user;
  std::string host;  // host of the checkout that created the binding (for host rules)
  TimePoint bound_at{};
  TimePoint held_until{};
  bool overdraft = false;

  friend bool operator==(const NamedUserBinding&, const NamedUserBinding&) = default;
};

// Everything the engine must keep across a restart. Queue waiters are not included (their
// connections do not survive a restart either).
struct EngineState {
  LeaseId next_lease_id = 1;
  std::vector<Lease> leases;  // ascending id
  std::vector<NamedUserBinding> bindings;
  std::map<std::string, uint64_t> metered_consumed;  // feature -> units consumed

  friend bool operator==(const EngineState&, const EngineState&) = default;
};

class Engine {
 public:
  // REQUIRES: ValidateEntitlement(entitlement) and ValidateRules(rules) are OK; use Create
  // to have them checked.
  Engine(EngineOptions options, Entitlement entitlement, Rules rules);
  static Result<Engine> Create(EngineOptions options, Entitlement entitlement, Rules rules);
  ~Engine();
  Engine(Engine&&) noexcept;
  Engine& operator=(Engine&&) noexcept;

  // Replaces the entitlement (a reload). Leases of features that stay (same name, model and
  // pool) keep running; leases of removed features, or whose model or pool changed, are
  // revoked (kRevoked), and their waiters denied NO_SUCH_FEATURE. Expiries past the new
  // end + grace are shortened to it. InvalidArgument (state unchanged) when invalid.
  Status SetEntitlement(Entitlement entitlement, TimePoint now);
  // Replaces the rules. Existing leases keep running; new checkouts and waiters see the new
  // rules. InvalidArgument (state unchanged) when invalid.
  Status SetRules(Rules rules, TimePoint now);
  const Entitlement& entitlement() const;
  const Rules& rules() const;

  // Grants, queues or denies. See docs/ENGINE.md for the check order.
  CheckoutOutcome Checkout(const CheckoutRequest& request, TimePoint now);
  // Extends a live lease of this client to now + ttl (never past end + grace; borrowed
  // leases keep their expiry). A lease of another client is kUnknown.
  HeartbeatOutcome Heartbeat(LeaseId lease_id, std::string_view client_id, TimePoint now);
  // Releases a lease of this client, drawing `metered_units_used` from per-use metered
  // features. With linger, the seat stays held until now + linger.
  CheckinOutcome Checkin(LeaseId lease_id, std::string_view client_id, uint64_t metered_units_used,
                         TimePoint now);
  // Withdraws a waiter (kQueueCancelled). False when the ticket is not waiting.
  bool CancelQueued(QueueTicket ticket, TimePoint now);
  // Ends a lease at once, no linger (kRevoked with `reason`). False when not live.
  bool Revoke(LeaseId lease_id, std::string_view reason, TimePoint now);
  // Applies everything due at or before now.
  void ExpireDue(TimePoint now);
  // The earliest pending lease expiry, linger end, queue timeout or named-user release.
  std::optional<TimePoint> NextDeadline() const;

  // Moves out the events produced since the last call.
  std::vector<Event> TakeEvents();

  // Status views. They apply what is due at `now` first (which may produce events).
  std::vector<FeatureUsage> Usage(TimePoint now);
  std::optional<FeatureUsage> UsageOf(std::string_view feature, TimePoint now);
  std::vector<Lease> LeasesOf(std::string_view client_id, TimePoint now);
  std::vector<Lease> AllLeases(TimePoint now);
  std::optional<Lease> FindLease(LeaseId lease_id, TimePoint now);

  // Durable state. Restore replaces leases, bindings, counters and the next id, and drops
  // waiters; leases of features the current entitlement lacks are dropped without events.
  // InvalidArgument (state unchanged) for duplicate or zero ids.
  EngineState ExportState() const;
  Status RestoreState(const EngineState& state);

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::engine
