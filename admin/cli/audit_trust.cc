#include "admin/cli/audit_trust.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

#include "hsm/crypto.h"
#include "hsm/key_store.h"
#include "protocol/audit/audit_error.h"

namespace tessera::cli {
namespace {

// The DER SubjectPublicKeyInfo inside a "-----BEGIN PUBLIC KEY-----" PEM block.
Result<Bytes> PemToSpki(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  if (!bio) return Internal("BIO_new_mem_buf failed");
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  if (!key) return InvalidArgument("not a PEM public key");
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(key.get(), &der);
  if (len <= 0) return InvalidArgument("not a PEM public key");
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

// A P-256 SubjectPublicKeyInfo from a file, DER or PEM (what `tessera key info` and
// `tessera-vendor dev-init` print).
Result<Bytes> ReadSpki(const std::string& path, const std::string& what) {
  TESSERA_ASSIGN_OR_RETURN(std::string data, ReadInputFile(path));
  Bytes spki(data.begin(), data.end());
  if (data.find("-----BEGIN PUBLIC KEY-----") != std::string::npos) {
    Result<Bytes> decoded = PemToSpki(data);
    if (!decoded.ok()) return decoded.status().Annotate(path + ": " + what);
    spki = std::move(*decoded);
  }
  if (!hsm::Verifier::Create(spki).ok()) {
    return InvalidArgument(path + ": " + what + " is not a P-256 public key (DER or PEM SPKI)");
  }
  return spki;
}

Result<v1::SignedEnvelope> CertificateFrom(const TrustFlags& flags, BlockSource& source) {
  if (!flags.certificate.empty()) {
    TESSERA_ASSIGN_OR_RETURN(std::string data, ReadInputFile(flags.certificate));
    v1::SignedEnvelope envelope;
    if (!envelope.ParseFromString(data)) {
      return InvalidArgument(flags.certificate + " is not an appliance certificate");
    }
    return envelope;
  }
  TESSERA_ASSIGN_OR_RETURN(std::optional<v1::SignedEnvelope> stored, source.Certificate());
  if (!stored) {
    return audit::MakeAuditError(
        audit::AuditError::kCertificateSignature,
        "the " + source.Describe() + " holds no appliance certificate (give --certificate FILE)");
  }
  return *stored;
}

Result<Trust> FromVendor(const TrustFlags& flags, BlockSource& source) {
  TESSERA_ASSIGN_OR_RETURN(Bytes vendor, ReadSpki(flags.vendor_pub, "the vendor root key"));
  TESSERA_ASSIGN_OR_RETURN(v1::SignedEnvelope envelope, CertificateFrom(flags, source));
  TESSERA_ASSIGN_OR_RETURN(v1::ApplianceCertificate cert,
                           audit::VerifyCertificate(envelope, vendor, std::nullopt));
  Trust trust;
  const std::string& key = cert.identity_public_key();
  trust.appliance_spki.assign(key.begin(), key.end());
  trust.appliance_id = cert.appliance_id();
  trust.description = "certificate for \"" + cert.customer() + "\" (serial " +
                      std::to_string(cert.serial()) + ", valid " +
                      FormatTime(FromUnixMillis(cert.not_before_ms())) + " .. " +
                      FormatTime(FromUnixMillis(cert.not_after_ms())) +
                      ") verified with vendor key " + audit::KeyId(vendor);
  return trust;
}

Result<Trust> FromKeyStore(const TrustFlags& flags) {
  TESSERA_ASSIGN_OR_RETURN(
      auto store, hsm::OpenKeyStore(flags.key_uri, {.allow_insecure = flags.insecure_dev_keys}));
  TESSERA_ASSIGN_OR_RETURN(Bytes spki, store->PublicKeyDer());
  return Trust{.appliance_spki = spki,
               .appliance_id = hsm::ApplianceId(spki),
               .description = "identity key in " + flags.key_uri};
}

}  // namespace

bool TrustFlags::given() const {
  return !vendor_pub.empty() || !appliance_pub.empty() || !key_uri.empty();
}

Status CheckTrustFlags(const TrustFlags& flags) {
  const int n = (flags.vendor_pub.empty() ? 0 : 1) + (flags.appliance_pub.empty() ? 0 : 1) +
                (flags.key_uri.empty() ? 0 : 1);
  if (n != 1) {
    return InvalidArgument(
        "give exactly one trust anchor: --vendor-pub FILE, --appliance-pub FILE or --key-uri "
        "URI");
  }
  if (!flags.certificate.empty() && flags.vendor_pub.empty()) {
    return InvalidArgument("--certificate is used only with --vendor-pub");
  }
  return Status::Ok();
}

Result<Trust> ResolveTrust(const TrustFlags& flags, BlockSource& source) {
  TESSERA_RETURN_IF_ERROR(CheckTrustFlags(flags));
  if (!flags.vendor_pub.empty()) return FromVendor(flags, source);
  if (!flags.key_uri.empty()) return FromKeyStore(flags);
  TESSERA_ASSIGN_OR_RETURN(Bytes spki, ReadSpki(flags.appliance_pub, "the appliance key"));
  return Trust{.appliance_spki = spki,
               .appliance_id = hsm::ApplianceId(spki),
               .description = "appliance public key " + flags.appliance_pub};
}

}  // namespace tessera::cli
