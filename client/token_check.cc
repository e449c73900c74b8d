#include "client/token_check.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <array>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <utility>

#include "protocol/audit/audit_error.h"
#include "protocol/audit/envelope.h"
#include "protocol/audit/token.h"

namespace tessera::client {
namespace {

constexpr std::string_view kRejectedPrefix = "token rejected: ";
constexpr size_t kMaxKeyFileBytes = 64 * 1024;

struct TokenErrorInfo {
  TokenError error;
  std::string_view tag;
};

constexpr std::array<TokenErrorInfo, kMaxTokenError> kTokenErrors = {{
    {TokenError::kMissing, "token.missing"},
    {TokenError::kMalformed, "audit.malformed"},
    {TokenError::kCertificateSignature, "audit.bad_certificate_signature"},
    {TokenError::kCertificateInvalid, "audit.bad_certificate"},
    {TokenError::kCertificateNotYetValid, "audit.certificate_not_yet_valid"},
    {TokenError::kCertificateExpired, "audit.certificate_expired"},
    {TokenError::kHeaderSignature, "audit.bad_header_signature"},
    {TokenError::kApplianceMismatch, "audit.appliance_mismatch"},
    {TokenError::kInclusionProof, "audit.bad_inclusion_proof"},
    {TokenError::kNotALease, "audit.not_a_lease"},
    {TokenError::kNonceMismatch, "audit.nonce_mismatch"},
    {TokenError::kFeatureMismatch, "audit.feature_mismatch"},
    {TokenError::kLeaseExpired, "audit.lease_expired"},
    {TokenError::kLeaseMismatch, "token.lease_mismatch"},
}};

// The audit verifier's errors that a token check can produce, by their tags (the audit
// library's tags are the client's, so the mapping is by name, and a new audit error that the
// client does not know yet reads as malformed).
TokenError FromAudit(const Status& status) {
  const std::optional<audit::AuditError> error = audit::AuditErrorOf(status);
  if (!error) return TokenError::kMalformed;
  const std::string_view tag = audit::AuditErrorTag(*error);
  for (const auto& info : kTokenErrors) {
    if (info.tag == tag) return info.error;
  }
  return TokenError::kMalformed;
}

struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

Status CheckP256(const EVP_PKEY* key) {
  char group[64] = {};
  size_t len = 0;
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
      EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof(group), &len) != 1 ||
      std::string_view(group, len) != "prime256v1") {
    return InvalidArgument("the vendor root public key is not a P-256 key");
  }
  return Status::Ok();
}

}  // namespace

std::string_view TokenErrorTag(TokenError error) {
  for (const auto& info : kTokenErrors) {
    if (info.error == error) return info.tag;
  }
  return "token.unknown";
}

std::optional<TokenError> TokenErrorOf(const Status& status) {
  if (status.ok() || status.code() != StatusCode::kPermissionDenied) return std::nullopt;
  const std::string_view message = status.message();
  const size_t at = message.find(kRejectedPrefix);
  if (at == std::string_view::npos) return std::nullopt;
  const std::string_view rest = message.substr(at + kRejectedPrefix.size());
  for (const auto& info : kTokenErrors) {
    if (rest.substr(0, info.tag.size()) == info.tag &&
        (rest.size() == info.tag.size() || rest[info.tag.size()] == ':')) {
      return info.error;
    }
  }
  return std::nullopt;
}

Status TokenRejected(TokenError error, std::string_view detail) {
  std::string message(kRejectedPrefix);
  message += TokenErrorTag(error);
  if (!detail.empty()) {
    message += ": ";
    message += detail;
  }
  return PermissionDenied(std::move(message));
}

Status CheckVendorKey(std::span<const uint8_t> key) {
  const unsigned char* p = key.data();
  PkeyPtr parsed(d2i_PUBKEY(nullptr, &p, static_cast<long>(key.size())));
  if (!parsed || p != key.data() + key.size()) {
    return InvalidArgument("the vendor root public key is not a DER SubjectPublicKeyInfo");
  }
  return CheckP256(parsed.get());
}

