#include "protocol/audit/token.h"

#include "hsm/crypto.h"

namespace tessera::audit {

v1::MerkleProof ToProto(const InclusionProof& proof) {
  v1::MerkleProof out;
  out.set_leaf_index(proof.leaf_index);
  out.set_tree_size(proof.tree_size);
  for (const Digest& d : proof.siblings) out.add_siblings(d.data(), d.size());
  return out;
}

Result<InclusionProof> FromProto(const v1::MerkleProof& proof) {
  // A tree of 2^64 leaves has a path of at most 64 nodes.
  if (proof.siblings_size() > 64) {
    return MakeAuditError(AuditError::kMalformed, "inclusion proof too long");
  }
  InclusionProof out;
  out.leaf_index = proof.leaf_index();
  out.tree_size = proof.tree_size();
  for (const std::string& s : proof.siblings()) {
    Digest d;
    if (s.size() != d.size()) {
      return MakeAuditError(AuditError::kMalformed, "proof hash is not 32 bytes");
    }
    std::copy(s.begin(), s.end(), d.begin());
    out.siblings.push_back(d);
  }
  return out;
}

Result<std::string> BuildLeaseToken(const SealedBlock& block, std::span<const std::string> events,
                                    size_t index, const v1::SignedEnvelope& certificate) {
  if (index >= events.size() || index >= block.proofs.size()) {
    return InvalidArgument("event index outside the block");
  }
  v1::LeaseToken token;
  token.set_format_version(1);
  token.set_event(events[index]);
  *token.mutable_proof() = ToProto(block.proofs[index]);
  *token.mutable_block_header() = block.header_envelope;
  *token.mutable_certificate() = certificate;
  return token.SerializeAsString();
}

namespace {

bool IsLeaseEvent(v1::AuditEventKind kind) {
  return kind == v1::LEASE_GRANTED || kind == v1::LEASE_RENEWED || kind == v1::LEASE_RECLAIMED ||
         kind == v1::CHECKOUT_DEQUEUED;
}

// The header, signed by the certificate's key and naming the same appliance.
Result<v1::BlockHeader> VerifyHeader(const v1::SignedEnvelope& envelope,
                                     const v1::ApplianceCertificate& cert) {
  TESSERA_RETURN_IF_ERROR(
      VerifyEnvelope(envelope, AsBytes(cert.identity_public_key()), AuditError::kHeaderSignature));
  v1::BlockHeader header;
  if (!header.ParseFromString(envelope.payload())) {
    return MakeAuditError(AuditError::kMalformed, "block header does not parse");
  }
  if (header.appliance_id() != cert.appliance_id()) {
    return MakeAuditError(
        AuditError::kApplianceMismatch,
        "block of " + header.appliance_id() + ", certificate for " + cert.appliance_id());
  }
  return header;
}

Status VerifyProof(const v1::LeaseToken& token, const v1::BlockHeader& header) {
  TESSERA_ASSIGN_OR_RETURN(InclusionProof proof, FromProto(token.proof()));
  Digest root;
  if (header.merkle_root().size() != root.size()) {
    return MakeAuditError(AuditError::kMalformed, "merkle root is not 32 bytes");
  }
  std::copy(header.merkle_root().begin(), header.merkle_root().end(), root.begin());
  if (proof.tree_size != header.event_count() ||
      !VerifyInclusion(AsBytes(token.event()), proof, root)) {
    return MakeAuditError(AuditError::kInclusionProof, "event " + std::to_string(proof.leaf_index) +
                                                           " not in block " +
                                                           std::to_string(header.sequence()));
  }
  return Status::Ok();
}

Result<v1::AuditEvent> ParseLeaseEvent(const std::string& bytes,
                                       const v1::ApplianceCertificate& cert) {
  v1::AuditEvent event;
  if (bytes.size() > kMaxEventBytes || !event.ParseFromString(bytes)) {
    return MakeAuditError(AuditError::kMalformed, "event does not parse");
  }
  if (!IsLeaseEvent(event.kind()) || !event.has_lease() || event.lease_id().empty()) {
    return MakeAuditError(AuditError::kNotALease,
                          "event kind " + v1::AuditEventKind_Name(event.kind()));
  }
  if (event.appliance_id() != cert.appliance_id()) {
    return MakeAuditError(AuditError::kApplianceMismatch, "event of " + event.appliance_id());
  }
  return event;
}

}  // namespace

Result<VerifiedLease> VerifyLeaseToken(std::span<const uint8_t> token_bytes,
                                       std::span<const uint8_t> vendor_root_spki,
                                       std::string_view expected_nonce,
                                       std::string_view expected_feature, TimePoint now) {
  if (token_bytes.size() > kMaxTokenBytes) {
    return MakeAuditError(AuditError::kMalformed, "token above the size limit");
  }
  v1::LeaseToken token;
  if (!token.ParseFromArray(token_bytes.data(), static_cast<int>(token_bytes.size()))) {
    return MakeAuditError(AuditError::kMalformed, "token does not parse");
  }
  if (token.format_version() != 1) {
    return MakeAuditError(AuditError::kMalformed,
                          "token format " + std::to_string(token.format_version()));
  }
  TESSERA_ASSIGN_OR_RETURN(v1::ApplianceCertificate cert,
                           VerifyCertificate(token.certificate(), vendor_root_spki, now));
  TESSERA_ASSIGN_OR_RETURN(v1::BlockHeader header, VerifyHeader(token.block_header(), cert));
  TESSERA_RETURN_IF_ERROR(VerifyProof(token, header));
  TESSERA_ASSIGN_OR_RETURN(v1::AuditEvent event, ParseLeaseEvent(token.event(), cert));
  const v1::AuditLease& lease = event.lease();
  if (lease.nonce() != expected_nonce) {
    return MakeAuditError(AuditError::kNonceMismatch, "token nonce differs from the request's");
  }
  if (event.feature() != expected_feature) {
    return MakeAuditError(AuditError::kFeatureMismatch, "token for feature " + event.feature());
  }
  if (ToUnixMillis(now) >= lease.expires_at_ms()) {
    return MakeAuditError(AuditError::kLeaseExpired,
                          "lease expired at " + FormatTime(FromUnixMillis(lease.expires_at_ms())));
  }
  VerifiedLease out;
  out.lease_id = event.lease_id();
  out.feature = event.feature();
  out.count = lease.count();
  out.nonce = lease.nonce();
  out.issued_at = FromUnixMillis(lease.issued_at_ms());
  out.expires_at = FromUnixMillis(lease.expires_at_ms());
  out.appliance_id = cert.appliance_id();
  out.customer = cert.customer();
  out.block_sequence = header.sequence();
  out.event = std::move(event);
  return out;
}

}  // namespace tessera::audit
