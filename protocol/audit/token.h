// Lease tokens (DESIGN.md §2, §5): one lease event of a sealed block, its Merkle inclusion
// proof, the signed block header and the appliance certificate. A client verifies a token
// alone, offline, with nothing but the vendor root public key built into it.
//
// Thread safety: free functions over values.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "base/status.h"
#include "base/time.h"
#include "protocol/audit/block.h"
#include "protocol/audit/envelope.h"

namespace tessera::audit {

// Builds the serialized LeaseToken for events[index] of `block`.
// REQUIRES: `events` are the leaves `block` was sealed from; index < events.size().
// Errors: InvalidArgument when index is out of range.
Result<std::string> BuildLeaseToken(const SealedBlock& block, std::span<const std::string> events,
                                    size_t index, const v1::SignedEnvelope& certificate);

// What a verified token grants.
struct VerifiedLease {
  std::string lease_id;
  std::string feature;
  uint32_t count = 0;
  std::string nonce;
  TimePoint issued_at{};
  TimePoint expires_at{};
  std::string appliance_id;
  std::string customer;
  uint64_t block_sequence = 0;
  v1::AuditEvent event;  // the whole leaf
};

// Verifies a token offline, in this order: size and parse; the certificate against
// `vendor_root_spki` and its validity at `now`; the block header signature by the
// certificate's identity key; the inclusion proof against the header's Merkle root; that
// the event is a lease event of the same appliance; the nonce; the feature; that the lease
// has not expired at `now` (now < expires_at).
// Errors (AuditErrorOf): kMalformed, kCertificateSignature, kCertificateInvalid,
// kCertificateNotYetValid, kCertificateExpired, kHeaderSignature, kApplianceMismatch,
// kInclusionProof, kNotALease, kNonceMismatch, kFeatureMismatch, kLeaseExpired.
Result<VerifiedLease> VerifyLeaseToken(std::span<const uint8_t> token_bytes,
                                       std::span<const uint8_t> vendor_root_spki,
                                       std::string_view expected_nonce,
                                       std::string_view expected_feature, TimePoint now);

// Proof conversions between the wire and InclusionProof.
v1::MerkleProof ToProto(const InclusionProof& proof);
// Errors: audit.malformed for a sibling that is not 32 bytes or more than 64 siblings.
Result<InclusionProof> FromProto(const v1::MerkleProof& proof);

}  // namespace tessera::audit
