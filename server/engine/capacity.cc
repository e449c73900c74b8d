// Capacity: seat units held, reservations, maxima, token pools and meters.
//
// A feature's seat units are held by its leases (count each) or, for named-user features,
// by its user bindings (one each). Reservations are assigned to holders greedily in a fixed
// order (lease id, binding creation order): each holder fills the first reservations it
// matches. Reserved units nobody fills are unavailable to clients the reservation does not
// match.
#include <algorithm>
#include <limits>

#include "server/engine/engine_impl.h"

namespace tessera::engine {

bool HasSeatCap(const Feature& f) {
  return f.model == LicenseModel::kConcurrent || f.model == LicenseModel::kNamedUser || f.seats > 0;
}

std::vector<Holder> Engine::Impl::Holders(const Feature& f) const {
  std::vector<Holder> out;
  if (f.model == LicenseModel::kNamedUser) {
    std::vector<const BindingRecord*> recs;
    for (auto it = bindings_.lower_bound({f.name, ""});
         it != bindings_.end() && it->first.first == f.name; ++it) {
      recs.push_back(&it->second);
    }
    std::sort(recs.begin(), recs.end(), [](auto* a, auto* b) { return a->seq < b->seq; });
    for (const BindingRecord* r : recs) out.push_back({&r->who, 1});
    return out;
  }
  auto rt = runtime_.find(f.name);
  if (rt == runtime_.end()) return out;
  for (LeaseId id : rt->second.leases) {
    const Lease& l = leases_.at(id);
    out.push_back({&l.client, l.count});
  }
  return out;
}

uint32_t Engine::Impl::UnitsHeld(const Feature& f) const {
  auto rt = runtime_.find(f.name);
  if (rt == runtime_.end()) return 0;
  uint64_t sum = f.model == LicenseModel::kNamedUser ? rt->second.bindings : rt->second.lease_units;
  return static_cast<uint32_t>(std::min<uint64_t>(sum, std::numeric_limits<uint32_t>::max()));
}

uint32_t Engine::Impl::UnitsNeeded(const Feature& f, const CheckoutRequest& r) const {
  if (f.model == LicenseModel::kNamedUser) {
    return bindings_.contains({f.name, r.client.user}) ? 0 : 1;
  }
  return r.count;
}

std::vector<uint32_t> Engine::Impl::ReservationRemainders(const Feature& f) const {
  std::vector<const Reservation*> mine;
  std::vector<uint32_t> left;
  for (const Reservation& r : rules_.reservations) {
    if (r.feature != f.name) continue;
    mine.push_back(&r);
    left.push_back(r.seats);
  }
  if (mine.empty()) return left;
  for (const Holder& h : Holders(f)) {
    uint32_t units = h.units;
    for (size_t i = 0; i < mine.size() && units > 0; ++i) {
      if (left[i] == 0 || !rules_.Matches(mine[i]->who, *h.who)) continue;
      uint32_t take = std::min(units, left[i]);
      left[i] -= take;
      units -= take;
    }
  }
  return left;
}

uint32_t Engine::Impl::ReservedForOthers(const Feature& f, const ClientInfo& client) const {
  std::vector<uint32_t> left = ReservationRemainders(f);
  uint64_t blocked = 0;
  size_t i = 0;
  for (const Reservation& r : rules_.reservations) {
    if (r.feature != f.name) continue;
    if (!rules_.Matches(r.who, client)) blocked += left[i];
    ++i;
  }
  return static_cast<uint32_t>(std::min<uint64_t>(blocked, std::numeric_limits<uint32_t>::max()));
}

uint32_t Engine::Impl::PoolTokensInUse(const std::string& pool) const {
  uint64_t sum = 0;
  for (const Feature& f : entitlement_.features) {
    if (f.model != LicenseModel::kTokenPool || f.pool != pool) continue;
    auto rt = runtime_.find(f.name);
    if (rt != runtime_.end()) sum += rt->second.tokens;
  }
  return static_cast<uint32_t>(std::min<uint64_t>(sum, std::numeric_limits<uint32_t>::max()));
}

int64_t Engine::Impl::MeteredRemaining(const Feature& f) const {
  auto it = metered_consumed_.find(f.name);
  uint64_t consumed = it == metered_consumed_.end() ? 0 : it->second;
  return static_cast<int64_t>(f.metered_total) - static_cast<int64_t>(consumed);
}

std::optional<Decision> Engine::Impl::CheckMaxima(const Feature& f,
                                                  const CheckoutRequest& r) const {
  uint32_t need = UnitsNeeded(f, r);
  if (need == 0) return std::nullopt;
  std::vector<Holder> holders;
  bool loaded = false;
  for (const MaxRule& m : rules_.maxima) {
    if (m.feature != f.name || !rules_.Matches(m.who, r.client)) continue;
    if (!loaded) holders = Holders(f), loaded = true;
    bool each_user = m.who.kind == MatchKind::kUser && m.who.name == "*";
    uint64_t held = 0;
    for (const Holder& h : holders) {
      bool counts = each_user ? h.who->user == r.client.user : rules_.Matches(m.who, *h.who);
      if (counts) held += h.units;
    }
    if (held + need <= m.max) continue;
    Decision d;
    d.reason = m.who.kind == MatchKind::kUser ? DenialReason::kOverUserMaximum
                                              : DenialReason::kOverGroupMaximum;
    d.detail = "maximum " + std::to_string(m.max) + " for " + m.who.name + ", holding " +
               std::to_string(held);
    d.can_ever_fit = need <= m.max;
    return d;
  }
  return std::nullopt;
}

std::optional<Decision> Engine::Impl::CheckMeter(const Feature& f, const CheckoutRequest& r) const {
  if (f.model != LicenseModel::kMetered) return std::nullopt;
  int64_t floor = -static_cast<int64_t>(f.metered_overdraft);
  int64_t want =
      f.meter_mode == MeterMode::kPerCheckout ? static_cast<int64_t>(r.metered_units) : 1;
  int64_t remaining = MeteredRemaining(f);
  if (remaining - want >= floor) return std::nullopt;
  Decision d;
  d.reason = DenialReason::kMeteredExhausted;
  d.detail = std::to_string(remaining) + " units left";
  return d;
}

uint64_t Engine::Impl::DrawMeter(const Feature& f, uint64_t units) {
  int64_t floor = -static_cast<int64_t>(f.metered_overdraft);
  int64_t room = std::max<int64_t>(0, MeteredRemaining(f) - floor);
  uint64_t draw = std::min<uint64_t>(units, static_cast<uint64_t>(room));
  metered_consumed_[f.name] += draw;
  return draw;
}

namespace {

Decision NoSeats(std::string detail, bool can_ever_fit) {
  Decision d;
  d.reason = DenialReason::kNoSeats;
  d.detail = std::move(detail);
  d.can_ever_fit = can_ever_fit;
  return d;
}

}  // namespace

Decision Engine::Impl::CheckCapacity(const Feature& f, const CheckoutRequest& r,
                                     bool from_queue) const {
  uint32_t need = UnitsNeeded(f, r);
  bool soft = f.enforcement == Enforcement::kSoft;
  Decision d;
  if (HasSeatCap(f) && need > 0) {
    uint64_t limit = uint64_t{f.seats} + (soft ? f.overdraft : 0);
    if (need > limit) return NoSeats("count exceeds the feature's seats", false);
    uint64_t used = uint64_t{UnitsHeld(f)} + ReservedForOthers(f, r.client);
    if (used + need > limit) return NoSeats("all seats in use", true);
    if (used + need > f.seats) {
      d.overdraft_units = static_cast<uint32_t>(std::min<uint64_t>(need, used + need - f.seats));
    }
  }
  if (f.model == LicenseModel::kTokenPool) {
    const TokenPool& pool = *entitlement_.FindPool(f.pool);
    uint64_t limit = uint64_t{pool.tokens} + (soft ? pool.overdraft : 0);
    uint64_t tokens = uint64_t{r.count} * f.tokens_per_seat;
    if (tokens > limit) return NoSeats("count exceeds the pool's tokens", false);
    uint64_t used = PoolTokensInUse(pool.name);
    if (used + tokens > limit) return NoSeats("not enough tokens in pool " + pool.name, true);
    if (used + tokens > pool.tokens) {
      uint64_t beyond = std::min<uint64_t>(tokens, used + tokens - pool.tokens);
      d.overdraft_units = std::max(d.overdraft_units, static_cast<uint32_t>(beyond));
    }
    d.tokens = static_cast<uint32_t>(tokens);
  }
  if (need > 0 && !from_queue) {
    auto rt = runtime_.find(f.name);
    if (rt != runtime_.end() && !rt->second.queue.empty()) return NoSeats("waiters ahead", true);
  }
  d.granted = true;
  d.needs_binding = f.model == LicenseModel::kNamedUser && need > 0;
  return d;
}

}  // namespace tessera::engine
