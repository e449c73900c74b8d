#include "hsm/key_uri.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "hsm/hsm_error.h"

namespace tessera::hsm {
namespace {

TEST(KeyUriTest, TpmDefaults) {
  auto uri = ParseKeyUri("tpm:");
  ASSERT_TRUE(uri.ok()) << uri.status().ToString();
  const auto& tpm = std::get<TpmUri>(*uri);
  EXPECT_EQ(tpm.tcti, "device:/dev/tpmrm0");
  EXPECT_EQ(tpm.key_handle, 0x81000100u);
  EXPECT_EQ(tpm.counter_index, 0x01800100u);
}

TEST(KeyUriTest, TpmWithTctiContainingEqualsSigns) {
  auto uri = ParseKeyUri("tpm:tcti=swtpm:path=/run/t%3Bpm.sock;handle=0x81000200;counter=25165825");
  ASSERT_TRUE(uri.ok()) << uri.status().ToString();
  const auto& tpm = std::get<TpmUri>(*uri);
  EXPECT_EQ(tpm.tcti, "swtpm:path=/run/t;pm.sock");
  EXPECT_EQ(tpm.key_handle, 0x81000200u);
  EXPECT_EQ(tpm.counter_index, 25165825u);  // 0x01800001
}

TEST(KeyUriTest, TpmPcrPolicy) {
  auto uri = ParseKeyUri("tpm:pcrs=0,7,16");
  ASSERT_TRUE(uri.ok()) << uri.status().ToString();
  EXPECT_EQ(std::get<TpmUri>(*uri).pcrs, (std::vector<uint32_t>{0, 7, 16}));
  EXPECT_TRUE(std::get<TpmUri>(ParseKeyUri("tpm:").value()).pcrs.empty());
  EXPECT_EQ(HsmErrorOf(ParseKeyUri("tpm:pcrs=24").status()), HsmError::kBadUri);
  EXPECT_EQ(HsmErrorOf(ParseKeyUri("tpm:pcrs=,").status()), HsmError::kBadUri);
  EXPECT_EQ(HsmErrorOf(ParseKeyUri("tpm:pcrs=a").status()), HsmError::kBadUri);
}

TEST(KeyUriTest, TpmRejectsBadHandles) {
  EXPECT_EQ(HsmErrorOf(ParseKeyUri("tpm:handle=0x80000001").status()), HsmError::kBadUri);
  EXPECT_EQ(HsmErrorOf(ParseKeyUri("tpm:handle=nope").status()), HsmError::kBadUri);
  EXPECT_EQ(HsmErrorOf(ParseKeyUri("tpm:counter=0x81000001").status()), HsmError::kBadUri);
  EXPECT_EQ(HsmErrorOf(ParseKeyUri("tpm:colour=blue").status()), HsmError::kBadUri);
  EXPECT_EQ(HsmErrorOf(ParseKeyUri("tpm:tcti").status()), HsmError::kBadUri);
}

TEST(KeyUriTest, Pkcs11Full) {
  auto uri = ParseKeyUri(
      "pkcs11:token=My%20Token;object=ident;id=%01%02?module-path=/usr/lib/x.so"
      "&pin-source=file:/etc/tessera/pin");
  ASSERT_TRUE(uri.ok()) << uri.status().ToString();
  const auto& p = std::get<Pkcs11Uri>(*uri);
  EXPECT_EQ(p.token, "My Token");
  EXPECT_EQ(p.object, "ident");
  EXPECT_EQ(p.id, (Bytes{1, 2}));
  EXPECT_EQ(p.module_path, "/usr/lib/x.so");
  EXPECT_EQ(p.pin.kind, PinSource::Kind::kFile);
  EXPECT_EQ(p.pin.where, "/etc/tessera/pin");
}

TEST(KeyUriTest, Pkcs11Defaults) {
  auto uri = ParseKeyUri("pkcs11:token=t?module-path=/m.so");
  ASSERT_TRUE(uri.ok()) << uri.status().ToString();
  const auto& p = std::get<Pkcs11Uri>(*uri);
  EXPECT_EQ(p.object, "tessera-identity");
  EXPECT_EQ(p.pin.kind, PinSource::Kind::kEnv);
  EXPECT_EQ(p.pin.where, "TESSERA_PKCS11_PIN");
}

TEST(KeyUriTest, Pkcs11PinSources) {
  auto file_uri = ParseKeyUri("pkcs11:token=t?module-path=/m.so&pin-source=file:///run/pin");
  ASSERT_TRUE(file_uri.ok());
  EXPECT_EQ(std::get<Pkcs11Uri>(*file_uri).pin.where, "/run/pin");
  auto env_uri = ParseKeyUri("pkcs11:token=t?module-path=/m.so&pin-source=env:HSM_PIN");
  ASSERT_TRUE(env_uri.ok());
  EXPECT_EQ(std::get<Pkcs11Uri>(*env_uri).pin.kind, PinSource::Kind::kEnv);
  EXPECT_EQ(std::get<Pkcs11Uri>(*env_uri).pin.where, "HSM_PIN");
}

TEST(KeyUriTest, Pkcs11RefusesPinValueAndMissingParts) {
  EXPECT_EQ(HsmErrorOf(ParseKeyUri("pkcs11:token=t?module-path=/m.so&pin-value=1234").status()),
            HsmError::kBadUri);
  EXPECT_EQ(HsmErrorOf(ParseKeyUri("pkcs11:token=t;pin-value=1234?module-path=/m.so").status()),
            HsmError::kBadUri);
  EXPECT_EQ(HsmErrorOf(ParseKeyUri("pkcs11:token=t").status()), HsmError::kBadUri);
  EXPECT_EQ(HsmErrorOf(ParseKeyUri("pkcs11:object=o?module-path=/m.so").status()),
            HsmError::kBadUri);
  EXPECT_EQ(HsmErrorOf(ParseKeyUri("pkcs11:token=t;module-path=/m.so").status()),
            HsmError::kBadUri);
}

TEST(KeyUriTest, SoftBothForms) {
  auto a = ParseKeyUri("soft:/var/lib/k.pem");
  auto b = ParseKeyUri("soft:path=/var/lib/k.pem");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(std::get<SoftUri>(*a).path, "/var/lib/k.pem");
  EXPECT_EQ(std::get<SoftUri>(*b).path, "/var/lib/k.pem");
  EXPECT_EQ(HsmErrorOf(ParseKeyUri("soft:").status()), HsmError::kBadUri);
}

TEST(KeyUriTest, UnknownSchemeAndBadEscapes) {
  EXPECT_EQ(HsmErrorOf(ParseKeyUri("file:/k.pem").status()), HsmError::kBadUri);
  EXPECT_EQ(HsmErrorOf(PercentDecode("%4").status()), HsmError::kBadUri);
  EXPECT_EQ(HsmErrorOf(PercentDecode("%zz").status()), HsmError::kBadUri);
  EXPECT_EQ(PercentDecode("a%2Fb").value(), "a/b");
}

TEST(KeyUriTest, ReadPinFromFileAndEnvironment) {
  std::string path = ::testing::TempDir() + "/key_uri_test_pin";
  {
    std::ofstream out(path);
    out << "s3cret\n";
  }
  EXPECT_EQ(ReadPin({PinSource::Kind::kFile, path}).value(), "s3cret");
  ::setenv("KEY_URI_TEST_PIN", "from-env", 1);
  EXPECT_EQ(ReadPin({PinSource::Kind::kEnv, "KEY_URI_TEST_PIN"}).value(), "from-env");
  EXPECT_EQ(HsmErrorOf(ReadPin({PinSource::Kind::kEnv, "KEY_URI_TEST_UNSET"}).status()),
            HsmError::kWrongPin);
  EXPECT_EQ(HsmErrorOf(ReadPin({PinSource::Kind::kFile, path + ".missing"}).status()),
            HsmError::kWrongPin);
}

}  // namespace
}  // namespace tessera::hsm
