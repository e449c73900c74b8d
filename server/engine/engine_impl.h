// Internal: the engine's state and its operations, split across .cc files by concern
// (engine.cc: API and reloads; checkout.cc: the check pipeline; capacity.cc: seats, pools,
// reservations, maxima, meters; queue.cc: waiters; leases.cc: grant, end, time;
// state.cc: views, export and restore). Not part of the API.
#pragma once

#include <deque>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "server/engine/engine.h"

namespace tessera::engine {

// Something that happens at a point in time.
enum class DeadlineKind { kLease = 0, kBinding = 1, kWaiter = 2 };
struct Deadline {
  TimePoint at;
  DeadlineKind kind;
  uint64_t id;  // lease id, binding sequence number or ticket
  auto operator<=>(const Deadline&) const = default;
};

struct Waiter {
  QueueTicket ticket = 0;
  CheckoutRequest request;
  TimePoint deadline{};
};

struct BindingRecord {
  NamedUserBinding binding;
  ClientInfo who;    // user and host of the binding, for rule matching
  uint64_t seq = 0;  // creation order; reservations are assigned in this order
};

// Who holds seat units of a feature: a lease (or, for named users, a binding).
struct Holder {
  const ClientInfo* who;
  uint32_t units;
};

// True when the feature limits seats (concurrent and named user always; token pool and
// metered only with seats > 0).
bool HasSeatCap(const Feature& f);

// Per-feature bookkeeping, kept in step with leases_ and bindings_ so that a checkout costs
// O(log n) unless reservations or maxima make it look at the holders.
struct FeatureRuntime {
  std::set<LeaseId> leases;
  std::deque<Waiter> queue;
  uint64_t lease_units = 0;                     // sum of lease counts
  uint64_t tokens = 0;                          // pool tokens held by its leases
  uint32_t bindings = 0;                        // named-user bindings
  std::set<LeaseId> lingering;                  // lingering leases
  std::map<std::string, uint32_t> user_leases;  // user -> live leases
};

// The result of evaluating a checkout against the feature, rules and capacity.
struct Decision {
  bool granted = false;
  DenialReason reason = DenialReason::kNoSeats;
  std::string detail;
  bool can_ever_fit = true;  // false: no amount of waiting helps
  uint32_t overdraft_units = 0;
  uint32_t tokens = 0;
  bool in_grace = false;
  bool needs_binding = false;  // named user: a new binding is created
};

class Engine::Impl {
 public:
  Impl(EngineOptions options, Entitlement entitlement, Rules rules);

  // engine.cc
  Status SetEntitlement(Entitlement entitlement, TimePoint now);
  void DropConflicts(const Entitlement& next, TimePoint now);
  Status SetRules(Rules rules, TimePoint now);
  TimePoint Clamp(TimePoint now);
  const Feature* FindFeature(const std::string& name) const;
  void Emit(Event event);
  Event MakeEvent(EventKind kind, TimePoint at, const Lease& lease) const;

  // checkout.cc
  CheckoutOutcome Checkout(const CheckoutRequest& request, TimePoint now);
  std::optional<Denied> ValidateRequest(const CheckoutRequest& request) const;
  std::optional<CheckoutOutcome> TryExisting(const CheckoutRequest& request, TimePoint now);
  Decision Evaluate(const CheckoutRequest& request, TimePoint now, bool from_queue) const;
  std::optional<Decision> CheckFeatureTerms(const Feature& f, const CheckoutRequest& request,
                                            TimePoint now) const;
  std::optional<Decision> CheckRules(const Feature& f, const CheckoutRequest& request) const;
  CheckoutOutcome DenyOrQueue(const CheckoutRequest& request, const Decision& d, TimePoint now);
  void EmitDenied(const CheckoutRequest& request, DenialReason reason, const std::string& detail,
                  QueueTicket ticket, TimePoint now);

