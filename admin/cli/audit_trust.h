// Where `tessera audit verify` gets the appliance public key: always from outside the data
// being verified (docs/ADMIN.md "Trust"). Someone who can edit a database or an export can
// replace any key stored in it, so a key or certificate found there is used only once it
// verifies against the vendor root key the operator supplies.
//
// Thread safety: free functions.
#pragma once

#include <string>

#include "admin/cli/audit_source.h"
#include "base/encoding.h"
#include "base/status.h"

namespace tessera::cli {

// Exactly one of vendor_pub, appliance_pub, key_uri.
struct TrustFlags {
  std::string vendor_pub;     // vendor root SPKI, DER or PEM
  std::string certificate;    // with vendor_pub: the certificate file (else the input's own)
  std::string appliance_pub;  // SPKI of the appliance identity key, DER or PEM
  std::string key_uri;        // the identity key's store (reads only the public key)
  bool insecure_dev_keys = false;

  bool given() const;
};

struct Trust {
  Bytes appliance_spki;
  std::string appliance_id;
  std::string description;  // how the key was obtained, for the report
};

// Checks that exactly one trust option is given and --certificate only with --vendor-pub.
// Errors: InvalidArgument.
Status CheckTrustFlags(const TrustFlags& flags);

// Obtains the appliance key. With vendor_pub, the certificate (flags.certificate, else the
// source's) is verified first: signature and key binding, not its validity period (blocks
// outlive certificates, as in audit::VerifyAuditExport).
// Errors carrying an audit::AuditError (AuditErrorOf) mean the certificate did not verify or
// is missing (kCertificateSignature): a verification failure. Any other error is bad usage
// or an unreadable file or key store.
Result<Trust> ResolveTrust(const TrustFlags& flags, BlockSource& source);

}  // namespace tessera::cli
