// Leases over time: grant, renew, check in, revoke, expire; named-user bindings; the
// deadline loop that makes every call see the state exactly as of `now`.
#include <algorithm>

#include "server/engine/engine_impl.h"

namespace tessera::engine {

LeaseId Engine::Impl::AllocateId(const std::optional<LeaseId>& wanted,
                                 const std::string& client_id) {
  if (wanted && *wanted != 0 && *wanted < next_lease_id_ && !leases_.contains(*wanted)) {
    auto ended = ended_.find(*wanted);
    if (ended == ended_.end() || ended->second.client_id == client_id) {
      ended_.erase(*wanted);
      return *wanted;
    }
  }
  while (next_lease_id_ == 0 || leases_.contains(next_lease_id_)) ++next_lease_id_;
  ended_.erase(next_lease_id_);
  return next_lease_id_++;
}

TimePoint Engine::Impl::CapExpiry(const Feature* f, TimePoint t) const {
  if (f != nullptr && f->ends_at) return std::min(t, *f->ends_at + f->grace);
  return t;
}

void Engine::Impl::SetExpiry(Lease& lease, TimePoint t) {
  deadlines_.erase({lease.expires_at, DeadlineKind::kLease, lease.id});
  lease.expires_at = t;
  deadlines_.insert({t, DeadlineKind::kLease, lease.id});
}

Lease& Engine::Impl::Grant(const CheckoutRequest& r, const Feature& f, const Decision& d,
                           TimePoint now, EventKind kind, QueueTicket ticket) {
  Lease l;
  l.id = AllocateId(r.resume_lease_id, r.client.client_id);
  l.feature = f.name;
  l.version = r.version;
  l.count = r.count;
  l.client = r.client;
  l.nonce = r.nonce;
  l.issued_at = now;
  l.borrowed = r.borrow_duration.count() > 0;
  l.expires_at = CapExpiry(&f, now + (l.borrowed ? r.borrow_duration : f.lease_ttl));
  l.heartbeat_interval = l.borrowed ? Duration{0} : f.heartbeat_interval;
  l.overdraft = d.overdraft_units > 0;
  l.in_grace = d.in_grace;
  l.tokens = d.tokens;
  if (f.model == LicenseModel::kMetered && f.meter_mode == MeterMode::kPerCheckout) {
    l.metered_units = DrawMeter(f, r.metered_units);
  }
  if (d.needs_binding) BindUser(f, r.client, l.overdraft, now);
  Lease& lease = leases_.emplace(l.id, std::move(l)).first->second;
  IndexLease(lease);
  Event e = MakeEvent(kind, now, lease);
  e.ticket = ticket;
  Emit(std::move(e));
  if (d.overdraft_units > 0) {
    Event o = MakeEvent(EventKind::kOverdraftUsed, now, lease);
    o.count = d.overdraft_units;
    o.lease.reset();
    Emit(std::move(o));
  }
  if (lease.metered_units > 0) {
    Event m = MakeEvent(EventKind::kMeteredConsumed, now, lease);
    m.units = lease.metered_units;
    m.metered_remaining = MeteredRemaining(f);
    m.lease.reset();
    Emit(std::move(m));
  }
  return lease;
}

// Adds a lease to the per-feature set, the nonce index and the deadlines.
void Engine::Impl::IndexLease(const Lease& lease) {
  FeatureRuntime& rt = runtime_[lease.feature];
  rt.leases.insert(lease.id);
  rt.lease_units += lease.count;
  rt.tokens += lease.tokens;
  rt.user_leases[lease.client.user]++;
  if (lease.lingering) rt.lingering.insert(lease.id);
  if (!lease.nonce.empty() && !lease.lingering) {
    nonces_[{lease.client.client_id, lease.feature, lease.nonce}] = lease.id;
  }
  deadlines_.insert({lease.expires_at, DeadlineKind::kLease, lease.id});
}

void Engine::Impl::Renew(Lease& lease, TimePoint now, EventKind kind) {
  const Feature* f = FindFeature(lease.feature);
  if (lease.lingering) {
    lease.lingering = false;
    runtime_[lease.feature].lingering.erase(lease.id);
    lease.borrowed = false;
    if (!lease.nonce.empty()) {
      nonces_[{lease.client.client_id, lease.feature, lease.nonce}] = lease.id;
    }
  }
  if (!lease.borrowed) {
    SetExpiry(lease, CapExpiry(f, now + f->lease_ttl));
    lease.heartbeat_interval = f->heartbeat_interval;
  }
  Emit(MakeEvent(kind, now, lease));
}

Lease Engine::Impl::EndLease(LeaseId id, LossReason why) {
  auto it = leases_.find(id);
  Lease l = std::move(it->second);
  leases_.erase(it);
  deadlines_.erase({l.expires_at, DeadlineKind::kLease, id});
  FeatureRuntime& rt = runtime_[l.feature];
  rt.leases.erase(id);
  rt.lease_units -= l.count;
  rt.tokens -= l.tokens;
  rt.lingering.erase(id);
  if (--rt.user_leases[l.client.user] == 0) rt.user_leases.erase(l.client.user);
  auto n = nonces_.find({l.client.client_id, l.feature, l.nonce});
  if (n != nonces_.end() && n->second == id) nonces_.erase(n);
  ended_[id] = Ended{l.client.client_id, why};
  ended_order_.push_back(id);
  while (ended_order_.size() > options_.max_remembered_ended_leases) {
    LeaseId old = ended_order_.front();
    ended_order_.pop_front();
    if (!leases_.contains(old)) ended_.erase(old);
  }
  queues_dirty_ = true;
  return l;
}

Lost Engine::Impl::LostFor(LeaseId id, std::string_view client_id) const {
  auto it = ended_.find(id);
  if (it == ended_.end() || it->second.client_id != client_id) return Lost{LossReason::kUnknown};
  return Lost{it->second.reason};
}

HeartbeatOutcome Engine::Impl::Heartbeat(LeaseId id, std::string_view client_id, TimePoint now) {
  now = Clamp(now);
  Advance(now);
  auto it = leases_.find(id);
  if (it == leases_.end() || it->second.client.client_id != client_id) {
    return LostFor(id, client_id);
  }
  if (it->second.lingering) return Lost{LossReason::kReleased};
  Renew(it->second, now, EventKind::kRenewed);
  return Renewed{it->second};
}

CheckinOutcome Engine::Impl::Checkin(LeaseId id, std::string_view client_id, uint64_t units,
                                     TimePoint now) {
  now = Clamp(now);
  Advance(now);
  auto it = leases_.find(id);
  if (it == leases_.end() || it->second.client.client_id != client_id) {
    return LostFor(id, client_id);
  }
  Lease& lease = it->second;
  if (lease.lingering) return Lost{LossReason::kReleased};
  const Feature& f = *FindFeature(lease.feature);
  if (f.model == LicenseModel::kMetered && f.meter_mode == MeterMode::kPerUse && units > 0) {
    uint64_t drawn = DrawMeter(f, units);
    lease.metered_units += drawn;
    Event m = MakeEvent(EventKind::kMeteredConsumed, now, lease);
    m.units = drawn;
    m.metered_remaining = MeteredRemaining(f);
    m.detail = drawn < units ? std::to_string(units) + " units reported" : "";
    m.lease.reset();
    Emit(std::move(m));
  }
  if (f.linger.count() > 0) {
    lease.lingering = true;
    runtime_[lease.feature].lingering.insert(lease.id);
    nonces_.erase({lease.client.client_id, lease.feature, lease.nonce});
    SetExpiry(lease, CapExpiry(&f, now + f.linger));
    Emit(MakeEvent(EventKind::kReleased, now, lease));
    return Released{lease};
  }
  Emit(MakeEvent(EventKind::kReleased, now, lease));
  Lease ended = EndLease(id, LossReason::kReleased);
  AfterLeaseEnded(ended, now);
  ServeQueues(now);
  return Released{ended};
}

bool Engine::Impl::Revoke(LeaseId id, std::string_view reason, TimePoint now) {
  if (!leases_.contains(id)) return false;
  Lease l = EndLease(id, LossReason::kRevoked);
  Event e = MakeEvent(EventKind::kRevoked, now, l);
  e.detail = std::string(reason);
  Emit(std::move(e));
  AfterLeaseEnded(l, now);
  return true;
}

void Engine::Impl::Advance(TimePoint now) {
  while (!deadlines_.empty() && deadlines_.begin()->at <= now) {
    TimePoint t = deadlines_.begin()->at;
    while (!deadlines_.empty() && deadlines_.begin()->at == t &&
           deadlines_.begin()->kind != DeadlineKind::kWaiter) {
      HandleDeadline(*deadlines_.begin());
    }
    ServeQueues(t);
    while (!deadlines_.empty() && deadlines_.begin()->at == t &&
           deadlines_.begin()->kind == DeadlineKind::kWaiter) {
      HandleDeadline(*deadlines_.begin());
    }
    ServeQueues(t);
  }
  ServeQueues(now);
}

void Engine::Impl::HandleDeadline(Deadline d) {
  deadlines_.erase(d);
  switch (d.kind) {
    case DeadlineKind::kLease: {
      bool lingering = leases_.at(d.id).lingering;
      Lease l = EndLease(d.id, lingering ? LossReason::kReleased : LossReason::kExpired);
      Emit(MakeEvent(lingering ? EventKind::kLingerEnded : EventKind::kExpired, d.at, l));
      AfterLeaseEnded(l, d.at);
      break;
    }
    case DeadlineKind::kBinding: {
      auto it = binding_by_seq_.find(d.id);
      if (it != binding_by_seq_.end()) {
        auto key = it->second;
        MaybeReleaseBinding(key.first, key.second, d.at);
      }
      break;
    }
    case DeadlineKind::kWaiter:
      TimeoutWaiter(d.id, d.at);
      break;
  }
}

void Engine::Impl::AfterLeaseEnded(const Lease& l, TimePoint at) {
  const Feature* f = FindFeature(l.feature);
  if (f != nullptr && f->model == LicenseModel::kNamedUser) {
    MaybeReleaseBinding(l.feature, l.client.user, at);
  }
}

void Engine::Impl::BindUser(const Feature& f, const ClientInfo& client, bool overdraft,
                            TimePoint now) {
  std::pair<std::string, std::string> key{f.name, client.user};
  if (bindings_.contains(key)) return;
  BindingRecord rec;
  rec.binding = {f.name, client.user, client.host, now, now + f.named_user_min_period, overdraft};
  rec.who = ClientInfo{"", client.user, client.host};
  rec.seq = next_binding_seq_++;
  binding_by_seq_[rec.seq] = key;
  deadlines_.insert({rec.binding.held_until, DeadlineKind::kBinding, rec.seq});
  bindings_.emplace(key, std::move(rec));
  runtime_[f.name].bindings++;
}

void Engine::Impl::MaybeReleaseBinding(const std::string& feature, const std::string& user,
                                       TimePoint at) {
  auto it = bindings_.find({feature, user});
  if (it == bindings_.end() || at < it->second.binding.held_until) return;
  if (UserHasLease(feature, user)) return;
  deadlines_.erase({it->second.binding.held_until, DeadlineKind::kBinding, it->second.seq});
  binding_by_seq_.erase(it->second.seq);
  bindings_.erase(it);
  runtime_[feature].bindings--;
  queues_dirty_ = true;
}

bool Engine::Impl::UserHasLease(const std::string& feature, const std::string& user) const {
  auto rt = runtime_.find(feature);
  if (rt == runtime_.end()) return false;
  return rt->second.user_leases.contains(user);
}

}  // namespace tessera::engine
