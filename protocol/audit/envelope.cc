#include "protocol/audit/envelope.h"

#include <utility>

#include "hsm/crypto.h"

namespace tessera::audit {

SignFn SignerFn(hsm::Signer& signer) {
  return [&signer](const hsm::Digest& digest) { return signer.SignDigest(digest); };
}

std::string KeyId(std::span<const uint8_t> spki) { return hsm::ApplianceId(spki); }

Result<v1::SignedEnvelope> SignEnvelope(std::string payload, const SignFn& sign,
                                        std::string key_id) {
  Result<hsm::Signature> signature = sign(hsm::Sha256(AsBytes(payload)));
  if (!signature.ok()) {
    return MakeAuditError(AuditError::kSignFailed, signature.status().ToString());
  }
  v1::SignedEnvelope envelope;
  envelope.set_payload(std::move(payload));
  envelope.set_signature(signature->data(), signature->size());
  envelope.set_key_id(std::move(key_id));
  return envelope;
}

Status VerifyEnvelope(const v1::SignedEnvelope& envelope, std::span<const uint8_t> spki,
                      AuditError on_bad) {
  if (envelope.payload().size() > kMaxEnvelopePayloadBytes) {
    return MakeAuditError(AuditError::kMalformed, "envelope payload too large");
  }
  hsm::Signature signature;
  if (envelope.signature().size() != signature.size()) {
    return MakeAuditError(on_bad, "signature is not 64 bytes r||s");
  }
  std::copy(envelope.signature().begin(), envelope.signature().end(), signature.begin());
  Status s = hsm::VerifySignature(spki, AsBytes(envelope.payload()), signature);
  if (s.ok()) return s;
  if (s.code() == StatusCode::kPermissionDenied) return MakeAuditError(on_bad, s.message());
  return MakeAuditError(AuditError::kMalformed, "public key: " + s.message());
}

Result<v1::SignedEnvelope> IssueCertificate(const CertificateRequest& request, const SignFn& sign,
                                            std::span<const uint8_t> vendor_spki) {
  // A key that cannot verify anything would make a useless certificate: check it parses.
  Result<hsm::Verifier> key = hsm::Verifier::Create(request.identity_public_key);
  if (!key.ok()) return InvalidArgument("appliance key: " + key.status().message());
  if (request.not_after <= request.not_before) return InvalidArgument("empty validity period");
  v1::ApplianceCertificate cert;
  cert.set_format_version(1);
  cert.set_appliance_id(hsm::ApplianceId(request.identity_public_key));
  cert.set_identity_public_key(request.identity_public_key.data(),
                               request.identity_public_key.size());
  cert.set_customer(request.customer);
  cert.set_not_before_ms(ToUnixMillis(request.not_before));
  cert.set_not_after_ms(ToUnixMillis(request.not_after));
  cert.set_serial(request.serial);
  return SignEnvelope(cert.SerializeAsString(), sign, KeyId(vendor_spki));
}

Result<v1::ApplianceCertificate> VerifyCertificate(const v1::SignedEnvelope& envelope,
                                                   std::span<const uint8_t> vendor_spki,
                                                   std::optional<TimePoint> now) {
  TESSERA_RETURN_IF_ERROR(VerifyEnvelope(envelope, vendor_spki, AuditError::kCertificateSignature));
  v1::ApplianceCertificate cert;
  if (!cert.ParseFromString(envelope.payload())) {
    return MakeAuditError(AuditError::kMalformed, "certificate payload does not parse");
  }
  const std::string& key = cert.identity_public_key();
  if (!hsm::Verifier::Create(AsBytes(key)).ok()) {
    return MakeAuditError(AuditError::kCertificateInvalid, "identity key is not P-256");
  }
  if (cert.appliance_id() != hsm::ApplianceId(AsBytes(key))) {
    return MakeAuditError(AuditError::kCertificateInvalid,
                          "appliance id does not match the identity key");
  }
  if (now.has_value()) {
    int64_t t = ToUnixMillis(*now);
    if (t < cert.not_before_ms()) {
      return MakeAuditError(AuditError::kCertificateNotYetValid,
                            "valid from " + FormatTime(FromUnixMillis(cert.not_before_ms())));
    }
    if (t >= cert.not_after_ms()) {
      return MakeAuditError(AuditError::kCertificateExpired,
                            "valid until " + FormatTime(FromUnixMillis(cert.not_after_ms())));
    }
  }
  return cert;
}

}  // namespace tessera::audit
