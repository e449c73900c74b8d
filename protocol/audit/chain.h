// Chain verification over a range of sealed blocks (DESIGN.md §6): every header signature,
// every link, no gap, no reorder, each block's Merkle root over its events, trusted time and
// counter never going backwards.
//
// Thread safety: free functions over values.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "base/status.h"
#include "protocol/audit/block.h"
#include "protocol/audit/envelope.h"

namespace tessera::audit {

// Where the range must start: the sequence and hash the verifier expects (what the vendor
// saw last, or genesis).
struct ChainStart {
  uint64_t sequence = 0;
  Digest previous_hash{};
};

// The first bad block.
struct ChainFault {
  size_t index = 0;       // position in the range
  uint64_t sequence = 0;  // the sequence the bad block claims (when its header parsed),
                          // else the sequence expected at `index`
  AuditError error = AuditError::kMalformed;
  Status status;  // typed (AuditErrorOf(status) == error), names the block
};

struct ChainVerdict {
  std::optional<ChainFault> fault;  // empty: the whole range verified
  uint64_t blocks = 0;              // blocks verified before the fault (all when none)
  uint64_t events = 0;
  ChainTip tip;  // the tip after the last good block

  bool ok() const { return !fault.has_value(); }
};

// Verifies `blocks` (oldest first) signed by `appliance_spki`, starting at `start`.
// Faults: kMalformed, kHeaderSignature, kApplianceMismatch (header names another appliance
// than the key's id), kSequenceGap (a block is missing), kOutOfOrder (the expected block
// comes later in the range, or a sequence repeats or goes back), kChainBroken,
// kMerkleRootMismatch, kClockWentBackwards.
ChainVerdict VerifyChain(std::span<const v1::AuditBlock> blocks,
                         std::span<const uint8_t> appliance_spki, const ChainStart& start);

// Verifies an export: the certificate against `vendor_root_spki` (signature and key binding;
// validity is not judged against the present, since old blocks outlive certificates), then
// the chain with the certificate's key from export.previous_hash and blocks[0]'s sequence
// (an export may start anywhere; the vendor compares with what it saw last).
// Without a certificate in the export the fault is kCertificateSignature.
ChainVerdict VerifyAuditExport(const v1::AuditExport& audit_export,
                               std::span<const uint8_t> vendor_root_spki);

}  // namespace tessera::audit
