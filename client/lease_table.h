// The leases a client holds and when each one is due for renewal. Pure logic on monotonic
// time (Duration since an arbitrary origin, as tessera::MonotonicNow()), no I/O.
//
// Renewal policy: a lease is renewed every `period`, where period is the server's heartbeat
// interval when it is at most half the lease's time to live, and a third of that time to live
// otherwise (never under kMinRenewPeriod). When one lease is due, every lease due within
// half of the shortest period is renewed with it, so one Heartbeat carries many leases.
//
// Token freshness: when the SDK verifies tokens, a lease whose token proves it only until less
// than two renewal periods from now asks for a fresh one with its next renewal
// (HeartbeatRequest.token_lease_ids), so the client always holds a token that is valid through
// its next heartbeat.
//
// Thread safety: a plain value; use from one thread.
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tessera/client.h"

namespace tessera::client {

inline constexpr Duration kMinRenewPeriod{50};

// The seats a held lease stands for, kept so it can be resumed elsewhere.
struct HeldLease {
  Lease lease;
  std::string nonce_sent;  // the nonce of the checkout (or resume) that granted it
  Duration ttl{0};         // expires_at - issued_at at grant
  Duration period{0};      // renewal period
  Duration renew_due{0};
};

// Computes the renewal period of a lease with time to live `ttl` and server heartbeat
// interval `interval` (0: none given).
Duration RenewalPeriod(Duration ttl, Duration interval);

class LeaseTable {
 public:
  // Adds (or replaces) a lease granted at monotonic time `now` for a checkout that sent
  // `nonce_sent`.
  void Add(const Lease& lease, Duration now, std::string nonce_sent = {});
  // Removes a lease; returns it when it was held.
  std::optional<HeldLease> Remove(const std::string& lease_id);
  // Replaces `old_id` by `lease` (a resume that may have changed the id).
  void Replace(const std::string& old_id, const Lease& lease, Duration now,
               std::string nonce_sent = {});
  // Records a renewal confirmed for a heartbeat sent at `sent_at`.
  void Renewed(const std::string& lease_id, TimePoint expires_at, Duration sent_at);
  // Records a renewal's token: the raw bytes, and the verified facts when
  // `token.token_verified` (fields token, token_verified, appliance_id, customer,
  // block_sequence, token_expires_at of `token`).
  void UpdateToken(const std::string& lease_id, const Lease& token);
  // The ids among `ids` whose verified token ends before `wall_now` + 2 renewal periods: their
  // renewal should bring a fresh token. A subset of `ids`, in their order.
  std::vector<std::string> TokenDue(std::span<const std::string> ids, TimePoint wall_now) const;

  bool Contains(const std::string& lease_id) const { return leases_.count(lease_id) > 0; }
  const HeldLease* Find(const std::string& lease_id) const;
  bool empty() const { return leases_.empty(); }
  size_t size() const { return leases_.size(); }

  // The earliest renewal due time among renewable (not borrowed) leases.
  std::optional<Duration> NextDue() const;
  // The ids to put in one Heartbeat at `now`: empty when none is due yet.
  std::vector<std::string> DueForRenewal(Duration now) const;
  // Every renewable lease id (for resuming after a reconnect).
  std::vector<std::string> RenewableIds() const;
  std::vector<Lease> Snapshot() const;

 private:
  std::map<std::string, HeldLease> leases_;
};

}  // namespace tessera::client
