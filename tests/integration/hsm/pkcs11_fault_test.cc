// PKCS#11 faults against a real SoftHSM2 token: wrong PIN, missing token, missing key,
// wrong module path, a PIN in the URI, and sessions closed behind the store's back.
#include <gtest/gtest.h>
#include <p11-kit/pkcs11.h>

#include <cstdlib>
#include <string_view>

#include "hsm/crypto.h"
#include "hsm/hsm_error.h"
#include "hsm/key_store.h"
#include "hsm/pkcs11/pkcs11_module.h"
#include "tests/integration/hsm/hsm_test_env.h"

namespace tessera::hsm::testing {
namespace {

std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

class Pkcs11FaultTest : public ::testing::Test {
 protected:
  Pkcs11FaultTest() : token_(dir_.path() + "/softhsm", "faults", "4321") {}

  std::string Module() const { return SoftHsmToken::kModule; }

  TempDir dir_;
  SoftHsmToken token_;
};

TEST_F(Pkcs11FaultTest, WrongPin) {
  RunCommand({"sh", "-c", "echo 0000 > " + dir_.path() + "/wrong-pin"});
  auto store = OpenKeyStore("pkcs11:token=faults?module-path=" + Module() +
                                "&pin-source=file:" + dir_.path() + "/wrong-pin",
                            {});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(HsmErrorOf(store.status()), HsmError::kWrongPin) << store.status().ToString();
}

TEST_F(Pkcs11FaultTest, MissingPinFile) {
  auto store = OpenKeyStore("pkcs11:token=faults?module-path=" + Module() +
                                "&pin-source=file:" + dir_.path() + "/no-such-file",
                            {});
  EXPECT_EQ(HsmErrorOf(store.status()), HsmError::kWrongPin) << store.status().ToString();
}

TEST_F(Pkcs11FaultTest, PinFromEnvironment) {
  ::setenv("TESSERA_TEST_PIN", "4321", 1);
  auto store = OpenKeyStore(
      "pkcs11:token=faults?module-path=" + Module() + "&pin-source=env:TESSERA_TEST_PIN", {});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_TRUE((*store)->CreateKey(false).ok());
}

TEST_F(Pkcs11FaultTest, MissingToken) {
  auto store = OpenKeyStore("pkcs11:token=no-such-token?module-path=" + Module() +
                                "&pin-source=file:" + token_.pin_file(),
                            {});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(HsmErrorOf(store.status()), HsmError::kTokenNotFound) << store.status().ToString();
}

TEST_F(Pkcs11FaultTest, MissingKey) {
  auto store = OpenKeyStore(token_.uri("never-created"), {});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto pub = (*store)->PublicKeyDer();
  EXPECT_EQ(HsmErrorOf(pub.status()), HsmError::kKeyNotFound) << pub.status().ToString();
  auto sig = (*store)->Sign(AsBytes("x"));
  EXPECT_EQ(HsmErrorOf(sig.status()), HsmError::kKeyNotFound) << sig.status().ToString();
}

TEST_F(Pkcs11FaultTest, ModulePathWrong) {
  auto store = OpenKeyStore(
      "pkcs11:token=faults?module-path=/nonexistent/libpkcs11.so"
      "&pin-source=file:" +
          token_.pin_file(),
      {});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(HsmErrorOf(store.status()), HsmError::kModuleLoad) << store.status().ToString();
}

TEST_F(Pkcs11FaultTest, LibraryThatIsNotAModule) {
  auto store = OpenKeyStore(
      "pkcs11:token=faults?module-path=libz.so.1&pin-source=file:" + token_.pin_file(), {});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(HsmErrorOf(store.status()), HsmError::kModuleLoad) << store.status().ToString();
}

TEST_F(Pkcs11FaultTest, PinInsideUriIsRefused) {
  auto store = OpenKeyStore("pkcs11:token=faults?module-path=" + Module() + "&pin-value=4321", {});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(HsmErrorOf(store.status()), HsmError::kBadUri) << store.status().ToString();
}

TEST_F(Pkcs11FaultTest, SessionClosedBehindTheStoreIsReopened) {
  auto store = OpenKeyStore(token_.uri(), {});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE((*store)->CreateKey(false).ok());
  Bytes spki = (*store)->PublicKeyDer().value();

  // Close every session on the token through the same (shared) module instance.
  auto module = Pkcs11Module::Load(Module());
  ASSERT_TRUE(module.ok()) << module.status().ToString();
  CK_ULONG count = 0;
  ASSERT_EQ((*module)->fn()->C_GetSlotList(CK_TRUE, nullptr, &count), CKR_OK);
  std::vector<CK_SLOT_ID> slots(count);
  ASSERT_EQ((*module)->fn()->C_GetSlotList(CK_TRUE, slots.data(), &count), CKR_OK);
  for (CK_SLOT_ID slot : slots) (*module)->fn()->C_CloseAllSessions(slot);

  auto sig = (*store)->Sign(AsBytes("after the session vanished"));
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  EXPECT_TRUE(VerifySignature(spki, AsBytes("after the session vanished"), *sig).ok());
}

}  // namespace
}  // namespace tessera::hsm::testing
