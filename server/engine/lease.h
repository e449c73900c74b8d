// Value types shared by the engine's API: who asks, what they get, why they are refused.
// Thread safety: value types.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/time.h"

namespace tessera::engine {

// Assigned by the engine, never 0.
using LeaseId = uint64_t;
// Identifies a queued checkout; assigned by the engine, never 0.
using QueueTicket = uint64_t;

// Why a checkout was refused. The numeric values equal tessera.v1.DenialReason, so the
// server may static_cast; SERVER_DRAINING (13) and UNAVAILABLE (14) are the server's own.
enum class DenialReason : int {
  kNoSuchFeature = 1,
  kNoSeats = 2,
  kVersionOutOfRange = 3,
  kNotStarted = 4,
  kExpired = 5,
  kDeniedByRule = 6,
  kOverUserMaximum = 7,
  kOverGroupMaximum = 8,
  kQueueTimeout = 9,
  kMeteredExhausted = 10,
  kBorrowNotAllowed = 11,
  kInvalidRequest = 12,
  kQueueCancelled = 15,
  kLeaseNotResumable = 16,
};

// "no_seats", "queue_timeout", ...
std::string_view DenialReasonName(DenialReason reason);

// Why a heartbeat or checkin found no lease. Values equal tessera.v1.LeaseLossReason.
enum class LossReason : int {
  kUnknown = 1,   // never existed, forgotten, or held by another client
  kExpired = 2,   // its expiry passed
  kRevoked = 3,   // an admin revoked it, or its feature left the entitlement
  kReleased = 4,  // already checked in
};

std::string_view LossReasonName(LossReason reason);

// The party asking. Leases are bound to client_id; rules match on user and host.
struct ClientInfo {
  std::string client_id;  // non-empty
  std::string user;
  std::string host;

  friend bool operator==(const ClientInfo&, const ClientInfo&) = default;
};

// A granted lease. `count` seats of `feature` held by `client` until `expires_at`.
struct Lease {
  LeaseId id = 0;
  std::string feature;
  std::string version;
  uint32_t count = 1;
  ClientInfo client;
  std::string nonce;  // the client's checkout nonce (opaque bytes), echoed in the token
  TimePoint issued_at{};
  TimePoint expires_at{};
  Duration heartbeat_interval{0};  // 0 for borrowed leases: no heartbeat needed
  bool borrowed = false;
  bool overdraft = false;      // granted beyond the entitled seats (soft enforcement)
  bool in_grace = false;       // granted after the entitlement's end date, inside its grace
  uint32_t tokens = 0;         // pool tokens held (token-pool features)
  uint64_t metered_units = 0;  // units drawn so far (metered features)
  // Set once checked in while the feature lingers: the seat stays held until expires_at
  // (the linger end) and the same client may reclaim it with a checkout.
  bool lingering = false;

  friend bool operator==(const Lease&, const Lease&) = default;
};

}  // namespace tessera::engine