  // capacity.cc
  std::vector<Holder> Holders(const Feature& f) const;
  uint32_t UnitsHeld(const Feature& f) const;
  uint32_t UnitsNeeded(const Feature& f, const CheckoutRequest& request) const;
  std::vector<uint32_t> ReservationRemainders(const Feature& f) const;
  uint32_t ReservedForOthers(const Feature& f, const ClientInfo& client) const;
  uint32_t PoolTokensInUse(const std::string& pool) const;
  int64_t MeteredRemaining(const Feature& f) const;
  std::optional<Decision> CheckMaxima(const Feature& f, const CheckoutRequest& request) const;
  std::optional<Decision> CheckMeter(const Feature& f, const CheckoutRequest& request) const;
  Decision CheckCapacity(const Feature& f, const CheckoutRequest& request, bool from_queue) const;
  uint64_t DrawMeter(const Feature& f, uint64_t units);

  // queue.cc
  CheckoutOutcome Enqueue(const CheckoutRequest& request, const Feature& f, TimePoint now);
  void ServeQueues(TimePoint now);
  bool ServeHead(const std::string& feature, TimePoint now);
  bool CancelQueued(QueueTicket ticket, TimePoint now);
  void TimeoutWaiter(QueueTicket ticket, TimePoint at);
  std::optional<Waiter> RemoveWaiter(QueueTicket ticket);

  // leases.cc
  Lease& Grant(const CheckoutRequest& request, const Feature& f, const Decision& d, TimePoint now,
               EventKind kind, QueueTicket ticket);
  // A presented (resumed) id is kept only when no live lease has it, it was issued before
  // (below next_lease_id_), and it did not end for another client; else the next free id.
  LeaseId AllocateId(const std::optional<LeaseId>& wanted, const std::string& client_id);
  TimePoint CapExpiry(const Feature* f, TimePoint t) const;
  void SetExpiry(Lease& lease, TimePoint t);
  Lease EndLease(LeaseId id, LossReason why);  // no events; callers emit
  void AfterLeaseEnded(const Lease& lease, TimePoint at);
  void Renew(Lease& lease, TimePoint now, EventKind kind);
  HeartbeatOutcome Heartbeat(LeaseId id, std::string_view client_id, TimePoint now);
  CheckinOutcome Checkin(LeaseId id, std::string_view client_id, uint64_t units, TimePoint now);
  bool Revoke(LeaseId id, std::string_view reason, TimePoint now);
  Lost LostFor(LeaseId id, std::string_view client_id) const;
  void Advance(TimePoint now);
  void HandleDeadline(Deadline d);
  void BindUser(const Feature& f, const ClientInfo& client, bool overdraft, TimePoint now);
  void MaybeReleaseBinding(const std::string& feature, const std::string& user, TimePoint at);
  bool UserHasLease(const std::string& feature, const std::string& user) const;

  // state.cc
  FeatureUsage UsageOf(const Feature& f, TimePoint now) const;
  EngineState ExportState() const;
  Status RestoreState(const EngineState& state);
  void IndexLease(const Lease& lease);

  EngineOptions options_;
  Entitlement entitlement_;
  Rules rules_;
  std::map<std::string, size_t, std::less<>> feature_index_;  // name -> entitlement_ position
  TimePoint last_now_{};
  LeaseId next_lease_id_;
  QueueTicket next_ticket_ = 1;
  uint64_t next_binding_seq_ = 1;
  std::map<LeaseId, Lease> leases_;
  std::map<std::string, FeatureRuntime, std::less<>> runtime_;             // by feature name
  std::map<std::pair<std::string, std::string>, BindingRecord> bindings_;  // (feature, user)
  std::map<uint64_t, std::pair<std::string, std::string>> binding_by_seq_;
  std::map<std::string, uint64_t> metered_consumed_;
  std::map<std::tuple<std::string, std::string, std::string>, LeaseId> nonces_;
  std::map<QueueTicket, std::string> waiting_;  // ticket -> feature
  std::set<Deadline> deadlines_;
  struct Ended {
    std::string client_id;
    LossReason reason;
  };
  std::map<LeaseId, Ended> ended_;
  std::deque<LeaseId> ended_order_;
  std::vector<Event> events_;
  bool queues_dirty_ = false;  // capacity may have been freed since the queues were served
};

}  // namespace tessera::engine
