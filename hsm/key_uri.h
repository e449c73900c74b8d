// Key URI parsing (grammar in docs/HSM.md).
//
// Thread safety: free functions over values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/encoding.h"
#include "base/status.h"

namespace tessera::hsm {

inline constexpr std::string_view kDefaultTcti = "device:/dev/tpmrm0";
inline constexpr uint32_t kDefaultTpmKeyHandle = 0x81000100;     // owner persistent range
inline constexpr uint32_t kDefaultTpmCounterIndex = 0x01800100;  // owner NV range
inline constexpr std::string_view kDefaultPkcs11Object = "tessera-identity";
inline constexpr std::string_view kDefaultPinEnv = "TESSERA_PKCS11_PIN";

// tpm:[tcti=<tcti conf>][;handle=<persistent handle>][;counter=<NV index>][;pcrs=<n,n,...>]
struct TpmUri {
  std::string tcti{kDefaultTcti};
  uint32_t key_handle = kDefaultTpmKeyHandle;
  uint32_t counter_index = kDefaultTpmCounterIndex;
  std::vector<uint32_t> pcrs;  // SHA-256 PCRs the key's use is bound to; empty: no policy
};

// Where the PIN comes from: never the URI itself, never argv.
struct PinSource {
  enum class Kind { kFile, kEnv };
  Kind kind = Kind::kEnv;
  std::string where{kDefaultPinEnv};  // a file path or an environment variable name
};

// pkcs11:token=<label>[;object=<label>][;id=<pct-bytes>]?module-path=<so>[&pin-source=<src>]
struct Pkcs11Uri {
  std::string token;
  std::string object{kDefaultPkcs11Object};
  Bytes id;  // CKA_ID; empty means "derived from the object label"
  std::string module_path;
  PinSource pin;
};

inline constexpr uint32_t kMaxSoftSignDelayMs = 10'000;

// soft:<path to PEM>  or  soft:path=<path to PEM>, either with "?sign-delay-ms=N": every
// signature then sleeps N ms (0..kMaxSoftSignDelayMs), a stand-in for a slow TPM in
// benchmarks and tests (docs/HSM.md). A literal '?' starts the options; a '?' in the file
// name is written %3F.
struct SoftUri {
  std::string path;
  uint32_t sign_delay_ms = 0;
};

using KeyUri = std::variant<TpmUri, Pkcs11Uri, SoftUri>;

// Errors: hsm.bad_uri, naming the offending part.
Result<KeyUri> ParseKeyUri(std::string_view uri);

// RFC 3986 percent-decoding. Errors: hsm.bad_uri on a truncated or non-hex escape.
Result<std::string> PercentDecode(std::string_view s);

// Reads the PIN (a file's first line, or an environment variable).
// Errors: hsm.wrong_pin when the source is missing or empty.
Result<std::string> ReadPin(const PinSource& source);

}  // namespace tessera::hsm
