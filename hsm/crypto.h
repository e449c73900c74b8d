// Host-side cryptography shared by every backend and by verifiers (OpenSSL): SHA-256,
// P-256 public keys as SubjectPublicKeyInfo, 64-byte r||s signatures, appliance ids.
//
// Thread safety: free functions over values.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <utility>

#include "base/encoding.h"
#include "base/status.h"
#include "hsm/key_store.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY

namespace tessera::hsm {

Digest Sha256(std::span<const uint8_t> data);

// DER SubjectPublicKeyInfo of a P-256 key from its uncompressed point (0x04||X||Y, 65
// bytes), or from X and Y (each at most 32 bytes, left-padded).
// Errors: InvalidArgument when the point is malformed or not on the curve.
Result<Bytes> SpkiFromEcPoint(std::span<const uint8_t> point);
Result<Bytes> SpkiFromXY(std::span<const uint8_t> x, std::span<const uint8_t> y);

// Errors: InvalidArgument when `spki` is not a P-256 public key.
Result<std::string> SpkiToPem(std::span<const uint8_t> spki);

// Verifies a 64-byte r||s signature over SHA-256(message). OK, or PermissionDenied when
// the signature does not verify, InvalidArgument when the key is malformed.
Status VerifySignature(std::span<const uint8_t> spki, std::span<const uint8_t> message,
                       const Signature& signature);
Status VerifyDigestSignature(std::span<const uint8_t> spki, const Digest& digest,
                             const Signature& signature);

// A parsed P-256 public key for repeated verification: parsing the DER dominates a one-shot
// VerifySignature, so verifiers of many signatures by one key keep one of these.
// Thread safety: Verify may be called concurrently on one object.
class Verifier {
 public:
  // Errors: InvalidArgument when `spki` is not a P-256 SubjectPublicKeyInfo.
  static Result<Verifier> Create(std::span<const uint8_t> spki);

  // OK, or PermissionDenied when the signature does not verify.
  Status Verify(std::span<const uint8_t> message, const Signature& signature) const;
  Status VerifyDigest(const Digest& digest, const Signature& signature) const;

 private:
  explicit Verifier(std::shared_ptr<evp_pkey_st> key) : key_(std::move(key)) {}
  std::shared_ptr<evp_pkey_st> key_;
};

// DER ECDSA-Sig-Value -> r||s. Errors: InvalidArgument.
Result<Signature> SignatureFromDer(std::span<const uint8_t> der);

// r||s from big-endian integers of at most 32 bytes each (left-padded).
Result<Signature> SignatureFromRS(std::span<const uint8_t> r, std::span<const uint8_t> s);

// SHA-256 of the DER SubjectPublicKeyInfo, in lowercase base32 without padding (52
// characters). DESIGN.md §2.
std::string ApplianceId(std::span<const uint8_t> spki);

}  // namespace tessera::hsm
