#include "server/audit_sealer.h"

#include <utility>

#include "protocol/audit/audit_error.h"
#include "protocol/audit/envelope.h"
#include "protocol/audit/token.h"
#include "server/license_service.h"

namespace tessera::server {

namespace v1 = tessera::v1;

namespace {

// Events whose leaf a lease token can point at (docs/AUDIT.md, token check 9).
bool IsTokenEvent(engine::EventKind kind) {
  return kind == engine::EventKind::kGranted || kind == engine::EventKind::kRenewed ||
         kind == engine::EventKind::kReclaimed || kind == engine::EventKind::kDequeued;
}

v1::AuditLease ToAuditLease(const engine::Lease& l) {
  v1::AuditLease out;
  out.set_version(l.version);
  out.set_count(l.count);
  out.set_nonce(l.nonce);
  out.set_issued_at_ms(ToUnixMillis(l.issued_at));
  out.set_expires_at_ms(ToUnixMillis(l.expires_at));
  out.set_heartbeat_interval_ms(static_cast<uint32_t>(l.heartbeat_interval.count()));
  out.set_borrowed(l.borrowed);
  out.set_overdraft(l.overdraft);
  out.set_in_grace(l.in_grace);
  out.set_tokens(l.tokens);
  out.set_metered_units(l.metered_units);
  out.set_lingering(l.lingering);
  return out;
}

}  // namespace

v1::AuditEvent ToAuditEvent(const engine::Event& e, const std::string& appliance_id) {
  v1::AuditEvent out;
  // The audit kinds are the engine's, in the same order, from 1.
  out.set_kind(static_cast<v1::AuditEventKind>(static_cast<int>(e.kind) + 1));
  out.set_at_ms(ToUnixMillis(e.at));
  out.set_appliance_id(appliance_id);
  if (e.lease_id != 0) out.set_lease_id(FormatLeaseId(e.lease_id));
  out.set_ticket(e.ticket);
  out.set_feature(e.feature);
  out.set_count(e.count);
  out.set_client_id(e.client.client_id);
  out.set_user(e.client.user);
  out.set_host(e.client.host);
  if (e.reason) out.set_denial_reason(static_cast<int32_t>(*e.reason));
  out.set_detail(e.detail);
  out.set_position(e.position);
  out.set_units(e.units);
  out.set_metered_remaining(e.metered_remaining);
  if (e.lease) *out.mutable_lease() = ToAuditLease(*e.lease);
  return out;
}

CommittedBlock::CommittedBlock(uint64_t batch, audit::SealedBlock block,
                               std::vector<std::string> leaves,
                               std::map<engine::LeaseId, size_t> lease_leaf,
                               std::shared_ptr<const std::string> certificate)
    : batch_(batch),
      block_(std::move(block)),
      leaves_(std::move(leaves)),
      lease_leaf_(std::move(lease_leaf)),
      certificate_(std::move(certificate)) {}

std::optional<std::string> CommittedBlock::TokenFor(engine::LeaseId lease) const {
  auto it = lease_leaf_.find(lease);
  if (it == lease_leaf_.end()) return std::nullopt;
  v1::SignedEnvelope certificate;
  if (!certificate_->empty() && !certificate.ParseFromString(*certificate_)) return std::nullopt;
  auto token = audit::BuildLeaseToken(block_, leaves_, it->second, certificate);
  if (!token.ok()) return std::nullopt;
  return std::move(*token);
}

AuditSealer::AuditSealer(hsm::KeyStore& key, const Clock& clock, Options options)
    : key_(key),
      clock_(clock),
      appliance_id_(std::move(options.appliance_id)),
      certificate_(std::make_shared<const std::string>(std::move(options.certificate))),
      tpm_clock_(key.capabilities().trusted_clock),
      tip_(options.tip),
      counter_(options.counter) {}

void AuditSealer::QueueApplianceEvent(v1::AuditEventKind kind, std::string detail,
                                      std::string actor) {
  v1::AuditEvent e;
  e.set_kind(kind);
  e.set_at_ms(ToUnixMillis(clock_.Now()));
  e.set_appliance_id(appliance_id_);
  e.set_detail(std::move(detail));
  e.set_actor(std::move(actor));
  std::lock_guard lock(mu_);
  queued_.push_back(std::move(e));
}

Result<std::optional<store::BlockRecord>> AuditSealer::Seal(
    uint64_t batch, std::span<const store::CoalescedEvent> events) {
  pending_.reset();
  std::vector<v1::AuditEvent> appliance_events;
  audit::ChainTip tip;
  audit::SealParams params;
  {
    std::lock_guard lock(mu_);
    appliance_events.swap(queued_);
    tip = tip_;
    params.counter = counter_;
  }
  if (events.empty() && appliance_events.empty()) return std::optional<store::BlockRecord>();

  std::vector<std::string> leaves;
  std::map<engine::LeaseId, size_t> lease_leaf;
  leaves.reserve(appliance_events.size() + events.size());
  for (const v1::AuditEvent& e : appliance_events) leaves.push_back(e.SerializeAsString());
  for (const store::CoalescedEvent& c : events) {
    const engine::Event& e = *c.event;
    if (e.lease_id != 0 && e.lease && IsTokenEvent(e.kind)) lease_leaf[e.lease_id] = leaves.size();
    leaves.push_back(ToAuditEvent(e, appliance_id_).SerializeAsString());
  }

  params.appliance_id = appliance_id_;
  params.wall_time = clock_.Now();
  if (tpm_clock_) {
    auto clock = key_.ReadClock();
    if (!clock.ok()) {
      std::lock_guard lock(mu_);
      queued_.insert(queued_.begin(), appliance_events.begin(), appliance_events.end());
      return audit::MakeAuditError(audit::AuditError::kSignFailed,
                                   "cannot read the TPM clock: " + clock.status().ToString());
    }
    params.tpm_clock = *clock;
  }
  auto sealed = audit::SealBlock(tip, leaves, params, audit::SignerFn(key_));
  if (!sealed.ok()) {
    std::lock_guard lock(mu_);
    queued_.insert(queued_.begin(), appliance_events.begin(), appliance_events.end());
    return sealed.status();
  }
  store::BlockRecord record;
  record.sequence = sealed->header.sequence();
  const hsm::Digest hash = audit::BlockHash(sealed->header_envelope);
  record.hash.assign(hash.begin(), hash.end());
  record.header = sealed->header_envelope.SerializeAsString();
  record.leaves = leaves;
  pending_ =
      Pending{std::make_shared<const CommittedBlock>(batch, std::move(*sealed), std::move(leaves),
                                                     std::move(lease_leaf), certificate_),
              std::move(appliance_events)};
  return std::optional<store::BlockRecord>(std::move(record));
}

void AuditSealer::Committed(bool ok) {
  if (!pending_) return;
  Pending p = std::move(*pending_);
  pending_.reset();
  std::lock_guard lock(mu_);
  if (!ok) {
    // Nothing of the block is stored: its appliance events go into the next one.
    queued_.insert(queued_.begin(), p.appliance_events.begin(), p.appliance_events.end());
    return;
  }
  last_ = p.block;
  tip_ = p.block->next_tip();
  last_time_ms_ = p.block->trusted_time_ms();
}

std::shared_ptr<const CommittedBlock> AuditSealer::last() const {
  std::lock_guard lock(mu_);
  return last_;
}

void AuditSealer::SetCounter(uint64_t counter) {
  std::lock_guard lock(mu_);
  counter_ = std::max(counter_, counter);
}

audit::ChainTip AuditSealer::tip() const {
  std::lock_guard lock(mu_);
  return tip_;
}

int64_t AuditSealer::last_sealed_time_ms() const {
  std::lock_guard lock(mu_);
  return last_time_ms_;
}

}  // namespace tessera::server
