#include "hsm/tpm/tpm_rc.h"

#include <gtest/gtest.h>
#include <tss2/tss2_tpm2_types.h>

#include "hsm/hsm_error.h"

namespace tessera::hsm {
namespace {

TEST(TpmRcTest, StripsHandleAndParameterBits) {
  EXPECT_EQ(TpmBaseRc(TPM2_RC_HANDLE | TPM2_RC_1 | TPM2_RC_H), TPM2_RC_HANDLE);
  EXPECT_EQ(TpmBaseRc(TPM2_RC_LOCKOUT), TPM2_RC_LOCKOUT);
}

TEST(TpmRcTest, TransientWarningsAreRetried) {
  EXPECT_TRUE(TpmRcIsTransient(TPM2_RC_RETRY));
  EXPECT_TRUE(TpmRcIsTransient(TPM2_RC_YIELDED));
  EXPECT_TRUE(TpmRcIsTransient(TPM2_RC_TESTING));
  EXPECT_FALSE(TpmRcIsTransient(TPM2_RC_LOCKOUT));
}

TEST(TpmRcTest, TypedErrors) {
  EXPECT_EQ(HsmErrorOf(TpmError("Sign", TPM2_RC_LOCKOUT)), HsmError::kLockout);
  EXPECT_EQ(HsmErrorOf(TpmError("Sign", TSS2_TCTI_RC_IO_ERROR)), HsmError::kDeviceGone);
  EXPECT_EQ(HsmErrorOf(TpmError("Sign", TSS2_TCTI_RC_NO_CONNECTION)), HsmError::kDeviceGone);
  EXPECT_EQ(HsmErrorOf(TpmError("Sign", TPM2_RC_AUTH_FAIL | TPM2_RC_S | TPM2_RC_1)),
            HsmError::kWrongPin);
  EXPECT_EQ(HsmErrorOf(TpmError("Sign", TPM2_RC_RETRY)), HsmError::kBusy);
  EXPECT_EQ(HsmErrorOf(TpmError("Sign", TPM2_RC_POLICY_FAIL | TPM2_RC_S | TPM2_RC_1)),
            HsmError::kPolicyMismatch);
  EXPECT_EQ(HsmErrorOf(TpmError("Sign", TPM2_RC_VALUE | TPM2_RC_P | TPM2_RC_2)), HsmError::kDevice);
}

}  // namespace
}  // namespace tessera::hsm
