#include "admin/cli/audit_trust.h"

#include "hsm/crypto.h"
#include "hsm/key_store.h"
#include "protocol/audit/audit_error.h"

namespace tessera::cli {
namespace {

// A DER P-256 SubjectPublicKeyInfo from a file.
Result<Bytes> ReadSpki(const std::string& path, const std::string& what) {
  TESSERA_ASSIGN_OR_RETURN(std::string der, ReadInputFile(path));
  if (der.rfind("-----BEGIN", 0) == 0) {
    return InvalidArgument(path + ": " + what + " must be DER (SubjectPublicKeyInfo), not PEM");
  }
  Bytes spki(der.begin(), der.end());
  if (!hsm::Verifier::Create(spki).ok()) {
    return InvalidArgument(path + ": " + what + " is not a P-256 public key (DER SPKI)");
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
