// The audit sealer: turns each committed batch into a signed audit block (DESIGN.md §2, §5;
// docs/SERVER.md "Signed leases and the audit chain").
//
// The store calls Seal inside the batch transaction on the writer thread: the batch's
// engine events (renewals already coalesced) and any appliance events queued since (start,
// clock jump, rollback) become AuditEvent leaves; the block is signed once with the
// identity key, stamped with the TPM clock tuple (when the key store has one) or the
// trusted-time high-water mark, and the monotonic counter value of this run. After COMMIT
// the block becomes the chain tip and the "last committed block" that replies take their
// lease tokens from.
//
// Thread safety: Seal/Committed run on the writer thread. QueueApplianceEvent, last and
// SetCounter may be called from any thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/time.h"
#include "hsm/key_store.h"
#include "protocol/audit/block.h"
#include "server/engine/events.h"
#include "server/store/audit_blocks.h"

namespace tessera::server {

// One sealed and committed block, with what replies need to build lease tokens.
class CommittedBlock {
 public:
  CommittedBlock(uint64_t batch, audit::SealedBlock block, std::vector<std::string> leaves,
                 std::map<engine::LeaseId, size_t> lease_leaf,
                 std::shared_ptr<const std::string> certificate);

  uint64_t batch() const { return batch_; }
  uint64_t sequence() const { return block_.header.sequence(); }
  const audit::ChainTip& next_tip() const { return block_.next; }
  // The block's trusted time: its high-water mark, or its wall time under a TPM clock.
  int64_t trusted_time_ms() const {
    return block_.header.has_time_high_water_ms() ? block_.header.time_high_water_ms()
                                                  : block_.header.wall_time_ms();
  }
  // The serialized LeaseToken for the last event of `lease` in this block (its grant,
  // renewal, reclaim or dequeue), or nullopt when the block has no such event.
  std::optional<std::string> TokenFor(engine::LeaseId lease) const;

 private:
  uint64_t batch_;
  audit::SealedBlock block_;
  std::vector<std::string> leaves_;
  std::map<engine::LeaseId, size_t> lease_leaf_;
  std::shared_ptr<const std::string> certificate_;  // serialized SignedEnvelope, may be empty
};

// The engine event as an audit leaf (the mapping of docs/AUDIT.md).
tessera::v1::AuditEvent ToAuditEvent(const engine::Event& e, const std::string& appliance_id);

class AuditSealer : public store::BlockSealer {
 public:
  struct Options {
    std::string appliance_id;
    std::string certificate;  // serialized SignedEnvelope; empty when none is configured
    audit::ChainTip tip;      // after the last stored block (TipAfter), or Genesis
    uint64_t counter = 0;     // the monotonic counter value of this run
  };
  // `key` signs (and reads the TPM clock when it has one); `clock` gives the trusted time.
  // Both must outlive the sealer.
  AuditSealer(hsm::KeyStore& key, const Clock& clock, Options options);

  Result<std::optional<store::BlockRecord>> Seal(
      uint64_t batch, std::span<const store::CoalescedEvent> events) override;
  void Committed(bool ok) override;

  // Adds an appliance event (kind, detail, actor) to the next block. The caller submits a
  // unit to the writer so that a block is sealed soon.
  void QueueApplianceEvent(tessera::v1::AuditEventKind kind, std::string detail,
                           std::string actor = {});
  // The block of the most recent committed batch that had events (null before the first).
  std::shared_ptr<const CommittedBlock> last() const;
  // The counter value later blocks carry (after an advance at export or stop).
  void SetCounter(uint64_t counter);
  // The tip after the last committed block.
  audit::ChainTip tip() const;
  // The trusted time of the last committed block, Unix ms (0 before the first).
  int64_t last_sealed_time_ms() const;

 private:
  struct Pending {
    std::shared_ptr<const CommittedBlock> block;
    std::vector<tessera::v1::AuditEvent> appliance_events;  // restored if the batch fails
  };

  hsm::KeyStore& key_;
  const Clock& clock_;
  const std::string appliance_id_;
  const std::shared_ptr<const std::string> certificate_;
  const bool tpm_clock_;

  mutable std::mutex mu_;
  audit::ChainTip tip_;                          // guarded by mu_
  uint64_t counter_;                             // guarded by mu_
  std::vector<tessera::v1::AuditEvent> queued_;  // guarded by mu_
  std::shared_ptr<const CommittedBlock> last_;   // guarded by mu_
  int64_t last_time_ms_ = 0;                     // guarded by mu_
  std::optional<Pending> pending_;               // writer thread only
};

}  // namespace tessera::server
