#include "hsm/tpm/tpm_rc.h"

#include <tss2/tss2_rc.h>
#include <tss2/tss2_tpm2_types.h>

#include <string>

#include "hsm/hsm_error.h"

namespace tessera::hsm {

TSS2_RC TpmBaseRc(TSS2_RC rc) {
  if ((rc & TSS2_RC_LAYER_MASK) != TSS2_TPM_RC_LAYER) return rc;
  if (rc & TPM2_RC_FMT1) return rc & (TPM2_RC_FMT1 | 0x3F);
  return rc & 0xFFF;
}

bool TpmRcIsTransient(TSS2_RC rc) {
  TSS2_RC base = TpmBaseRc(rc);
  return base == TPM2_RC_RETRY || base == TPM2_RC_YIELDED || base == TPM2_RC_TESTING;
}

bool TpmRcIsConnectionLoss(TSS2_RC rc) {
  if ((rc & TSS2_RC_LAYER_MASK) == TSS2_TCTI_RC_LAYER) return true;
  TSS2_RC base = rc & 0xFFFF;
  return (rc & TSS2_RC_LAYER_MASK) != TSS2_TPM_RC_LAYER &&
         (base == TSS2_BASE_RC_IO_ERROR || base == TSS2_BASE_RC_NO_CONNECTION ||
          base == TSS2_BASE_RC_TRY_AGAIN || base == TSS2_BASE_RC_MALFORMED_RESPONSE);
}

Status TpmError(std::string_view what, TSS2_RC rc) {
  std::string detail = std::string(what) + ": " + Tss2_RC_Decode(rc);
  if (TpmRcIsConnectionLoss(rc)) return MakeHsmError(HsmError::kDeviceGone, detail);
  switch (TpmBaseRc(rc)) {
    case TPM2_RC_LOCKOUT:
      return MakeHsmError(HsmError::kLockout, detail);
    case TPM2_RC_POLICY_FAIL:
    case TPM2_RC_PCR_CHANGED:
      return MakeHsmError(HsmError::kPolicyMismatch, detail);
    case TPM2_RC_RETRY:
    case TPM2_RC_YIELDED:
    case TPM2_RC_TESTING:
      return MakeHsmError(HsmError::kBusy, detail);
    case TPM2_RC_AUTH_FAIL:
    case TPM2_RC_BAD_AUTH:
      return MakeHsmError(HsmError::kWrongPin, detail);
    default:
      return MakeHsmError(HsmError::kDevice, detail);
  }
}

}  // namespace tessera::hsm
