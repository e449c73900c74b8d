#include "protocol/audit/block.h"

#include <algorithm>

#include "hsm/crypto.h"

namespace tessera::audit {

Digest BlockHash(const v1::SignedEnvelope& header_envelope) {
  return hsm::Sha256(AsBytes(header_envelope.payload()));
}

Result<ChainTip> TipAfter(const v1::SignedEnvelope& header_envelope) {
  v1::BlockHeader header;
  if (!header.ParseFromString(header_envelope.payload())) {
    return MakeAuditError(AuditError::kMalformed, "block header does not parse");
  }
  ChainTip tip;
  tip.next_sequence = header.sequence() + 1;
  tip.previous_hash = BlockHash(header_envelope);
  tip.time_high_water_ms = header.has_time_high_water_ms() ? header.time_high_water_ms() : 0;
  tip.counter = header.counter();
  return tip;
}

namespace {

v1::BlockHeader MakeHeader(const ChainTip& tip, const MerkleTree& tree, const SealParams& params,
                           int64_t* high_water) {
  v1::BlockHeader header;
  header.set_format_version(1);
  header.set_appliance_id(params.appliance_id);
  header.set_sequence(tip.next_sequence);
  header.set_previous_hash(tip.previous_hash.data(), tip.previous_hash.size());
  header.set_merkle_root(tree.root().data(), tree.root().size());
  header.set_event_count(tree.size());
  *high_water = tip.time_high_water_ms;
  if (params.tpm_clock.has_value()) {
    v1::TpmClock* clock = header.mutable_tpm_clock();
    clock->set_clock_ms(params.tpm_clock->clock_ms);
    clock->set_reset_count(params.tpm_clock->reset_count);
    clock->set_restart_count(params.tpm_clock->restart_count);
    clock->set_safe(params.tpm_clock->safe);
  } else {
    // The wall clock may be set back; the sealed time never is.
    *high_water = std::max(tip.time_high_water_ms, ToUnixMillis(params.wall_time));
    header.set_time_high_water_ms(*high_water);
  }
  header.set_counter(params.counter);
  header.set_wall_time_ms(ToUnixMillis(params.wall_time));
  return header;
}

}  // namespace

Result<SealedBlock> SealBlock(const ChainTip& tip, std::span<const std::string> events,
                              const SealParams& params, const SignFn& sign) {
  if (events.empty()) return InvalidArgument("a block needs at least one event");
  for (const auto& e : events) {
    if (e.size() > kMaxEventBytes) return InvalidArgument("event above the size limit");
  }
  if (params.counter < tip.counter) {
    return MakeAuditError(AuditError::kClockWentBackwards,
                          "monotonic counter " + std::to_string(params.counter) + " below " +
                              std::to_string(tip.counter));
  }
  MerkleTree tree(events);
  SealedBlock block;
  int64_t high_water = 0;
  block.header = MakeHeader(tip, tree, params, &high_water);
  TESSERA_ASSIGN_OR_RETURN(block.header_envelope, SignEnvelope(block.header.SerializeAsString(),
                                                               sign, params.appliance_id));
  block.proofs.reserve(events.size());
  for (uint64_t i = 0; i < tree.size(); ++i) block.proofs.push_back(tree.Prove(i));
  block.next.next_sequence = tip.next_sequence + 1;
  block.next.previous_hash = BlockHash(block.header_envelope);
  block.next.time_high_water_ms = high_water;
  block.next.counter = params.counter;
  return block;
}

}  // namespace tessera::audit
