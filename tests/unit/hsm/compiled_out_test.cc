// A build without the TPM and PKCS#11 backends (tessera_hsm_no_hardware: OpenKeyStore
// compiled with neither) answers their URIs with a typed "compiled out" error that says how
// to build them in, and still serves soft: keys.
#include <gtest/gtest.h>

#include "hsm/hsm_error.h"
#include "hsm/key_store.h"

namespace tessera::hsm {
namespace {

TEST(CompiledOutTest, TpmUrisAreUnimplementedWithTheOptionToBuildThem) {
  auto tpm = OpenKeyStore("tpm:", {});
  ASSERT_FALSE(tpm.ok());
  EXPECT_EQ(tpm.status().code(), StatusCode::kUnimplemented);
  EXPECT_EQ(HsmErrorOf(tpm.status()), HsmError::kCompiledOut) << tpm.status().ToString();
  EXPECT_NE(tpm.status().message().find("TESSERA_WITH_TPM=ON"), std::string::npos)
      << tpm.status().ToString();
}

TEST(CompiledOutTest, Pkcs11UrisAreUnimplementedWithTheOptionToBuildThem) {
  auto p11 = OpenKeyStore("pkcs11:token=t?module-path=/usr/lib/softhsm/libsofthsm2.so", {});
  ASSERT_FALSE(p11.ok());
  EXPECT_EQ(p11.status().code(), StatusCode::kUnimplemented);
  EXPECT_EQ(HsmErrorOf(p11.status()), HsmError::kCompiledOut) << p11.status().ToString();
  EXPECT_NE(p11.status().message().find("TESSERA_WITH_PKCS11=ON"), std::string::npos)
      << p11.status().ToString();
}

TEST(CompiledOutTest, SoftKeysStillWork) {
  auto soft =
      OpenKeyStore("soft:" + ::testing::TempDir() + "/compiled-out.pem", {.allow_insecure = true});
  ASSERT_TRUE(soft.ok()) << soft.status().ToString();
  EXPECT_EQ((*soft)->backend(), "soft");
}

TEST(CompiledOutTest, ABadUriIsStillABadUri) {
  auto bad = OpenKeyStore("tpm:handle=nonsense", {});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(HsmErrorOf(bad.status()), HsmError::kBadUri) << bad.status().ToString();
}

}  // namespace
}  // namespace tessera::hsm
