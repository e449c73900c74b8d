// Sealing audit blocks (DESIGN.md §5): one batch of events becomes one block, signed once.
//
// Thread safety: free functions over values. SealBlock calls `sign` once, on the caller's
// thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "hsm/key_store.h"
#include "protocol/audit/envelope.h"
#include "protocol/audit/merkle.h"

namespace tessera::audit {

// What the next block links to: the state after the last sealed block.
struct ChainTip {
  uint64_t next_sequence = 0;
  Digest previous_hash{};          // zeros before the first block
  int64_t time_high_water_ms = 0;  // highest trusted time sealed so far (no TPM clock)
  uint64_t counter = 0;            // counter value in the last block

  // The tip before any block.
  static ChainTip Genesis() { return {}; }
};

// The tip after `header_envelope` (a sealed block header, e.g. the last one the store
// persisted). The envelope is not verified here: it comes from our own store.
// Errors: audit.malformed when the payload does not parse.
Result<ChainTip> TipAfter(const v1::SignedEnvelope& header_envelope);

// SHA-256 of a header envelope's payload: what the next block's previous_hash holds.
Digest BlockHash(const v1::SignedEnvelope& header_envelope);

struct SealParams {
  std::string appliance_id;
  // The TPM clock tuple where the key store has a trusted clock; otherwise the block carries
  // max(tip.time_high_water_ms, wall_time) as its trusted time.
  std::optional<hsm::ClockTuple> tpm_clock;
  uint64_t counter = 0;  // the monotonic counter's current value
  TimePoint wall_time{};
};

struct SealedBlock {
  v1::SignedEnvelope header_envelope;  // what the store persists with the events
  v1::BlockHeader header;              // its parsed payload
  std::vector<InclusionProof> proofs;  // proofs[i] proves events[i]
  ChainTip next;                       // the tip after this block
};

// Seals `events` (serialized AuditEvent leaves, in order) into the block after `tip`.
// Exactly one call to `sign`.
// Errors: InvalidArgument for no events, or an event above kMaxEventBytes;
// audit.clock_went_backwards when params.counter is below tip.counter; audit.sign_failed.
Result<SealedBlock> SealBlock(const ChainTip& tip, std::span<const std::string> events,
                              const SealParams& params, const SignFn& sign);

}  // namespace tessera::audit
