// Engine values to wire messages (shared by the service's files). Internal to server/.
#pragma once

#include <string>

#include "server/engine/engine.h"
#include "tessera/v1/tessera.pb.h"

namespace tessera::server {

std::string FormatLeaseId(engine::LeaseId id);

namespace wire {

inline tessera::v1::Lease ToWire(const engine::Lease& l) {
  tessera::v1::Lease w;
  w.set_lease_id(FormatLeaseId(l.id));
  w.set_feature(l.feature);
  w.set_version(l.version);
  w.set_count(l.count);
  w.set_issued_at_ms(ToUnixMillis(l.issued_at));
  w.set_expires_at_ms(ToUnixMillis(l.expires_at));
  w.set_heartbeat_interval_ms(static_cast<std::uint32_t>(l.heartbeat_interval.count()));
  w.set_borrowed(l.borrowed);
  w.set_overdraft(l.overdraft);
  w.set_nonce(l.nonce);
  return w;
}

inline tessera::v1::DenialReason ToWire(engine::DenialReason r) {
  // The engine's values equal the wire's by construction (lease.h).
  int value = static_cast<int>(r);
  return tessera::v1::DenialReason_IsValid(value) ? static_cast<tessera::v1::DenialReason>(value)
                                                  : tessera::v1::DENIAL_REASON_UNSPECIFIED;
}

inline tessera::v1::LeaseLossReason ToWire(engine::LossReason r) {
  int value = static_cast<int>(r);
  return tessera::v1::LeaseLossReason_IsValid(value)
             ? static_cast<tessera::v1::LeaseLossReason>(value)
             : tessera::v1::LEASE_LOSS_REASON_UNSPECIFIED;
}

inline tessera::v1::Frame Denial(tessera::v1::DenialReason reason, std::string detail) {
  tessera::v1::Frame f;
  tessera::v1::Denial* d = f.mutable_checkout_reply()->mutable_denied();
  d->set_reason(reason);
  d->set_detail(std::move(detail));
  return f;
}

}  // namespace wire
}  // namespace tessera::server
