// The soft: key store's sign-delay-ms option: parsing in the key URI, typed refusal of bad
// values, and a delayed store that still signs verifiable signatures. No timing is asserted
// (that is bench/audit's job).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "hsm/crypto.h"
#include "hsm/hsm_error.h"
#include "hsm/key_store.h"
#include "hsm/key_uri.h"

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

// The soft URI with its option, parsed.
Result<SoftUri> ParseSoft(const std::string& uri) {
  TESSERA_ASSIGN_OR_RETURN(KeyUri parsed, ParseKeyUri(uri));
  return std::get<SoftUri>(parsed);
}

TEST(SoftUriDelayTest, PathAloneHasNoDelay) {
  auto uri = ParseSoft("soft:/var/lib/tessera/dev.pem");
  ASSERT_TRUE(uri.ok()) << uri.status().ToString();
  EXPECT_EQ(uri->path, "/var/lib/tessera/dev.pem");
  EXPECT_EQ(uri->sign_delay_ms, 0u);
}

TEST(SoftUriDelayTest, DelayWithinRange) {
  auto uri = ParseSoft("soft:k.pem?sign-delay-ms=100");
  ASSERT_TRUE(uri.ok()) << uri.status().ToString();
  EXPECT_EQ(uri->path, "k.pem");
  EXPECT_EQ(uri->sign_delay_ms, 100u);
  EXPECT_EQ(ParseSoft("soft:k.pem?sign-delay-ms=0")->sign_delay_ms, 0u);
  EXPECT_EQ(ParseSoft("soft:k.pem?sign-delay-ms=10000")->sign_delay_ms, 10000u);
  EXPECT_EQ(ParseSoft("soft:k.pem?sign-delay-ms=00042")->sign_delay_ms, 42u);
  auto long_form = ParseSoft("soft:path=/k.pem?sign-delay-ms=7");
  ASSERT_TRUE(long_form.ok()) << long_form.status().ToString();
  EXPECT_EQ(long_form->path, "/k.pem");
  EXPECT_EQ(long_form->sign_delay_ms, 7u);
  // An encoded '?' is part of the file name, not the start of the options.
  auto encoded = ParseSoft("soft:/a%3Fb.pem");
  ASSERT_TRUE(encoded.ok()) << encoded.status().ToString();
  EXPECT_EQ(encoded->path, "/a?b.pem");
  EXPECT_EQ(encoded->sign_delay_ms, 0u);
}

TEST(SoftUriDelayTest, BadValuesAreTypedBadUri) {
  for (const char* bad : {"k.pem?sign-delay-ms=10001",
                          "k.pem?sign-delay-ms=99999",
                          "k.pem?sign-delay-ms=4294967396",
                          "k.pem?sign-delay-ms=-1",
                          "k.pem?sign-delay-ms=+5",
                          "k.pem?sign-delay-ms= 5",
                          "k.pem?sign-delay-ms=0x10",
                          "k.pem?sign-delay-ms=1.5",
                          "k.pem?sign-delay-ms=",
                          "k.pem?sign-delay-ms",
                          "k.pem?",
                          "k.pem?sign-delay-ms=1&",
                          "k.pem?&sign-delay-ms=1",
                          "k.pem?sign-delay-ms=1&&",
                          "k.pem?sign-delay-ms=1&sign-delay-ms=2",
                          "k.pem?sign-delay=5",
                          "k.pem?SIGN-DELAY-MS=5",
                          "?sign-delay-ms=5",
                          "",
                          "k.pem?sign-delay-ms=abc"}) {
    auto uri = ParseKeyUri(std::string("soft:") + bad);
    EXPECT_FALSE(uri.ok()) << bad;
    EXPECT_EQ(HsmErrorOf(uri.status()), HsmError::kBadUri) << bad;
    EXPECT_EQ(uri.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST_F(SoftSignDelayTest, BadDelayIsRefusedAtOpenAndWritesNothing) {
  auto store = OpenKeyStore("soft:" + Pem() + "?sign-delay-ms=10001", {.allow_insecure = true});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(HsmErrorOf(store.status()), HsmError::kBadUri);
  EXPECT_NE(store.status().message().find("sign-delay-ms"), std::string::npos)
      << store.status().ToString();
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
