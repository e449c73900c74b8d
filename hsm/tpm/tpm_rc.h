// TSS2 response codes -> typed key-store errors.
#pragma once

#include <tss2/tss2_common.h>

#include <string_view>

#include "base/status.h"

namespace tessera::hsm {

// The TPM response code with its handle/parameter/session bits removed, or the full code
// for errors raised by a software layer (TCTI, ESAPI).
TSS2_RC TpmBaseRc(TSS2_RC rc);

// True for the TPM warnings that mean "try the same command again".
bool TpmRcIsTransient(TSS2_RC rc);

// True when the connection to the TPM is broken and must be reopened.
bool TpmRcIsConnectionLoss(TSS2_RC rc);

// Maps a failed call to a Status; `what` names the operation.
Status TpmError(std::string_view what, TSS2_RC rc);

}  // namespace tessera::hsm
