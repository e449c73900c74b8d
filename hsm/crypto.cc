#include "hsm/crypto.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <memory>

namespace tessera::hsm {
namespace {

// SubjectPublicKeyInfo header for id-ecPublicKey / prime256v1 with a 65-byte BIT STRING.
constexpr uint8_t kP256SpkiPrefix[] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
                                       0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
                                       0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct SigFree {
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

Result<PkeyPtr> ParseP256(std::span<const uint8_t> spki) {
  const unsigned char* p = spki.data();
  PkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki.size())));
  if (!key || p != spki.data() + spki.size()) {
    return InvalidArgument("public key is not a DER SubjectPublicKeyInfo");
  }
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_EC || EVP_PKEY_get_bits(key.get()) != 256) {
    return InvalidArgument("public key is not ECDSA P-256");
  }
  return key;
}

}  // namespace

Digest Sha256(std::span<const uint8_t> data) {
  Digest d{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), d.data(), &len, EVP_sha256(), nullptr);
  return d;
}

Result<Bytes> SpkiFromEcPoint(std::span<const uint8_t> point) {
  if (point.size() != 65 || point[0] != 0x04) {
    return InvalidArgument("EC point is not an uncompressed P-256 point");
  }
  Bytes spki(std::begin(kP256SpkiPrefix), std::end(kP256SpkiPrefix));
  spki.insert(spki.end(), point.begin(), point.end());
  // Rejects points that are not on the curve.
  TESSERA_RETURN_IF_ERROR(ParseP256(spki).status());
  return spki;
}

Result<Bytes> SpkiFromXY(std::span<const uint8_t> x, std::span<const uint8_t> y) {
  if (x.size() > 32 || y.size() > 32) return InvalidArgument("EC coordinate longer than 32 bytes");
  Bytes point(65, 0);
  point[0] = 0x04;
  std::copy(x.begin(), x.end(), point.begin() + 1 + (32 - static_cast<long>(x.size())));
  std::copy(y.begin(), y.end(), point.begin() + 33 + (32 - static_cast<long>(y.size())));
  return SpkiFromEcPoint(point);
}

Result<std::string> SpkiToPem(std::span<const uint8_t> spki) {
  TESSERA_ASSIGN_OR_RETURN(PkeyPtr key, ParseP256(spki));
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key.get()) != 1) {
    return Internal("cannot encode public key as PEM");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

Status VerifySignature(std::span<const uint8_t> spki, std::span<const uint8_t> message,
                       const Signature& signature) {
  return VerifyDigestSignature(spki, Sha256(message), signature);
}

Status VerifyDigestSignature(std::span<const uint8_t> spki, const Digest& digest,
                             const Signature& signature) {
  TESSERA_ASSIGN_OR_RETURN(Verifier verifier, Verifier::Create(spki));
  return verifier.VerifyDigest(digest, signature);
}

Result<Verifier> Verifier::Create(std::span<const uint8_t> spki) {
  TESSERA_ASSIGN_OR_RETURN(PkeyPtr key, ParseP256(spki));
  return Verifier(std::shared_ptr<EVP_PKEY>(key.release(), PkeyFree()));
}

Status Verifier::Verify(std::span<const uint8_t> message, const Signature& signature) const {
  return VerifyDigest(Sha256(message), signature);
}

Status Verifier::VerifyDigest(const Digest& digest, const Signature& signature) const {
  std::unique_ptr<ECDSA_SIG, SigFree> sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(signature.data(), 32, nullptr);
  BIGNUM* s = BN_bin2bn(signature.data() + 32, 32, nullptr);
  if (!sig || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return Internal("cannot build ECDSA signature");
  }
  unsigned char* der = nullptr;
  int der_len = i2d_ECDSA_SIG(sig.get(), &der);
  if (der_len <= 0) return Internal("cannot encode ECDSA signature");
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new(key_.get(), nullptr), &EVP_PKEY_CTX_free);
  bool ok = ctx && EVP_PKEY_verify_init(ctx.get()) == 1 &&
            EVP_PKEY_verify(ctx.get(), der, static_cast<size_t>(der_len), digest.data(),
                            digest.size()) == 1;
  OPENSSL_free(der);
  if (!ok) return PermissionDenied("signature does not verify");
  return Status::Ok();
}

Result<Signature> SignatureFromDer(std::span<const uint8_t> der) {
  const unsigned char* p = der.data();
  std::unique_ptr<ECDSA_SIG, SigFree> sig(
      d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) return InvalidArgument("not a DER ECDSA signature");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  Signature out{};
  if (BN_bn2binpad(r, out.data(), 32) != 32 || BN_bn2binpad(s, out.data() + 32, 32) != 32) {
    return InvalidArgument("ECDSA signature component longer than 32 bytes");
  }
  return out;
}

Result<Signature> SignatureFromRS(std::span<const uint8_t> r, std::span<const uint8_t> s) {
  if (r.size() > 32 || s.size() > 32) return InvalidArgument("ECDSA component too long");
  Signature out{};
  std::copy(r.begin(), r.end(), out.begin() + (32 - static_cast<long>(r.size())));
  std::copy(s.begin(), s.end(), out.begin() + 32 + (32 - static_cast<long>(s.size())));
  return out;
}

std::string ApplianceId(std::span<const uint8_t> spki) {
  Digest d = Sha256(spki);
  return Base32Encode(d.data(), d.size());
}

}  // namespace tessera::hsm
