// PKCS#11 key store: any module (SoftHSM2, OpenSC, a network HSM's client library).
//
// The module is loaded with dlopen and initialised once per process (shared by every store
// on the same module path). The token is found by label, not slot id (slot ids change
// between runs). One worker thread owns one logged-in R/W session; a session the module
// invalidated (CKR_SESSION_HANDLE_INVALID, CKR_DEVICE_REMOVED, ...) is reopened and the
// request tried once more. The identity key is a token-resident, sensitive,
// non-extractable EC P-256 key pair; signatures are CKM_ECDSA over a host-computed
// SHA-256 digest. The counter is a private CKO_DATA object "<object>.counter" holding an
// 8-byte big-endian value; an increment writes the next value as a new object, then
// destroys the old one, and a read takes the largest. It is only as strong as the token's
// storage (docs/HSM.md).
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <memory>

#include "hsm/key_store.h"
#include "hsm/key_uri.h"

namespace tessera::hsm {

// Loads the module, finds the token and logs in.
// Errors: hsm.module_load, hsm.token_not_found, hsm.wrong_pin, hsm.pin_locked.
Result<std::unique_ptr<KeyStore>> OpenPkcs11KeyStore(const Pkcs11Uri& uri,
                                                     const OpenOptions& options);

}  // namespace tessera::hsm
