// TPM 2.0 key store (tpm2-tss ESAPI).
//
// The identity key is an ECC P-256 signing key (fixedTPM, fixedParent,
// sensitiveDataOrigin, userWithAuth, sign, noDA, empty auth) created under a storage root
// key derived from a fixed template in the owner hierarchy, and made persistent at the
// URI's handle with TPM2_EvictControl. The counter is an NV index of type counter (noDA).
//
// One worker thread owns the ESAPI context; requests are serialised through a bounded
// queue. TPM_RC_RETRY / YIELDED / TESTING are retried. A broken connection (device gone,
// simulator killed) fails the request with hsm.device_gone and the next request
// reconnects. Destruction sends TPM2_Shutdown(CLEAR) so the next start is orderly.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <memory>

#include "hsm/key_store.h"
#include "hsm/key_uri.h"

namespace tessera::hsm {

// Connects to the TPM; does not require a key to exist yet.
// Errors: hsm.device_gone when the TCTI cannot connect.
Result<std::unique_ptr<KeyStore>> OpenTpmKeyStore(const TpmUri& uri, const OpenOptions& options);

}  // namespace tessera::hsm
