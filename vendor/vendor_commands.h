// The commands of `tessera-vendor` (docs/AUDIT.md "Vendor side"), apart from argument
// parsing so they are testable and main.cc stays small.
//
// Each returns the process exit code: 0 success, 1 verification failed (the named fault is
// printed), 2 bad input or an unusable key/file. Output goes to `out`, diagnostics to `err`.
// Thread safety: call from one thread.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

namespace tessera::vendor {

inline constexpr int kExitOk = 0;
inline constexpr int kExitVerifyFailed = 1;
inline constexpr int kExitError = 2;

// Files dev-init writes into its directory.
inline constexpr char kRootKeyFile[] = "vendor-root.pem";    // soft: key (PKCS#8)
inline constexpr char kRootSpkiFile[] = "vendor-root.spki";  // public key, DER SPKI
inline constexpr char kRootPubPemFile[] = "vendor-root.pub.pem";

// Creates a development vendor root key in `dir` (a soft: key file; never for production)
// and prints its public key and key id. Refuses when the directory already holds one.
int RunDevInit(const std::string& dir, std::ostream& out, std::ostream& err);

struct CertifyOptions {
  std::string vendor_key_uri;  // tpm:, pkcs11: or soft: (soft needs insecure_dev_keys)
  bool insecure_dev_keys = false;
  std::string appliance_key_spki;  // file with the appliance identity key, DER SPKI
  std::string appliance_key_uri;   // or: read it from the appliance's key store
  std::string customer;
  int64_t days = 0;      // validity from now, 1..36500
  uint64_t serial = 0;   // 0: milliseconds since the epoch at issue time
  std::string out_path;  // the certificate envelope (SignedEnvelope bytes)
};

// Issues an appliance certificate signed by the vendor key, valid from now for `days`.
int RunCertify(const CertifyOptions& options, std::ostream& out, std::ostream& err);

// Verifies an AuditExport file offline against the vendor root public key (DER SPKI file);
// prints a summary, or the first bad block's sequence and what is wrong with it.
int RunAuditVerify(const std::string& export_path, const std::string& vendor_pub_path,
                   std::ostream& out, std::ostream& err);

}  // namespace tessera::vendor
