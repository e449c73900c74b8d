// Software key store: the identity key in a PEM file (PKCS#8, mode 0600), the counter in
// "<pem>.counter" beside it, no trusted clock. For development and tests only: a copy of
// the file is a copy of the appliance. OpenKeyStore refuses it without allow_insecure.
//
// Location: "<pem path>[?sign-delay-ms=N]" (what follows "soft:" once percent-decoded).
// sign-delay-ms (0..10000, default 0) makes every SignDigest sleep N ms on the calling
// thread before signing, holding the store's lock as a real device is busy for the whole
// command: a stand-in for a slow TPM (20-200 ms) in benchmarks and tests. A '?' therefore
// always starts the options and cannot be part of the file name.
//
// Thread safety: all methods are safe to call concurrently (one mutex).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "hsm/key_store.h"
#include "hsm/key_uri.h"

namespace tessera::hsm {

inline constexpr uint32_t kMaxSoftSignDelayMs = 10'000;

struct SoftLocation {
  std::string path;
  uint32_t sign_delay_ms = 0;
};

// Splits a soft location into the PEM path and its options.
// Errors: hsm.bad_uri for an empty path, an empty or unknown option, an option given twice,
// or a sign-delay-ms that is not a decimal number in 0..kMaxSoftSignDelayMs.
Result<SoftLocation> ParseSoftLocation(std::string_view location);

// Never null. When uri.path does not parse (ParseSoftLocation), every operation of the
// returned store fails with that hsm.bad_uri error, so the daemon and the CLI report it
// on first use (they read the public key at start).
std::unique_ptr<KeyStore> NewSoftKeyStore(const SoftUri& uri);

}  // namespace tessera::hsm
