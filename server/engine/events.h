// The engine's output stream. Every state change produces events, in order; the server
// drains them with Engine::TakeEvents() after every call, persists them (audit log), and
// answers queued checkouts and pushes revocations from them.
// Thread safety: value types.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/time.h"
#include "server/engine/lease.h"

namespace tessera::engine {

enum class EventKind {
  kGranted,          // lease granted directly by Checkout (lease set)
  kRenewed,          // heartbeat or resume extended a lease (lease set)
  kReleased,         // checked in; when the feature lingers the seat is held until
                     // lease->expires_at, then kLingerEnded follows
  kLingerEnded,      // a lingering seat was freed
  kReclaimed,        // the same client took its lingering lease back (lease set)
  kExpired,          // a lease reached its expiry without renewal or checkin
  kDenied,           // a checkout was refused (reason, detail); ticket set when it was queued
  kQueued,           // a checkout waits (ticket, position)
  kDequeued,         // a waiter was granted from the queue (ticket, lease set)
  kQueueTimeout,     // a waiter's timeout passed (ticket; reason kQueueTimeout)
  kQueueCancelled,   // a waiter was cancelled (ticket; reason kQueueCancelled)
  kRevoked,          // an admin or a reload revoked a lease (detail = reason)
  kOverdraftUsed,    // a grant went beyond the entitled seats (count = seats beyond)
  kMeteredConsumed,  // units drawn from a metered feature (units, metered_remaining)
};

// "granted", "queue_timeout", ...
std::string_view EventKindName(EventKind kind);

struct Event {
  EventKind kind = EventKind::kGranted;
  TimePoint at{};
  LeaseId lease_id = 0;    // 0 when no lease is involved (denied, queued, timeout)
  QueueTicket ticket = 0;  // set for kQueued, kDequeued, kQueueTimeout, kQueueCancelled,
                           // and kDenied of a waiter
  std::string feature;
  ClientInfo client;
  uint32_t count = 0;  // seats concerned (for kOverdraftUsed: seats beyond entitlement)
  std::optional<DenialReason> reason;  // kDenied, kQueueTimeout, kQueueCancelled
  std::string detail;                  // human-readable: denial detail, revoke reason
  uint32_t position = 0;               // kQueued: 1 = next in line
  uint64_t units = 0;                  // kMeteredConsumed: units drawn
  int64_t metered_remaining = 0;       // kMeteredConsumed: remaining after the draw
  std::optional<Lease> lease;          // snapshot for kGranted, kRenewed, kReclaimed, kDequeued,
                                       // kReleased, kExpired, kRevoked
};

// One line, for logs and the demo: "12:00:05.000 granted lease=7 feature=cad ...".
std::string FormatEvent(const Event& event);

}  // namespace tessera::engine
