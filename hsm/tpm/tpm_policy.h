// PCR policy helpers: bind the identity key's use to the values of some SHA-256 PCRs.
//
// A key created with a PCR policy has authPolicy = PolicyPCR(selected PCRs, their values at
// creation) and no userWithAuth, so it signs only inside a policy session whose PolicyPCR
// matches: after the measured boot state changes, signing fails with TPM_RC_POLICY_FAIL.
#pragma once

#include <tss2/tss2_esys.h>

#include <cstdint>
#include <vector>

namespace tessera::hsm {

// The SHA-256 bank selection for `pcrs` (each 0..23).
TPML_PCR_SELECTION Sha256PcrSelection(const std::vector<uint32_t>& pcrs);

// Starts a session of `type` (TPM2_SE_TRIAL or TPM2_SE_POLICY) and runs PolicyPCR over the
// current values of `selection`. On failure no session is left open.
TSS2_RC StartPcrPolicySession(ESYS_CONTEXT* esys, TPM2_SE type, const TPML_PCR_SELECTION& selection,
                              ESYS_TR* session);

// The policy digest a key needs for `selection` at the PCRs' current values.
TSS2_RC PcrPolicyDigest(ESYS_CONTEXT* esys, const TPML_PCR_SELECTION& selection,
                        TPM2B_DIGEST* digest);

}  // namespace tessera::hsm
