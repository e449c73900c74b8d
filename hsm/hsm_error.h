// Typed key-store errors.
//
// Every failure of a key store is a Status whose code says how the caller should react
// (kUnavailable: retry or reconnect; kPermissionDenied: wrong PIN; kNotFound: not there) and
// whose message starts with a stable tag naming the exact fault ("hsm.lockout: ..."), so the
// daemon and tests can tell, say, a TPM lockout from a wrong PIN without parsing prose.
//
// Thread safety: free functions over values.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace tessera::hsm {

enum class HsmError {
  kKeyNotFound,      // no identity key at the configured location (NotFound)
  kTokenNotFound,    // no PKCS#11 token with the configured label (NotFound)
  kModuleLoad,       // the PKCS#11 module cannot be loaded or initialised (FailedPrecondition)
  kWrongPin,         // the PIN was refused (PermissionDenied)
  kPinLocked,        // the token locked the PIN after failed attempts (PermissionDenied)
  kLockout,          // the TPM is in dictionary-attack lockout (FailedPrecondition)
  kPolicyMismatch,   // the key's PCR policy is not met: boot state changed (FailedPrecondition)
  kDeviceGone,       // the device or its connection went away (Unavailable)
  kBusy,             // the device stayed busy through every retry, or the queue is full
  kKeyExists,        // creating a key where one exists, without replace (AlreadyExists)
  kCounterMissing,   // the monotonic counter was never initialised (FailedPrecondition)
  kBadUri,           // the key URI is malformed (InvalidArgument)
  kInsecureRefused,  // the software backend without allow_insecure (FailedPrecondition)
  kCompiledOut,      // the backend is not built into this binary (Unimplemented)
  kNotSupported,     // the backend lacks the capability (Unimplemented)
  kDevice,           // any other device or library failure (Internal)
};

// Stable tag, e.g. "hsm.lockout".
std::string_view HsmErrorTag(HsmError e);

// Builds the Status for `e`: the code listed above, message "hsm.<tag>: <detail>".
Status MakeHsmError(HsmError e, std::string_view detail);

// The HsmError a Status was built from, or nullopt for OK and foreign statuses.
std::optional<HsmError> HsmErrorOf(const Status& s);

}  // namespace tessera::hsm
