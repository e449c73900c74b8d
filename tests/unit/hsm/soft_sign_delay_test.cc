// The soft: key store's sign-delay-ms option: parsing, typed refusal of bad values, and a
// delayed store that still signs verifiable signatures. No timing is asserted (that is
// bench/audit's job).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "hsm/crypto.h"
#include "hsm/hsm_error.h"
#include "hsm/key_store.h"
#include "hsm/soft/soft_key_store.h"

namespace tessera::hsm {
namespace {

// A fresh directory for one test, removed afterwards (tests may run in parallel).
class SoftSignDelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "/soft-delay-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string Pem() const { return (dir_ / "identity.pem").string(); }

  std::filesystem::path dir_;
};

std::optional<HsmError> ParseError(std::string_view location) {
  return HsmErrorOf(ParseSoftLocation(location).status());
}

TEST(SoftLocationTest, PathAloneHasNoDelay) {
  auto loc = ParseSoftLocation("/var/lib/tessera/dev.pem");
  ASSERT_TRUE(loc.ok()) << loc.status().ToString();
  EXPECT_EQ(loc->path, "/var/lib/tessera/dev.pem");
  EXPECT_EQ(loc->sign_delay_ms, 0u);
}

TEST(SoftLocationTest, DelayWithinRange) {
  auto loc = ParseSoftLocation("k.pem?sign-delay-ms=100");
  ASSERT_TRUE(loc.ok()) << loc.status().ToString();
  EXPECT_EQ(loc->path, "k.pem");
  EXPECT_EQ(loc->sign_delay_ms, 100u);
  EXPECT_EQ(ParseSoftLocation("k.pem?sign-delay-ms=0")->sign_delay_ms, 0u);
  EXPECT_EQ(ParseSoftLocation("k.pem?sign-delay-ms=10000")->sign_delay_ms, 10000u);
  EXPECT_EQ(ParseSoftLocation("k.pem?sign-delay-ms=00042")->sign_delay_ms, 42u);
}

TEST(SoftLocationTest, BadValuesAreTypedBadUri) {
  for (const char* bad :
       {"k.pem?sign-delay-ms=10001", "k.pem?sign-delay-ms=99999", "k.pem?sign-delay-ms=4294967396",
        "k.pem?sign-delay-ms=-1", "k.pem?sign-delay-ms=+5", "k.pem?sign-delay-ms= 5",
        "k.pem?sign-delay-ms=0x10", "k.pem?sign-delay-ms=1.5",
        "k.pem?sign-delay-ms=", "k.pem?sign-delay-ms", "k.pem?", "k.pem?sign-delay-ms=1&",
        "k.pem?sign-delay-ms=1&sign-delay-ms=2", "k.pem?sign-delay=5", "k.pem?SIGN-DELAY-MS=5",
        "?sign-delay-ms=5", ""}) {
    auto loc = ParseSoftLocation(bad);
    EXPECT_FALSE(loc.ok()) << bad;
    EXPECT_EQ(HsmErrorOf(loc.status()), HsmError::kBadUri) << bad;
    EXPECT_EQ(loc.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(ParseError("k.pem?sign-delay-ms=abc"), HsmError::kBadUri);
}

TEST_F(SoftSignDelayTest, BadDelayRefusesEveryOperationAndWritesNothing) {
  auto store = OpenKeyStore("soft:" + Pem() + "?sign-delay-ms=10001", {.allow_insecure = true});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  KeyStore& ks = **store;
  EXPECT_EQ(HsmErrorOf(ks.CreateKey(false)), HsmError::kBadUri);
  EXPECT_EQ(HsmErrorOf(ks.InitCounter()), HsmError::kBadUri);
  EXPECT_EQ(HsmErrorOf(ks.PublicKeyDer().status()), HsmError::kBadUri);
  EXPECT_EQ(HsmErrorOf(ks.SignDigest(Digest{}).status()), HsmError::kBadUri);
  EXPECT_EQ(HsmErrorOf(ks.ReadCounter().status()), HsmError::kBadUri);
  EXPECT_EQ(HsmErrorOf(ks.IncrementCounter().status()), HsmError::kBadUri);
  EXPECT_NE(ks.PublicKeyDer().status().message().find("sign-delay-ms"), std::string::npos)
      << ks.PublicKeyDer().status().ToString();
  EXPECT_TRUE(ks.insecure());
  EXPECT_FALSE(std::filesystem::exists(Pem()));
  EXPECT_FALSE(std::filesystem::exists(Pem() + "?sign-delay-ms=10001"));
}

TEST_F(SoftSignDelayTest, StillRefusedWithoutInsecureOption) {
  auto store = OpenKeyStore("soft:" + Pem() + "?sign-delay-ms=5", {});
  EXPECT_EQ(HsmErrorOf(store.status()), HsmError::kInsecureRefused);
}

TEST_F(SoftSignDelayTest, DelayedStoreUsesTheSameKeyFileAndSignsVerifiably) {
  // Created without the option, used with it: the option does not change which file holds
  // the key.
  auto plain = OpenKeyStore("soft:" + Pem(), {.allow_insecure = true});
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  ASSERT_TRUE((*plain)->CreateKey(false).ok());
  auto plain_spki = (*plain)->PublicKeyDer();
  ASSERT_TRUE(plain_spki.ok());

  auto delayed = OpenKeyStore("soft:" + Pem() + "?sign-delay-ms=2", {.allow_insecure = true});
  ASSERT_TRUE(delayed.ok()) << delayed.status().ToString();
  auto spki = (*delayed)->PublicKeyDer();
  ASSERT_TRUE(spki.ok()) << spki.status().ToString();
  EXPECT_EQ(*spki, *plain_spki);

  const std::string message = "audit block header";
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(message.data()),
                                       message.size());
  auto signature = (*delayed)->Sign(bytes);
  ASSERT_TRUE(signature.ok()) << signature.status().ToString();
  EXPECT_TRUE(VerifySignature(*spki, bytes, *signature).ok());
  const std::string other = "another header";
  EXPECT_FALSE(VerifySignature(*spki,
                               std::span<const uint8_t>(
                                   reinterpret_cast<const uint8_t*>(other.data()), other.size()),
                               *signature)
                   .ok());
}

}  // namespace
}  // namespace tessera::hsm
