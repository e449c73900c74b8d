#include "client/lease_table.h"

#include <algorithm>
#include <utility>

namespace tessera::client {

Duration RenewalPeriod(Duration ttl, Duration interval) {
  Duration period = ttl / 3;
  if (interval > Duration(0) && interval <= ttl / 2) period = interval;
  return std::max(period, kMinRenewPeriod);
}

void LeaseTable::Add(const Lease& lease, Duration now, std::string nonce_sent) {
  HeldLease held;
  held.lease = lease;
  held.nonce_sent = std::move(nonce_sent);
  held.ttl = std::max(lease.expires_at - lease.issued_at, Duration(0));
  held.period = RenewalPeriod(held.ttl, lease.heartbeat_interval);
  held.renew_due = now + held.period;
  leases_[lease.lease_id] = std::move(held);
}

std::optional<HeldLease> LeaseTable::Remove(const std::string& lease_id) {
  auto it = leases_.find(lease_id);
  if (it == leases_.end()) return std::nullopt;
  HeldLease held = std::move(it->second);
  leases_.erase(it);
  return held;
}

void LeaseTable::Replace(const std::string& old_id, const Lease& lease, Duration now,
                         std::string nonce_sent) {
  leases_.erase(old_id);
  Add(lease, now, std::move(nonce_sent));
}

void LeaseTable::Renewed(const std::string& lease_id, TimePoint expires_at, Duration sent_at) {
  auto it = leases_.find(lease_id);
  if (it == leases_.end()) return;
  HeldLease& held = it->second;
  held.lease.expires_at = std::max(held.lease.expires_at, expires_at);
  // Measured from when the heartbeat left, so a slow answer only makes the next one earlier.
  held.renew_due = sent_at + held.period;
}

void LeaseTable::UpdateToken(const std::string& lease_id, const Lease& token) {
  auto it = leases_.find(lease_id);
  if (it == leases_.end() || token.token.empty()) return;
  Lease& lease = it->second.lease;
  lease.token = token.token;
  lease.token_verified = token.token_verified;
  lease.appliance_id = token.appliance_id;
  lease.customer = token.customer;
  lease.block_sequence = token.block_sequence;
  lease.token_expires_at = token.token_expires_at;
}

std::vector<std::string> LeaseTable::TokenDue(std::span<const std::string> ids,
                                              TimePoint wall_now) const {
  std::vector<std::string> due;
  for (const std::string& id : ids) {
    const HeldLease* held = Find(id);
    if (held == nullptr || !held->lease.token_verified) continue;
    if (held->lease.token_expires_at < wall_now + 2 * held->period) due.push_back(id);
  }
  return due;
}

const HeldLease* LeaseTable::Find(const std::string& lease_id) const {
  auto it = leases_.find(lease_id);
  return it == leases_.end() ? nullptr : &it->second;
}

std::optional<Duration> LeaseTable::NextDue() const {
  std::optional<Duration> next;
  for (const auto& [id, held] : leases_) {
    if (held.lease.borrowed) continue;
    if (!next || held.renew_due < *next) next = held.renew_due;
  }
  return next;
}

std::vector<std::string> LeaseTable::DueForRenewal(Duration now) const {
  std::vector<std::string> due;
  std::optional<Duration> shortest;
  bool any_due = false;
  for (const auto& [id, held] : leases_) {
    if (held.lease.borrowed) continue;
    if (!shortest || held.period < *shortest) shortest = held.period;
    if (held.renew_due <= now) any_due = true;
  }
  if (!any_due) return due;
  const Duration horizon = now + *shortest / 2;
  for (const auto& [id, held] : leases_) {
    if (!held.lease.borrowed && held.renew_due <= horizon) due.push_back(id);
  }
  return due;
}

std::vector<std::string> LeaseTable::RenewableIds() const {
  std::vector<std::string> ids;
  for (const auto& [id, held] : leases_) {
    if (!held.lease.borrowed) ids.push_back(id);
  }
  return ids;
}

std::vector<Lease> LeaseTable::Snapshot() const {
  std::vector<Lease> out;
  out.reserve(leases_.size());
  for (const auto& [id, held] : leases_) out.push_back(held.lease);
  return out;
}

}  // namespace tessera::client
