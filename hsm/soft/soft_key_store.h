// Software key store: the identity key in a PEM file (PKCS#8, mode 0600), the counter in
// "<pem>.counter" beside it, no trusted clock. For development and tests only: a copy of
// the file is a copy of the appliance. OpenKeyStore refuses it without allow_insecure.
//
// SoftUri::sign_delay_ms (key_uri.h) makes every SignDigest sleep that long on the calling
// thread before signing, holding the store's lock as a real device is busy for the whole
// command: a stand-in for a slow TPM (20-200 ms) in benchmarks and tests.
//
// Thread safety: all methods are safe to call concurrently (one mutex).
#pragma once

#include <memory>

#include "hsm/key_store.h"
#include "hsm/key_uri.h"

namespace tessera::hsm {

std::unique_ptr<KeyStore> NewSoftKeyStore(const SoftUri& uri);

}  // namespace tessera::hsm
