// Typed audit and token verification errors.
//
// Every verification failure is a Status whose message starts with a stable tag naming the
// exact fault ("audit.lease_expired: ..."); AuditErrorOf recovers the enum, so callers and
// tests tell faults apart without parsing prose. docs/AUDIT.md lists them all.
//
// Thread safety: free functions over values.
#pragma once

#include <optional>
#include <string_view>

#include "base/status.h"

namespace tessera::audit {

enum class AuditError {
  kMalformed,               // bytes do not parse, a size or field is out of range
  kCertificateSignature,    // the certificate is not signed by the vendor root key
  kCertificateInvalid,      // the certificate's appliance id does not match its key
  kCertificateNotYetValid,  // now < not_before
  kCertificateExpired,      // now >= not_after
  kHeaderSignature,         // a block header is not signed by the appliance key
  kApplianceMismatch,       // appliance ids of certificate, header and event disagree
  kInclusionProof,          // the event is not in the block (proof does not reach the root)
  kNotALease,               // the token's event is not a lease grant or renewal
  kNonceMismatch,           // the token carries another nonce than the client sent
  kFeatureMismatch,         // the token is for another feature
  kLeaseExpired,            // now >= the lease's expiry
  kSequenceGap,             // a block is missing from the chain
  kOutOfOrder,              // blocks are present but not in sequence order
  kChainBroken,             // previous_hash does not match the previous block
  kMerkleRootMismatch,      // the events do not hash to the header's root (or count)
  kClockWentBackwards,      // trusted time or the monotonic counter decreased
  kSignFailed,              // the signing callback failed while sealing
};

// Stable tag, e.g. "audit.lease_expired".
std::string_view AuditErrorTag(AuditError e);

// Builds the Status for `e`: message "audit.<tag>: <detail>". Codes: kMalformed
// InvalidArgument; kCertificateNotYetValid, kCertificateExpired, kLeaseExpired
// FailedPrecondition; kSignFailed Unavailable; signature and nonce faults PermissionDenied;
// chain faults DataLoss.
Status MakeAuditError(AuditError e, std::string_view detail);

// The AuditError a Status was built from, or nullopt for OK and foreign statuses.
std::optional<AuditError> AuditErrorOf(const Status& s);

}  // namespace tessera::audit
