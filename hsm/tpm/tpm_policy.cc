#include "hsm/tpm/tpm_policy.h"

namespace tessera::hsm {

TPML_PCR_SELECTION Sha256PcrSelection(const std::vector<uint32_t>& pcrs) {
  TPML_PCR_SELECTION sel{};
  sel.count = 1;
  sel.pcrSelections[0].hash = TPM2_ALG_SHA256;
  sel.pcrSelections[0].sizeofSelect = 3;
  for (uint32_t pcr : pcrs) {
    if (pcr < 24) sel.pcrSelections[0].pcrSelect[pcr / 8] |= static_cast<BYTE>(1u << (pcr % 8));
  }
  return sel;
}

TSS2_RC StartPcrPolicySession(ESYS_CONTEXT* esys, TPM2_SE type, const TPML_PCR_SELECTION& selection,
                              ESYS_TR* session) {
  TPMT_SYM_DEF symmetric{};
  symmetric.algorithm = TPM2_ALG_NULL;
  ESYS_TR s = ESYS_TR_NONE;
  TSS2_RC rc = Esys_StartAuthSession(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                     ESYS_TR_NONE, nullptr, type, &symmetric, TPM2_ALG_SHA256, &s);
  if (rc != TSS2_RC_SUCCESS) return rc;
  TPM2B_DIGEST current{};  // empty: the TPM uses the PCRs' current values
  rc = Esys_PolicyPCR(esys, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &current, &selection);
  if (rc != TSS2_RC_SUCCESS) {
    (void)Esys_FlushContext(esys, s);
    return rc;
  }
  *session = s;
  return TSS2_RC_SUCCESS;
}

TSS2_RC PcrPolicyDigest(ESYS_CONTEXT* esys, const TPML_PCR_SELECTION& selection,
                        TPM2B_DIGEST* digest) {
  ESYS_TR session = ESYS_TR_NONE;
  TSS2_RC rc = StartPcrPolicySession(esys, TPM2_SE_TRIAL, selection, &session);
  if (rc != TSS2_RC_SUCCESS) return rc;
  TPM2B_DIGEST* out = nullptr;
  rc = Esys_PolicyGetDigest(esys, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &out);
  if (rc == TSS2_RC_SUCCESS) *digest = *out;
  Esys_Free(out);
  (void)Esys_FlushContext(esys, session);
  return rc;
}

}  // namespace tessera::hsm
