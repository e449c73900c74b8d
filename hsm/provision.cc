#include "hsm/provision.h"

#include <string_view>

#include "hsm/crypto.h"
#include "hsm/hsm_error.h"

namespace tessera::hsm {

Result<ProvisionResult> Provision(KeyStore& store, const ProvisionOptions& options) {
  ProvisionResult result;
  Result<Bytes> existing = store.PublicKeyDer();
  if (existing.ok() && !options.force) {
    result.public_key_der = std::move(existing).value();
  } else {
    if (!existing.ok() && HsmErrorOf(existing.status()) != HsmError::kKeyNotFound) {
      return existing.status();
    }
    TESSERA_RETURN_IF_ERROR(store.CreateKey(/*replace=*/options.force));
    TESSERA_ASSIGN_OR_RETURN(result.public_key_der, store.PublicKeyDer());
    result.created = true;
  }
  result.appliance_id = ApplianceId(result.public_key_der);

  if (store.capabilities().monotonic_counter) {
    TESSERA_RETURN_IF_ERROR(store.InitCounter());
    TESSERA_ASSIGN_OR_RETURN(result.counter, store.ReadCounter());
  }

  // The key must actually sign, and the signature must verify against the exported key.
  constexpr std::string_view kProbe = "tessera provisioning self-test";
  std::span<const uint8_t> probe(reinterpret_cast<const uint8_t*>(kProbe.data()), kProbe.size());
  TESSERA_ASSIGN_OR_RETURN(Signature sig, store.Sign(probe));
  Status verified = VerifySignature(result.public_key_der, probe, sig);
  if (!verified.ok()) {
    return MakeHsmError(HsmError::kDevice, "identity key self-test failed: " + verified.message());
  }
  return result;
}

std::string DescribeCapabilities(const Capabilities& caps) {
  std::string out;
  auto add = [&out](std::string_view word) {
    if (!out.empty()) out += ' ';
    out += word;
  };
  if (caps.monotonic_counter) add(caps.hardware_counter ? "counter(hardware)" : "counter(stored)");
  if (caps.trusted_clock) add("clock");
  if (caps.pcr_policy) add("pcr-policy");
  if (caps.attestation) add("attestation");
  if (out.empty()) out = "none";
  return out;
}

}  // namespace tessera::hsm
