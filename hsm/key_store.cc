#include "hsm/key_store.h"

#include <cstdio>
#include <variant>

#include "hsm/crypto.h"
#include "hsm/hsm_error.h"
#include "hsm/key_uri.h"
#include "hsm/soft/soft_key_store.h"

#if TESSERA_HSM_WITH_TPM
#include "hsm/tpm/tpm_key_store.h"
#endif
#if TESSERA_HSM_WITH_PKCS11
#include "hsm/pkcs11/pkcs11_key_store.h"
#endif

namespace tessera::hsm {

Result<Signature> Signer::Sign(std::span<const uint8_t> message) {
  return SignDigest(Sha256(message));
}

namespace {

Result<std::unique_ptr<KeyStore>> Open(const TpmUri& uri, const OpenOptions& options) {
#if TESSERA_HSM_WITH_TPM
  return OpenTpmKeyStore(uri, options);
#else
  (void)uri;
  (void)options;
  return MakeHsmError(HsmError::kCompiledOut,
                      "this build has no TPM backend (configure with -DTESSERA_WITH_TPM=ON)");
#endif
}

Result<std::unique_ptr<KeyStore>> Open(const Pkcs11Uri& uri, const OpenOptions& options) {
#if TESSERA_HSM_WITH_PKCS11
  return OpenPkcs11KeyStore(uri, options);
#else
  (void)uri;
  (void)options;
  return MakeHsmError(
      HsmError::kCompiledOut,
      "this build has no PKCS#11 backend (configure with -DTESSERA_WITH_PKCS11=ON)");
#endif
}

Result<std::unique_ptr<KeyStore>> Open(const SoftUri& uri, const OpenOptions& options) {
  if (!options.allow_insecure) {
    return MakeHsmError(HsmError::kInsecureRefused,
                        "the software key store keeps the identity key in a file and is for "
                        "development only; it needs --insecure-dev-keys");
  }
  std::fprintf(stderr,
               "WARNING: INSECURE software key store in use (%s): the identity key is a plain "
               "file, anyone who copies it can impersonate this appliance. Development only.\n",
               uri.path.c_str());
  return NewSoftKeyStore(uri);
}

}  // namespace

Result<std::unique_ptr<KeyStore>> OpenKeyStore(std::string_view uri, const OpenOptions& options) {
  TESSERA_ASSIGN_OR_RETURN(KeyUri parsed, ParseKeyUri(uri));
  return std::visit([&](const auto& u) { return Open(u, options); }, parsed);
}

}  // namespace tessera::hsm
