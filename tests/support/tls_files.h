// A throwaway self-signed certificate for TLS tests (openssl CLI, ECDSA P-256).
#pragma once

#include <filesystem>

#include "base/status.h"

namespace tessera::testing {

struct TlsFiles {
  std::filesystem::path cert;  // PEM, CN=localhost, SAN DNS:localhost, IP:127.0.0.1
  std::filesystem::path key;   // PEM, unencrypted
};

// Creates cert.pem and key.pem in `dir`.
Result<TlsFiles> MakeSelfSignedCert(const std::filesystem::path& dir);

}  // namespace tessera::testing
