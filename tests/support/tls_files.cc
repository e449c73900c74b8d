#include "tests/support/tls_files.h"

#include <cstdlib>
#include <string>

namespace tessera::testing {

Result<TlsFiles> MakeSelfSignedCert(const std::filesystem::path& dir) {
  TlsFiles files{dir / "cert.pem", dir / "key.pem"};
  std::string cmd =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
      " -keyout '" +
      files.key.string() + "' -out '" + files.cert.string() +
      "' -days 2 -subj /CN=localhost"
      " -addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1";
  int rc = std::system(cmd.c_str());
  if (rc != 0) return Unavailable("openssl req failed (status " + std::to_string(rc) + ")");
  return files;
}

}  // namespace tessera::testing
