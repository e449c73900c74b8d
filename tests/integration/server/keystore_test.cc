// tesserad and its identity key store: a soft: (file) store is refused without
// --insecure-dev-keys and announced when allowed; a missing key stops the start; the
// appliance id of a real swtpm key reaches HelloReply and StatusReply.
#include <gtest/gtest.h>

#include "hsm/crypto.h"
#include "hsm/key_store.h"
#include "hsm/provision.h"
#include "server/daemon.h"
#include "tests/integration/hsm/hsm_test_env.h"
#include "tests/integration/server/server_test_util.h"

namespace tessera::testing {
namespace {

namespace v1 = tessera::v1;

// Provisions a key in `uri` and returns its appliance id.
std::string ProvisionKey(const std::string& uri) {
  hsm::OpenOptions options;
  options.allow_insecure = true;
  auto store = hsm::OpenKeyStore(uri, options);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  if (!store.ok()) return "";
  auto provisioned = hsm::Provision(**store, {});
  EXPECT_TRUE(provisioned.ok()) << provisioned.status().ToString();
  return provisioned.ok() ? provisioned->appliance_id : "";
}

// Starts tesserad with `args`; expects it to stop by itself with `code`.
void ExpectStartFails(const std::filesystem::path& dir, std::vector<std::string> args, int code,
                      const std::string& log_needle) {
  std::filesystem::create_directories(dir);
  TesseradOptions options;
  options.extra_args = std::move(args);
  TesseradProcess server(dir, options);
  // Start() reports a child that exited before listening, with its exit code.
  const Status started = server.Start();
  EXPECT_FALSE(started.ok());
  EXPECT_NE(started.message().find("tesserad exited with " + std::to_string(code)),
            std::string::npos)
      << started.ToString();
  EXPECT_NE(server.Log().find(log_needle), std::string::npos) << server.Log();
}

struct Served {
  std::string hello_appliance_id;
  std::string status_appliance_id;
  bool insecure = false;
};

Served AskServer(TesseradProcess& server) {
  Served out;
  RawClient c;
  EXPECT_TRUE(c.Connect(server.port()).ok());
  auto hello = c.Hello("probe");
  EXPECT_TRUE(hello.ok() && hello->has_hello_reply());
  if (hello.ok()) out.hello_appliance_id = hello->hello_reply().appliance_id();
  v1::Frame status;
  status.mutable_status();
  auto reply = c.Call(status);
  EXPECT_TRUE(reply.ok() && reply->has_status_reply());
  if (reply.ok()) {
    out.status_appliance_id = reply->status_reply().appliance_id();
    out.insecure = reply->status_reply().insecure_keys();
  }
  return out;
}

TEST(KeyStoreServerTest, SoftKeyStoreIsRefusedWithoutTheDevFlag) {
  TempDir dir("keystore-soft-refused");
  const std::string uri = "soft:" + (dir.path() / "identity.pem").string();
  ASSERT_FALSE(ProvisionKey(uri).empty());
  ExpectStartFails(dir.path() / "d", {"--key-uri", uri}, server::kExitKeyStoreFailure,
                   "event=key_store_failed");
}

TEST(KeyStoreServerTest, SoftKeyStoreWithTheDevFlagIsAnnouncedInLogAndStatus) {
  TempDir dir("keystore-soft-allowed");
  const std::string uri = "soft:" + (dir.path() / "identity.pem").string();
  const std::string id = ProvisionKey(uri);
  ASSERT_FALSE(id.empty());
  TesseradOptions options;
  options.extra_args = {"--key-uri", uri, "--insecure-dev-keys"};
  std::filesystem::create_directories(dir.path() / "d");
  TesseradProcess server(dir.path() / "d", options);
  ASSERT_TRUE(server.Start().ok()) << server.Log();
  EXPECT_NE(server.Log().find("event=insecure_key_store"), std::string::npos) << server.Log();
  Served s = AskServer(server);
  EXPECT_EQ(s.hello_appliance_id, id);
  EXPECT_EQ(s.status_appliance_id, id);
  EXPECT_TRUE(s.insecure);
}

TEST(KeyStoreServerTest, KeyStoreWithoutAKeyStopsTheStart) {
  TempDir dir("keystore-empty");
  const std::string uri = "soft:" + (dir.path() / "never-provisioned.pem").string();
  ExpectStartFails(dir.path() / "d", {"--key-uri", uri, "--insecure-dev-keys"},
                   server::kExitKeyStoreFailure, "tessera provision");
}

TEST(KeyStoreServerTest, TpmIdentityKeyGivesTheApplianceId) {
  TempDir dir("keystore-tpm");
  hsm::testing::Swtpm tpm((dir.path() / "tpm").string());
  tpm.Start();
  const std::string uri = "tpm:tcti=" + tpm.tcti();
  const std::string id = ProvisionKey(uri);
  ASSERT_FALSE(id.empty());
  TesseradOptions options;
  options.extra_args = {"--key-uri", uri};
  std::filesystem::create_directories(dir.path() / "d");
  TesseradProcess server(dir.path() / "d", options);
  ASSERT_TRUE(server.Start().ok()) << server.Log();
  EXPECT_EQ(server.Log().find("insecure_key_store"), std::string::npos);
  Served s = AskServer(server);
  EXPECT_EQ(s.hello_appliance_id, id);
  EXPECT_EQ(s.status_appliance_id, id);
  EXPECT_FALSE(s.insecure);
  auto stopped = server.Stop();
  ASSERT_TRUE(stopped.ok());
  EXPECT_EQ(*stopped, 0);
}

}  // namespace
}  // namespace tessera::testing
