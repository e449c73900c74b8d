#include "protocol/audit/chain.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "hsm/crypto.h"

namespace tessera::audit {
namespace {

size_t Count(std::span<const v1::AuditBlock> blocks) { return blocks.size(); }
size_t Count(const google::protobuf::RepeatedPtrField<v1::AuditBlock>& blocks) {
  return static_cast<size_t>(blocks.size());
}
const v1::AuditBlock& At(std::span<const v1::AuditBlock> blocks, size_t i) { return blocks[i]; }
const v1::AuditBlock& At(const google::protobuf::RepeatedPtrField<v1::AuditBlock>& blocks,
                         size_t i) {
  return blocks.Get(static_cast<int>(i));
}

std::optional<uint64_t> ClaimedSequence(const v1::AuditBlock& block) {
  v1::BlockHeader header;
  if (!header.ParseFromString(block.header().payload())) return std::nullopt;
  return header.sequence();
}

// Where a block with the wrong sequence came from: the expected one later in the range
// means the range was reordered; otherwise it is missing.
template <typename Blocks>
AuditError SequenceFault(const Blocks& blocks, size_t index, uint64_t expected, uint64_t found) {
  if (found < expected) return AuditError::kOutOfOrder;
  for (size_t j = index + 1; j < Count(blocks); ++j) {
    if (ClaimedSequence(At(blocks, j)) == expected) return AuditError::kOutOfOrder;
  }
  return AuditError::kSequenceGap;
}

Status CheckRoot(const v1::AuditBlock& block, const v1::BlockHeader& header) {
  if (header.event_count() != static_cast<uint64_t>(block.events_size()) ||
      block.events_size() == 0) {
    return MakeAuditError(AuditError::kMerkleRootMismatch,
                          std::to_string(block.events_size()) + " events, header says " +
                              std::to_string(header.event_count()));
  }
  std::vector<std::string> leaves(block.events().begin(), block.events().end());
  MerkleTree tree(leaves);
  if (!SameDigest(header.merkle_root(), tree.root())) {
    return MakeAuditError(AuditError::kMerkleRootMismatch, "events do not hash to the root");
  }
  return Status::Ok();
}

Status CheckLink(const v1::BlockHeader& header, const ChainTip& tip, bool first) {
  if (!SameDigest(header.previous_hash(), tip.previous_hash)) {
    return MakeAuditError(AuditError::kChainBroken, "previous hash does not match");
  }
  if (!first && header.counter() < tip.counter) {
    return MakeAuditError(AuditError::kClockWentBackwards, "monotonic counter decreased");
  }
  if (!first && header.has_time_high_water_ms() &&
      header.time_high_water_ms() < tip.time_high_water_ms) {
    return MakeAuditError(AuditError::kClockWentBackwards, "trusted time decreased");
  }
  return Status::Ok();
}

// Checks one block against the tip; returns its header.
template <typename Blocks>
Result<v1::BlockHeader> CheckBlock(const Blocks& blocks, size_t index, const hsm::Verifier& key,
                                   const std::string& appliance_id, const ChainTip& tip) {
  const v1::AuditBlock& block = At(blocks, index);
  hsm::Signature signature;
  const std::string& sig = block.header().signature();
  if (sig.size() != signature.size()) {
    return MakeAuditError(AuditError::kHeaderSignature, "signature is not 64 bytes");
  }
  std::copy(sig.begin(), sig.end(), signature.begin());
  if (!key.Verify(AsBytes(block.header().payload()), signature).ok()) {
    return MakeAuditError(AuditError::kHeaderSignature, "not signed by the appliance key");
  }
  v1::BlockHeader header;
  if (!header.ParseFromString(block.header().payload())) {
    return MakeAuditError(AuditError::kMalformed, "header does not parse");
  }
  if (header.appliance_id() != appliance_id) {
    return MakeAuditError(AuditError::kApplianceMismatch, "header of " + header.appliance_id());
  }
  if (header.sequence() != tip.next_sequence) {
    return MakeAuditError(SequenceFault(blocks, index, tip.next_sequence, header.sequence()),
                          "expected sequence " + std::to_string(tip.next_sequence));
  }
  TESSERA_RETURN_IF_ERROR(CheckLink(header, tip, index == 0));
  TESSERA_RETURN_IF_ERROR(CheckRoot(block, header));
  return header;
}

template <typename Blocks>
ChainFault MakeFault(const Blocks& blocks, size_t index, uint64_t expected, const Status& status) {
  ChainFault fault;
  fault.index = index;
  fault.sequence =
      index < Count(blocks) ? ClaimedSequence(At(blocks, index)).value_or(expected) : expected;
  fault.error = AuditErrorOf(status).value_or(AuditError::kMalformed);
  fault.status = status.Annotate("block " + std::to_string(fault.sequence) + " (position " +
                                 std::to_string(index) + ")");
  return fault;
}

// Verifies any random-access range of blocks (a span, or an export's repeated field).
template <typename Blocks>
ChainVerdict VerifyRange(const Blocks& blocks, std::span<const uint8_t> appliance_spki,
                         const ChainStart& start) {
  ChainVerdict verdict;
  verdict.tip.next_sequence = start.sequence;
  verdict.tip.previous_hash = start.previous_hash;
  Result<hsm::Verifier> key = hsm::Verifier::Create(appliance_spki);
  if (!key.ok()) {
    verdict.fault = MakeFault(blocks, 0, start.sequence,
                              MakeAuditError(AuditError::kMalformed, "appliance key is not P-256"));
    return verdict;
  }
  const std::string appliance_id = hsm::ApplianceId(appliance_spki);
  for (size_t i = 0; i < Count(blocks); ++i) {
    Result<v1::BlockHeader> header = CheckBlock(blocks, i, *key, appliance_id, verdict.tip);
    if (!header.ok()) {
      verdict.fault = MakeFault(blocks, i, verdict.tip.next_sequence, header.status());
      return verdict;
    }
    verdict.tip.next_sequence = header->sequence() + 1;
    verdict.tip.previous_hash = BlockHash(At(blocks, i).header());
    verdict.tip.counter = header->counter();
    if (header->has_time_high_water_ms()) {
      verdict.tip.time_high_water_ms = header->time_high_water_ms();
    }
    ++verdict.blocks;
    verdict.events += header->event_count();
  }
  return verdict;
}

}  // namespace

ChainVerdict VerifyChain(std::span<const v1::AuditBlock> blocks,
                         std::span<const uint8_t> appliance_spki, const ChainStart& start) {
  return VerifyRange(blocks, appliance_spki, start);
}

ChainVerdict VerifyAuditExport(const v1::AuditExport& audit_export,
                               std::span<const uint8_t> vendor_root_spki) {
  const auto& blocks = audit_export.blocks();
  ChainStart start;
  if (!blocks.empty()) start.sequence = ClaimedSequence(blocks.Get(0)).value_or(0);
  Result<v1::ApplianceCertificate> cert =
      audit_export.has_certificate()
          ? VerifyCertificate(audit_export.certificate(), vendor_root_spki, std::nullopt)
          : Result<v1::ApplianceCertificate>(
                MakeAuditError(AuditError::kCertificateSignature, "export has no certificate"));
  const std::string& prev = audit_export.previous_hash();
  if (cert.ok() && !prev.empty() && prev.size() != start.previous_hash.size()) {
    cert = MakeAuditError(AuditError::kMalformed, "previous hash is not 32 bytes");
  }
  if (!cert.ok()) {
    ChainVerdict verdict;
    verdict.fault = MakeFault(blocks, 0, start.sequence, cert.status().Annotate("certificate"));
    return verdict;
  }
  std::copy(prev.begin(), prev.end(), start.previous_hash.begin());
  return VerifyRange(blocks, AsBytes(cert->identity_public_key()), start);
}

}  // namespace tessera::audit
