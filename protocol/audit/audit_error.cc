#include "protocol/audit/audit_error.h"

#include <array>
#include <string>

namespace tessera::audit {
namespace {

struct ErrorInfo {
  AuditError error;
  std::string_view tag;
  StatusCode code;
};

constexpr std::array<ErrorInfo, 18> kErrors = {{
    {AuditError::kMalformed, "audit.malformed", StatusCode::kInvalidArgument},
    {AuditError::kCertificateSignature, "audit.bad_certificate_signature",
     StatusCode::kPermissionDenied},
    {AuditError::kCertificateInvalid, "audit.bad_certificate", StatusCode::kPermissionDenied},
    {AuditError::kCertificateNotYetValid, "audit.certificate_not_yet_valid",
     StatusCode::kFailedPrecondition},
    {AuditError::kCertificateExpired, "audit.certificate_expired", StatusCode::kFailedPrecondition},
    {AuditError::kHeaderSignature, "audit.bad_header_signature", StatusCode::kPermissionDenied},
    {AuditError::kApplianceMismatch, "audit.appliance_mismatch", StatusCode::kPermissionDenied},
    {AuditError::kInclusionProof, "audit.bad_inclusion_proof", StatusCode::kPermissionDenied},
    {AuditError::kNotALease, "audit.not_a_lease", StatusCode::kInvalidArgument},
    {AuditError::kNonceMismatch, "audit.nonce_mismatch", StatusCode::kPermissionDenied},
    {AuditError::kFeatureMismatch, "audit.feature_mismatch", StatusCode::kPermissionDenied},
    {AuditError::kLeaseExpired, "audit.lease_expired", StatusCode::kFailedPrecondition},
    {AuditError::kSequenceGap, "audit.sequence_gap", StatusCode::kDataLoss},
    {AuditError::kOutOfOrder, "audit.out_of_order", StatusCode::kDataLoss},
    {AuditError::kChainBroken, "audit.chain_broken", StatusCode::kDataLoss},
    {AuditError::kMerkleRootMismatch, "audit.merkle_root_mismatch", StatusCode::kDataLoss},
    {AuditError::kClockWentBackwards, "audit.clock_went_backwards", StatusCode::kDataLoss},
    {AuditError::kSignFailed, "audit.sign_failed", StatusCode::kUnavailable},
}};

const ErrorInfo& Info(AuditError e) {
  for (const auto& info : kErrors) {
    if (info.error == e) return info;
  }
  return kErrors.front();
}

}  // namespace

std::string_view AuditErrorTag(AuditError e) { return Info(e).tag; }

Status MakeAuditError(AuditError e, std::string_view detail) {
  const ErrorInfo& info = Info(e);
  std::string message(info.tag);
  message += ": ";
  message += detail;
  return {info.code, std::move(message)};
}

std::optional<AuditError> AuditErrorOf(const Status& s) {
  if (s.ok()) return std::nullopt;
  std::string_view m = s.message();
  for (const auto& info : kErrors) {
    // The tag may follow context added by Status::Annotate.
    if (info.code == s.code() && m.find(std::string(info.tag) + ":") != std::string_view::npos) {
      return info.error;
    }
  }
  return std::nullopt;
}

}  // namespace tessera::audit
