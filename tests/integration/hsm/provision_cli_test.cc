// `tessera provision` and `tessera key info`, run as a user would: a child process per
// command against a real key store.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "tests/integration/hsm/hsm_test_env.h"

namespace tessera::hsm::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

CommandResult Cli(std::vector<std::string> args) {
  args.insert(args.begin(), TESSERA_CLI_PATH);
  return RunCommand(args);
}

std::string IdFrom(const std::string& out) {
  std::smatch m;
  if (!std::regex_search(out, m, std::regex("appliance id: ([a-z2-7]{52})"))) return "";
  return m[1];
}

void ExpectProvisionIsIdempotent(const std::string& uri, const std::vector<std::string>& flags) {
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.end(), flags.begin(), flags.end());
    return Cli(args);
  };
  CommandResult first = with({"provision", "--key-uri", uri});
  ASSERT_EQ(first.exit_code, 0) << first.out;
  EXPECT_THAT(first.out, HasSubstr("identity key created"));
  std::string id = IdFrom(first.out);
  ASSERT_FALSE(id.empty()) << first.out;

  CommandResult second = with({"provision", "--key-uri", uri});
  ASSERT_EQ(second.exit_code, 0) << second.out;
  EXPECT_THAT(second.out, HasSubstr("identity key exists; kept it"));
  EXPECT_EQ(IdFrom(second.out), id);

  CommandResult info = with({"key", "info", "--key-uri", uri});
  ASSERT_EQ(info.exit_code, 0) << info.out;
  EXPECT_EQ(IdFrom(info.out), id);
  EXPECT_THAT(info.out, HasSubstr("-----BEGIN PUBLIC KEY-----"));
  EXPECT_THAT(info.out, HasSubstr("capabilities: counter"));

  CommandResult forced = with({"provision", "--key-uri", uri, "--force"});
  ASSERT_EQ(forced.exit_code, 0) << forced.out;
  std::string new_id = IdFrom(forced.out);
  ASSERT_FALSE(new_id.empty()) << forced.out;
  EXPECT_NE(new_id, id);

  CommandResult after = with({"key", "info", "--key-uri", uri});
  EXPECT_EQ(IdFrom(after.out), new_id);
}

TEST(ProvisionCliTest, SoftStoreTwiceKeepsTheKeyAndSaysItIsInsecure) {
  TempDir dir;
  std::string uri = "soft:" + dir.path() + "/identity.pem";
  ExpectProvisionIsIdempotent(uri, {"--insecure-dev-keys"});
  CommandResult info = Cli({"key", "info", "--key-uri", uri, "--insecure-dev-keys"});
  EXPECT_THAT(info.out, HasSubstr("insecure: yes"));
  EXPECT_THAT(info.out, HasSubstr("WARNING: INSECURE"));
}

TEST(ProvisionCliTest, SoftStoreRefusedWithoutInsecureFlag) {
  TempDir dir;
  CommandResult r = Cli({"provision", "--key-uri", "soft:" + dir.path() + "/identity.pem"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("hsm.insecure_refused"));
  EXPECT_THAT(r.out, Not(HasSubstr("appliance id")));
}

TEST(ProvisionCliTest, KeyInfoBeforeProvisioningIsAnError) {
  TempDir dir;
  CommandResult r = Cli(
      {"key", "info", "--key-uri", "soft:" + dir.path() + "/identity.pem", "--insecure-dev-keys"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("hsm.key_not_found"));
}

TEST(ProvisionCliTest, BadUriIsAnError) {
  CommandResult r = Cli({"provision", "--key-uri", "vault:whatever"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("hsm.bad_uri"));
}

TEST(ProvisionCliTest, UsageErrorWithoutKeyUri) {
  CommandResult r = Cli({"provision"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("--key-uri"));
}

#if TESSERA_CLI_TEST_WITH_PKCS11
TEST(ProvisionCliTest, Pkcs11TokenTwiceKeepsTheKey) {
  TempDir dir;
  SoftHsmToken token(dir.path() + "/softhsm", "cli", "2468");  // sets SOFTHSM2_CONF for children
  ExpectProvisionIsIdempotent(token.uri(), {});
}
#endif

}  // namespace
}  // namespace tessera::hsm::testing