Status VerifyLeaseTokenInto(const std::string& token, std::span<const uint8_t> key,
                            const TokenExpectation& expect, TimePoint now, Lease* lease) {
  if (token.empty()) return TokenRejected(TokenError::kMissing, "the server sent no token");
  auto verified =
      audit::VerifyLeaseToken(audit::AsBytes(token), key, expect.nonce, expect.feature, now);
  if (!verified.ok())
    return TokenRejected(FromAudit(verified.status()), verified.status().message());
  if (!expect.lease_id.empty() && verified->lease_id != expect.lease_id) {
    return TokenRejected(
        TokenError::kLeaseMismatch,
        "token for lease " + verified->lease_id + ", granted " + std::string(expect.lease_id));
  }
  if (expect.count != 0 && verified->count != expect.count) {
    return TokenRejected(TokenError::kLeaseMismatch,
                         "token for " + std::to_string(verified->count) + " seat(s), granted " +
                             std::to_string(expect.count));
  }
  lease->token = token;
  lease->token_verified = true;
  lease->appliance_id = verified->appliance_id;
  lease->customer = verified->customer;
  lease->block_sequence = verified->block_sequence;
  lease->token_expires_at = verified->expires_at;
  return Status::Ok();
}

Result<std::vector<uint8_t>> LoadVendorRootPublicKey(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read the vendor root public key file \"" + path + "\"");
  std::string data;
  data.resize(kMaxKeyFileBytes + 1);
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<size_t>(in.gcount()));
  if (data.size() > kMaxKeyFileBytes) {
    return InvalidArgument("the vendor root public key file \"" + path + "\" is too large");
  }
  PkeyPtr key;
  if (data.find("-----BEGIN PUBLIC KEY-----") != std::string::npos) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(
        BIO_new_mem_buf(data.data(), static_cast<int>(data.size())), &BIO_free);
    if (bio) key.reset(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  } else {
    const auto* p = reinterpret_cast<const unsigned char*>(data.data());
    key.reset(d2i_PUBKEY(nullptr, &p, static_cast<long>(data.size())));
    if (key && p != reinterpret_cast<const unsigned char*>(data.data()) + data.size()) key.reset();
  }
  if (!key) {
    return InvalidArgument("\"" + path +
                           "\" is not a public key (DER SubjectPublicKeyInfo or PEM)");
  }
  TESSERA_RETURN_IF_ERROR(CheckP256(key.get()).Annotate(path));
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(key.get(), &der);
  if (len <= 0) return Internal("cannot encode the vendor root public key");
  std::vector<uint8_t> out(der, der + len);
  OPENSSL_free(der);
  return out;
}

Result<Lease> VerifyLeaseToken(std::string_view token_bytes,
                               const std::vector<uint8_t>& vendor_root_public_key,
                               std::string_view feature, TimePoint now) {
  TESSERA_RETURN_IF_ERROR(CheckVendorKey(vendor_root_public_key));
  if (token_bytes.empty()) return TokenRejected(TokenError::kMissing, "no token given");
  // The nonce to expect is the token's own (a borrowed lease is re-checked without the
  // request that made it). Read without trust: the verifier checks everything else.
  std::string nonce;
  if (token_bytes.size() <= audit::kMaxTokenBytes) {
    v1::LeaseToken token;
    v1::AuditEvent event;
    if (token.ParseFromArray(token_bytes.data(), static_cast<int>(token_bytes.size())) &&
        event.ParseFromString(token.event())) {
      nonce = event.lease().nonce();
    }
  }
  const std::string token(token_bytes);
  auto verified =
      audit::VerifyLeaseToken(audit::AsBytes(token), vendor_root_public_key, nonce, feature, now);
  if (!verified.ok())
    return TokenRejected(FromAudit(verified.status()), verified.status().message());
  const v1::AuditLease& signed_lease = verified->event.lease();
  Lease lease;
  lease.lease_id = verified->lease_id;
  lease.feature = verified->feature;
  lease.version = signed_lease.version();
  lease.count = verified->count;
  lease.issued_at = verified->issued_at;
  lease.expires_at = verified->expires_at;
  lease.heartbeat_interval = Duration(signed_lease.heartbeat_interval_ms());
  lease.borrowed = signed_lease.borrowed();
  lease.overdraft = signed_lease.overdraft();
  lease.nonce = verified->nonce;
  lease.token = token;
  lease.token_verified = true;
  lease.appliance_id = verified->appliance_id;
  lease.customer = verified->customer;
  lease.block_sequence = verified->block_sequence;
  lease.token_expires_at = verified->expires_at;
  return lease;
}

}  // namespace tessera::client
