// Views (usage) and the durable state (export, restore).
#include <algorithm>
#include <set>

#include "server/engine/engine_impl.h"

namespace tessera::engine {

FeatureUsage Engine::Impl::UsageOf(const Feature& f, TimePoint now) const {
  FeatureUsage u;
  u.name = f.name;
  u.model = f.model;
  u.version_min = f.version_min;
  u.version_max = f.version_max;
  u.seats = f.seats;
  u.in_use = UnitsHeld(f);
  if (HasSeatCap(f) && u.in_use > f.seats) u.overdraft_in_use = u.in_use - f.seats;
  auto rt = runtime_.find(f.name);
  if (rt != runtime_.end()) {
    for (LeaseId id : rt->second.leases) {
      const Lease& l = leases_.at(id);
      if (l.lingering) u.lingering += l.count;
      if (l.borrowed) u.borrowed += l.count;
    }
    u.queued = static_cast<uint32_t>(rt->second.queue.size());
  }
  u.starts_at = f.starts_at;
  u.ends_at = f.ends_at;
  u.in_grace = f.ends_at && now >= *f.ends_at && now < *f.ends_at + f.grace;
  if (f.model == LicenseModel::kMetered) u.metered_remaining = MeteredRemaining(f);
  u.pool = f.pool;
  if (const TokenPool* p = entitlement_.FindPool(f.pool)) {
    u.pool_tokens = p->tokens;
    u.pool_tokens_in_use = PoolTokensInUse(p->name);
  }
  u.borrowable = f.borrowable;
  return u;
}

EngineState Engine::Impl::ExportState() const {
  EngineState s;
  s.next_lease_id = next_lease_id_;
  for (const auto& [id, lease] : leases_) s.leases.push_back(lease);
  for (const auto& [seq, key] : binding_by_seq_) s.bindings.push_back(bindings_.at(key).binding);
  s.metered_consumed = metered_consumed_;
  return s;
}

Status Engine::Impl::RestoreState(const EngineState& state) {
  std::set<LeaseId> ids;
  for (const Lease& l : state.leases) {
    if (l.id == 0) return InvalidArgument("lease id 0 in restored state");
    if (!ids.insert(l.id).second) {
      return InvalidArgument("duplicate lease id " + std::to_string(l.id) + " in restored state");
    }
  }
  leases_.clear();
  runtime_.clear();
  bindings_.clear();
  binding_by_seq_.clear();
  nonces_.clear();
  waiting_.clear();
  deadlines_.clear();
  ended_.clear();
  ended_order_.clear();
  next_lease_id_ = std::max<LeaseId>(state.next_lease_id, 1);
  metered_consumed_ = state.metered_consumed;
  for (const Lease& l : state.leases) {
    if (FindFeature(l.feature) == nullptr) continue;
    const Lease& lease = leases_.emplace(l.id, l).first->second;
    IndexLease(lease);
  }
  for (const NamedUserBinding& b : state.bindings) {
    const Feature* f = FindFeature(b.feature);
    if (f == nullptr || f->model != LicenseModel::kNamedUser) continue;
    std::pair<std::string, std::string> key{b.feature, b.user};
    if (bindings_.contains(key)) continue;
    BindingRecord rec{b, ClientInfo{"", b.user, b.host}, next_binding_seq_++};
    binding_by_seq_[rec.seq] = key;
    deadlines_.insert({b.held_until, DeadlineKind::kBinding, rec.seq});
    bindings_.emplace(key, std::move(rec));
    runtime_[b.feature].bindings++;
  }
  queues_dirty_ = true;
  return Status::Ok();
}

}  // namespace tessera::engine
