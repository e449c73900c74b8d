#include "hsm/hsm_error.h"

#include <gtest/gtest.h>

#include "hsm/key_store.h"

namespace tessera::hsm {
namespace {

TEST(HsmErrorTest, CodesAndTags) {
  Status s = MakeHsmError(HsmError::kLockout, "TPM in lockout");
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), "hsm.lockout: TPM in lockout");
  EXPECT_EQ(HsmErrorOf(s), HsmError::kLockout);
  EXPECT_EQ(MakeHsmError(HsmError::kWrongPin, "x").code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(MakeHsmError(HsmError::kDeviceGone, "x").code(), StatusCode::kUnavailable);
  EXPECT_EQ(MakeHsmError(HsmError::kKeyNotFound, "x").code(), StatusCode::kNotFound);
  EXPECT_EQ(MakeHsmError(HsmError::kCompiledOut, "x").code(), StatusCode::kUnimplemented);
}

TEST(HsmErrorTest, SurvivesAnnotation) {
  Status s = MakeHsmError(HsmError::kTokenNotFound, "no token").Annotate("opening key store");
  EXPECT_EQ(HsmErrorOf(s), HsmError::kTokenNotFound);
}

TEST(HsmErrorTest, ForeignStatusesHaveNoKind) {
  EXPECT_EQ(HsmErrorOf(Status::Ok()), std::nullopt);
  EXPECT_EQ(HsmErrorOf(NotFound("hsm.lockout: but the code does not match")), std::nullopt);
  EXPECT_EQ(HsmErrorOf(Internal("plain")), std::nullopt);
}

TEST(HsmErrorTest, SoftBackendRefusedWithoutAllowInsecure) {
  auto store = OpenKeyStore("soft:" + ::testing::TempDir() + "/refused.pem", {});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(HsmErrorOf(store.status()), HsmError::kInsecureRefused);
  auto allowed =
      OpenKeyStore("soft:" + ::testing::TempDir() + "/allowed.pem", {.allow_insecure = true});
  ASSERT_TRUE(allowed.ok());
  EXPECT_TRUE(IsInsecure(**allowed));
  EXPECT_EQ((*allowed)->backend(), "soft");
}

}  // namespace
}  // namespace tessera::hsm
