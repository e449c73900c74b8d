#include "client/wire.h"

#include <openssl/rand.h>

#include <random>

#include "base/encoding.h"

namespace tessera::client::wire {

Lease FromProto(const tessera::v1::Lease& in) {
  Lease out;
  out.lease_id = in.lease_id();
  out.feature = in.feature();
  out.version = in.version();
  out.count = in.count() == 0 ? 1 : in.count();
  out.issued_at = FromUnixMillis(in.issued_at_ms());
  out.expires_at = FromUnixMillis(in.expires_at_ms());
  out.heartbeat_interval = Duration(in.heartbeat_interval_ms());
  out.borrowed = in.borrowed();
  out.overdraft = in.overdraft();
  out.nonce = in.nonce();
  out.token = in.token();
  return out;
}

DenialReason FromProto(tessera::v1::DenialReason reason) {
  const int n = static_cast<int>(reason);
  if (n < 0 || n > kMaxDenialReason) return DenialReason::kUnspecified;
  return static_cast<DenialReason>(n);
}

LossReason FromProto(tessera::v1::LeaseLossReason reason) {
  const int n = static_cast<int>(reason);
  if (n < 0 || n > static_cast<int>(LossReason::kReleased)) return LossReason::kUnspecified;
  return static_cast<LossReason>(n);
}

FeatureStatus FromProto(const tessera::v1::FeatureStatus& in) {
  FeatureStatus out;
  out.name = in.name();
  out.model = in.model();
  out.version_min = in.version_min();
  out.version_max = in.version_max();
  out.seats = in.seats();
  out.in_use = in.in_use();
  out.overdraft_in_use = in.overdraft_in_use();
  out.queued = in.queued();
  out.starts_at = FromUnixMillis(in.starts_at_ms());
  out.ends_at = FromUnixMillis(in.ends_at_ms());
  out.metered_remaining = in.metered_remaining();
  out.pool = in.pool();
  out.borrowable = in.borrowable();
  return out;
}

void ToProto(const CheckoutRequest& request, const std::string& nonce,
             tessera::v1::CheckoutRequest* out) {
  out->set_feature(request.feature);
  out->set_version(request.version);
  out->set_count(request.count);
  out->set_nonce(nonce);
  out->set_queue_timeout_ms(static_cast<uint32_t>(request.queue_timeout.count()));
  out->set_borrow_duration_ms(static_cast<uint64_t>(request.borrow_duration.count()));
  out->set_metered_units(request.metered_units);
}

std::string RandomBytes(size_t count) {
  std::string out(count, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(count)) != 1) {
    // OpenSSL's generator failed (not seeded): fall back to the OS source directly.
    std::random_device device;
    for (char& c : out) c = static_cast<char>(device() & 0xff);
  }
  return out;
}

std::string NewClientId() {
  const std::string raw = RandomBytes(16);
  return "c-" + Base32Encode(reinterpret_cast<const uint8_t*>(raw.data()), raw.size());
}

}  // namespace tessera::client::wire
