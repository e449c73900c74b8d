#include "tests/unit/audit/test_key.h"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <stdexcept>

#include "hsm/crypto.h"

namespace tessera::audit::testing {

TestKey::TestKey() {
  EVP_PKEY* raw = EVP_EC_gen("P-256");
  if (raw == nullptr) throw std::runtime_error("EVP_EC_gen failed");
  key_.reset(raw, EVP_PKEY_free);
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(raw, &der);
  if (len <= 0) throw std::runtime_error("i2d_PUBKEY failed");
  spki_.assign(der, der + len);
  OPENSSL_free(der);
}

SignFn TestKey::signer() {
  return [key = key_, count = signatures_](const hsm::Digest& digest) -> Result<hsm::Signature> {
    ++*count;
    std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
        EVP_PKEY_CTX_new(key.get(), nullptr), &EVP_PKEY_CTX_free);
    unsigned char der[80];
    size_t len = sizeof(der);
    if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1 ||
        EVP_PKEY_sign(ctx.get(), der, &len, digest.data(), digest.size()) != 1) {
      return Internal("EVP_PKEY_sign failed");
    }
    return hsm::SignatureFromDer({der, len});
  };
}

std::string GrantEvent(const std::string& appliance_id, const std::string& lease_id,
                       const std::string& feature, const std::string& nonce, TimePoint issued,
                       TimePoint expires) {
  v1::AuditEvent e;
  e.set_kind(v1::LEASE_GRANTED);
  e.set_at_ms(ToUnixMillis(issued));
  e.set_appliance_id(appliance_id);
  e.set_lease_id(lease_id);
  e.set_feature(feature);
  e.set_count(1);
  e.set_client_id("client-1");
  e.set_user("alice");
  e.set_host("ws-1");
  v1::AuditLease* lease = e.mutable_lease();
  lease->set_version("2.1");
  lease->set_count(1);
  lease->set_nonce(nonce);
  lease->set_issued_at_ms(ToUnixMillis(issued));
  lease->set_expires_at_ms(ToUnixMillis(expires));
  lease->set_heartbeat_interval_ms(30'000);
  return e.SerializeAsString();
}

std::string DenialEvent(const std::string& appliance_id, int n) {
  v1::AuditEvent e;
  e.set_kind(v1::CHECKOUT_DENIED);
  e.set_at_ms(1'767'225'600'000 + n);
  e.set_appliance_id(appliance_id);
  e.set_feature("cad");
  e.set_client_id("client-" + std::to_string(n));
  e.set_denial_reason(2);  // NO_SEATS
  e.set_detail("all 5 seats in use");
  return e.SerializeAsString();
}

v1::SignedEnvelope Certify(TestKey& vendor, const TestKey& appliance, TimePoint from,
                           TimePoint until) {
  CertificateRequest req;
  req.identity_public_key = appliance.spki();
  req.customer = "Example Corp";
  req.not_before = from;
  req.not_after = until;
  req.serial = 7;
  Result<v1::SignedEnvelope> cert = IssueCertificate(req, vendor.signer(), vendor.spki());
  if (!cert.ok()) throw std::runtime_error(cert.status().ToString());
  return *cert;
}

v1::AuditExport MakeExport(TestKey& appliance, const v1::SignedEnvelope& certificate,
                           int block_count, int events_per_block) {
  v1::AuditExport out;
  out.set_format_version(1);
  *out.mutable_certificate() = certificate;
  out.set_previous_hash(std::string(32, '\0'));
  ChainTip tip = ChainTip::Genesis();
  int n = 0;
  for (int b = 0; b < block_count; ++b) {
    std::vector<std::string> events;
    for (int i = 0; i < events_per_block; ++i) events.push_back(DenialEvent(appliance.id(), n++));
    SealParams params;
    params.appliance_id = appliance.id();
    params.counter = 3;
    params.wall_time = FromUnixMillis(1'767'225'600'000 + 1000 * b);
    Result<SealedBlock> block = SealBlock(tip, events, params, appliance.signer());
    if (!block.ok()) throw std::runtime_error(block.status().ToString());
    v1::AuditBlock* out_block = out.add_blocks();
    *out_block->mutable_header() = block->header_envelope;
    for (auto& e : events) out_block->add_events(e);
    tip = block->next;
  }
  return out;
}

}  // namespace tessera::audit::testing
