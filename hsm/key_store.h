// The hardware key store seam: one identity key per store, addressed by a key URI.
//
//   tpm:tcti=device:/dev/tpmrm0;handle=0x81000100;counter=0x01800100
//   pkcs11:token=tessera;object=identity?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/tessera/pin
//   soft:/var/lib/tessera/dev-identity.pem            (development only)
//
// The grammar is documented in docs/HSM.md. The algorithm is ECDSA P-256 with SHA-256
// everywhere; messages are hashed on the host and signatures are always 64 bytes r||s
// (big-endian, each left-padded to 32 bytes). Verification is done in software
// (hsm/crypto.h), independent of any backend.
//
// Errors: every failure is a Status built by MakeHsmError (hsm/hsm_error.h); use
// HsmErrorOf to tell faults apart.
//
// Thread safety: every KeyStore method may be called from any thread. Hardware backends
// serialise requests on one worker thread that owns the device context.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "base/encoding.h"
#include "base/status.h"

namespace tessera::hsm {

using Digest = std::array<uint8_t, 32>;     // SHA-256
using Signature = std::array<uint8_t, 64>;  // r||s

// Optional capabilities, discovered at run time.
struct Capabilities {
  bool monotonic_counter = false;  // ReadCounter / IncrementCounter work
  bool hardware_counter = false;   // ... and the counter is kept by the device itself
  bool trusted_clock = false;      // ReadClock works (TPM clock)
  bool pcr_policy = false;         // the identity key can be bound to PCR values
  bool attestation = false;        // the device can attest the identity key
};

// The TPM clock tuple (TPMS_CLOCK_INFO). `clock_ms` counts milliseconds the TPM has been
// powered; it only advances, except that after an unclean restart it can fall back to
// the last value saved to NV, in which case `safe` is false. `reset_count` grows on every
// TPM Reset (Startup(CLEAR)), `restart_count` on every TPM Restart/Resume.
struct ClockTuple {
  uint64_t clock_ms = 0;
  uint32_t reset_count = 0;
  uint32_t restart_count = 0;
  bool safe = false;
};

// Anything that can sign with the identity key.
class Signer {
 public:
  virtual ~Signer() = default;

  // The identity public key as DER SubjectPublicKeyInfo.
  // Errors: hsm.key_not_found when the store holds no key yet.
  virtual Result<Bytes> PublicKeyDer() = 0;

  // Signs a SHA-256 digest computed by the caller.
  virtual Result<Signature> SignDigest(const Digest& digest) = 0;

  // Hashes `message` with SHA-256 on the host and signs the digest.
  Result<Signature> Sign(std::span<const uint8_t> message);
};

class KeyStore : public Signer {
 public:
  // "tpm", "pkcs11" or "soft".
  virtual std::string_view backend() const = 0;

  // True for a store whose keys live in a file (the software backend). Status output must
  // show it; production configurations refuse it.
  virtual bool insecure() const { return false; }

  virtual Capabilities capabilities() const = 0;

  // Creates the identity key inside the device.
  // Errors: hsm.key_exists when a key is already there and `replace` is false. With
  // `replace` the old key is destroyed first: the appliance id changes.
  virtual Status CreateKey(bool replace) = 0;

  // Creates the monotonic counter if it does not exist; leaves an existing one alone.
  // Errors: hsm.not_supported without the monotonic_counter capability.
  virtual Status InitCounter() = 0;

  // Errors: hsm.counter_missing before InitCounter.
  virtual Result<uint64_t> ReadCounter() = 0;

  // Advances the counter by one and returns the new value.
  virtual Result<uint64_t> IncrementCounter() = 0;

  // Errors: hsm.not_supported without the trusted_clock capability.
  virtual Result<ClockTuple> ReadClock() = 0;
};

struct OpenOptions {
  // Allows the software backend (development and tests only). When used, OpenKeyStore
  // prints a warning to stderr.
  bool allow_insecure = false;
  // Requests that may wait for a hardware backend's worker; more are refused (hsm.busy).
  size_t queue_capacity = 256;
};

// Opens the store a key URI names. Does not create a key; see Provision (hsm/provision.h).
// Errors: hsm.bad_uri, hsm.insecure_refused, hsm.compiled_out, and the backend's own
// errors when the device cannot be reached (hsm.device_gone, hsm.module_load,
// hsm.token_not_found, hsm.wrong_pin...).
Result<std::unique_ptr<KeyStore>> OpenKeyStore(std::string_view uri, const OpenOptions& options);

// True when `store` keeps its key in a file. Same as store.insecure().
inline bool IsInsecure(const KeyStore& store) { return store.insecure(); }

}  // namespace tessera::hsm
