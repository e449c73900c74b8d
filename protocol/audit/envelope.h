// Signed envelopes and appliance certificates (DESIGN.md §2, docs/AUDIT.md).
//
// An envelope's signature covers the exact payload bytes; payloads are parsed only after
// their signature verified, and never re-serialized.
//
// Thread safety: free functions over values; a SignFn is called on the caller's thread.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>

#include "base/encoding.h"
#include "base/status.h"
#include "base/time.h"
#include "hsm/key_store.h"
#include "protocol/audit/audit_error.h"
#include "protocol/audit/merkle.h"
#include "tessera/v1/audit.pb.h"

namespace tessera::audit {

namespace v1 = ::tessera::v1;

// Signs a SHA-256 digest with some key (an hsm::Signer, a test key, a slow fake).
using SignFn = std::function<Result<hsm::Signature>(const hsm::Digest&)>;

// Adapts a Signer. REQUIRES: `signer` outlives the returned function.
SignFn SignerFn(hsm::Signer& signer);

// Limits applied before parsing anything received from outside.
inline constexpr size_t kMaxEnvelopePayloadBytes = 64 * 1024;
inline constexpr size_t kMaxTokenBytes = 256 * 1024;
inline constexpr size_t kMaxEventBytes = 16 * 1024;

// The key id written into envelopes: base32 SHA-256 of the SPKI (the appliance id for an
// appliance key).
std::string KeyId(std::span<const uint8_t> spki);

// Signs `payload` (SHA-256, then `sign`). Errors: audit.sign_failed with the signer's error.
Result<v1::SignedEnvelope> SignEnvelope(std::string payload, const SignFn& sign,
                                        std::string key_id);

// Checks `envelope.signature` over its payload with `spki`.
// Errors: audit.malformed (signature not 64 bytes, payload too large, bad key), or `on_bad`
// (the caller's typed error) when the signature does not verify.
Status VerifyEnvelope(const v1::SignedEnvelope& envelope, std::span<const uint8_t> spki,
                      AuditError on_bad);

// The fields of a certificate to issue.
struct CertificateRequest {
  Bytes identity_public_key;  // DER SPKI, P-256
  std::string customer;
  TimePoint not_before{};
  TimePoint not_after{};
  uint64_t serial = 0;
};

// Issues an appliance certificate envelope signed by the vendor root key.
// Errors: InvalidArgument for a malformed key or an empty validity; audit.sign_failed.
Result<v1::SignedEnvelope> IssueCertificate(const CertificateRequest& request, const SignFn& sign,
                                            std::span<const uint8_t> vendor_spki);

// Verifies a certificate envelope against the vendor root key and returns its payload.
// With `now`, also its validity: not_before <= now < not_after.
// Errors: audit.malformed, audit.bad_certificate_signature, audit.bad_certificate (appliance
// id does not match the key, or the key is not P-256), audit.certificate_not_yet_valid,
// audit.certificate_expired.
Result<v1::ApplianceCertificate> VerifyCertificate(const v1::SignedEnvelope& envelope,
                                                   std::span<const uint8_t> vendor_spki,
                                                   std::optional<TimePoint> now);

}  // namespace tessera::audit
