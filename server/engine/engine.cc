// The Engine API and reloads. Every public call clamps `now` to be monotonic and applies
// what is due before doing its own work.
#include "server/engine/engine.h"

#include <algorithm>

#include "server/engine/engine_impl.h"

namespace tessera::engine {

Engine::Impl::Impl(EngineOptions options, Entitlement entitlement, Rules rules)
    : options_(options),
      entitlement_(std::move(entitlement)),
      rules_(std::move(rules)),
      next_lease_id_(std::max<LeaseId>(options.first_lease_id, 1)) {
  for (size_t i = 0; i < entitlement_.features.size(); ++i) {
    feature_index_[entitlement_.features[i].name] = i;
  }
}

TimePoint Engine::Impl::Clamp(TimePoint now) {
  last_now_ = std::max(last_now_, now);
  return last_now_;
}

const Feature* Engine::Impl::FindFeature(const std::string& name) const {
  auto it = feature_index_.find(name);
  return it == feature_index_.end() ? nullptr : &entitlement_.features[it->second];
}

void Engine::Impl::Emit(Event event) { events_.push_back(std::move(event)); }

Event Engine::Impl::MakeEvent(EventKind kind, TimePoint at, const Lease& lease) const {
  Event e;
  e.kind = kind;
  e.at = at;
  e.lease_id = lease.id;
  e.feature = lease.feature;
  e.client = lease.client;
  e.count = lease.count;
  e.lease = lease;
  return e;
}

namespace {

// Why a lease cannot survive a reload, or empty when it can.
std::string ReloadConflict(const Feature* old_f, const Feature* new_f) {
  if (new_f == nullptr) return "feature removed from the entitlement";
  if (old_f == nullptr) return {};
  if (old_f->model != new_f->model) return "feature licensing model changed";
  if (old_f->pool != new_f->pool) return "feature token pool changed";
  return {};
}

}  // namespace

// Ends what cannot survive the move to `next`: leases (revoked), waiters (denied) and
// named-user bindings of features that were removed or changed model or pool.
void Engine::Impl::DropConflicts(const Entitlement& next, TimePoint now) {
  auto conflicts = [&](const std::string& feature) {
    return !ReloadConflict(FindFeature(feature), next.FindFeature(feature)).empty();
  };
  std::vector<std::pair<LeaseId, std::string>> doomed;
  for (const auto& [id, lease] : leases_) {
    std::string why = ReloadConflict(FindFeature(lease.feature), next.FindFeature(lease.feature));
    if (!why.empty()) doomed.emplace_back(id, std::move(why));
  }
  for (const auto& [id, why] : doomed) Revoke(id, why, now);
  std::vector<QueueTicket> orphans;
  for (const auto& [ticket, feature] : waiting_) {
    if (conflicts(feature)) orphans.push_back(ticket);
  }
  for (QueueTicket t : orphans) {
    std::optional<Waiter> w = RemoveWaiter(t);
    EmitDenied(w->request, DenialReason::kNoSuchFeature, "feature changed by a reload", t, now);
  }
  std::erase_if(bindings_, [&](const auto& kv) {
    bool drop = conflicts(kv.first.first);
    if (drop) {
      binding_by_seq_.erase(kv.second.seq);
      runtime_[kv.first.first].bindings--;
    }
    return drop;
  });
}

Status Engine::Impl::SetEntitlement(Entitlement entitlement, TimePoint now) {
  TESSERA_RETURN_IF_ERROR(ValidateEntitlement(entitlement));
  now = Clamp(now);
  Advance(now);
  DropConflicts(entitlement, now);
  entitlement_ = std::move(entitlement);
  feature_index_.clear();
  for (size_t i = 0; i < entitlement_.features.size(); ++i) {
    feature_index_[entitlement_.features[i].name] = i;
  }
  for (auto& [id, lease] : leases_) {
    TimePoint capped = CapExpiry(FindFeature(lease.feature), lease.expires_at);
    if (capped < lease.expires_at) SetExpiry(lease, capped);
  }
  Advance(now);
  queues_dirty_ = true;  // seats, pools or terms may have changed
  ServeQueues(now);
  return Status::Ok();
}

Status Engine::Impl::SetRules(Rules rules, TimePoint now) {
  TESSERA_RETURN_IF_ERROR(ValidateRules(rules));
  now = Clamp(now);
  Advance(now);
  rules_ = std::move(rules);
  queues_dirty_ = true;  // reservations and maxima may have changed
  ServeQueues(now);
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------
// Engine: forwarding.

Engine::Engine(EngineOptions options, Entitlement entitlement, Rules rules)
    : impl_(std::make_unique<Impl>(options, std::move(entitlement), std::move(rules))) {}

Result<Engine> Engine::Create(EngineOptions options, Entitlement entitlement, Rules rules) {
  TESSERA_RETURN_IF_ERROR(ValidateEntitlement(entitlement));
  TESSERA_RETURN_IF_ERROR(ValidateRules(rules));
  return Engine(options, std::move(entitlement), std::move(rules));
}

Engine::~Engine() = default;
Engine::Engine(Engine&&) noexcept = default;
Engine& Engine::operator=(Engine&&) noexcept = default;

Status Engine::SetEntitlement(Entitlement entitlement, TimePoint now) {
  return impl_->SetEntitlement(std::move(entitlement), now);
}
Status Engine::SetRules(Rules rules, TimePoint now) {
  return impl_->SetRules(std::move(rules), now);
}
const Entitlement& Engine::entitlement() const { return impl_->entitlement_; }
const Rules& Engine::rules() const { return impl_->rules_; }

CheckoutOutcome Engine::Checkout(const CheckoutRequest& request, TimePoint now) {
  return impl_->Checkout(request, now);
}
HeartbeatOutcome Engine::Heartbeat(LeaseId lease_id, std::string_view client_id, TimePoint now) {
  return impl_->Heartbeat(lease_id, client_id, now);
}
CheckinOutcome Engine::Checkin(LeaseId lease_id, std::string_view client_id,
                               uint64_t metered_units_used, TimePoint now) {
  return impl_->Checkin(lease_id, client_id, metered_units_used, now);
}
bool Engine::CancelQueued(QueueTicket ticket, TimePoint now) {
  return impl_->CancelQueued(ticket, now);
}
bool Engine::Revoke(LeaseId lease_id, std::string_view reason, TimePoint now) {
  now = impl_->Clamp(now);
  impl_->Advance(now);
  bool revoked = impl_->Revoke(lease_id, reason, now);
  if (revoked) impl_->ServeQueues(now);
  return revoked;
}
void Engine::ExpireDue(TimePoint now) { impl_->Advance(impl_->Clamp(now)); }

std::optional<TimePoint> Engine::NextDeadline() const {
  if (impl_->deadlines_.empty()) return std::nullopt;
  return impl_->deadlines_.begin()->at;
}

std::vector<Event> Engine::TakeEvents() {
  std::vector<Event> out;
  out.swap(impl_->events_);
  return out;
}

std::vector<FeatureUsage> Engine::Usage(TimePoint now) {
  ExpireDue(now);
  std::vector<FeatureUsage> out;
  for (const Feature& f : impl_->entitlement_.features) {
    out.push_back(impl_->UsageOf(f, impl_->last_now_));
  }
  return out;
}

std::optional<FeatureUsage> Engine::UsageOf(std::string_view feature, TimePoint now) {
  ExpireDue(now);
  const Feature* f = impl_->FindFeature(std::string(feature));
  if (f == nullptr) return std::nullopt;
  return impl_->UsageOf(*f, impl_->last_now_);
}

std::vector<Lease> Engine::LeasesOf(std::string_view client_id, TimePoint now) {
  ExpireDue(now);
  std::vector<Lease> out;
  for (const auto& [id, lease] : impl_->leases_) {
    if (lease.client.client_id == client_id) out.push_back(lease);
  }
  return out;
}

std::vector<Lease> Engine::AllLeases(TimePoint now) {
  ExpireDue(now);
  std::vector<Lease> out;
  for (const auto& [id, lease] : impl_->leases_) out.push_back(lease);
  return out;
}

std::optional<Lease> Engine::FindLease(LeaseId lease_id, TimePoint now) {
  ExpireDue(now);
  auto it = impl_->leases_.find(lease_id);
  if (it == impl_->leases_.end()) return std::nullopt;
  return it->second;
}

EngineState Engine::ExportState() const { return impl_->ExportState(); }
Status Engine::RestoreState(const EngineState& state) { return impl_->RestoreState(state); }

}  // namespace tessera::engine
