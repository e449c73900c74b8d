#include "tests/integration/hsm/key_store_contract.h"

#include <gmock/gmock.h>

#include <atomic>
#include <string_view>
#include <thread>
#include <vector>

#include "hsm/crypto.h"
#include "hsm/hsm_error.h"
#include "hsm/provision.h"
#include "tests/integration/hsm/hsm_test_env.h"

namespace tessera::hsm::testing {
namespace {

std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

class Fixture {
 public:
  explicit Fixture(const BackendParam& param) : harness(param.make(dir.path())) {}

  std::unique_ptr<KeyStore> Open() {
    auto store = OpenKeyStore(harness->uri(), harness->options());
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    if (!store.ok()) return nullptr;
    return std::move(store).value();
  }

  TempDir dir;
  std::unique_ptr<BackendHarness> harness;
};

TEST_P(KeyStoreContract, FreshStoreHasNoKey) {
  Fixture f(GetParam());
  auto store = f.Open();
  ASSERT_NE(store, nullptr);
  auto pub = store->PublicKeyDer();
  ASSERT_FALSE(pub.ok());
  EXPECT_EQ(HsmErrorOf(pub.status()), HsmError::kKeyNotFound) << pub.status().ToString();
  auto sig = store->Sign(AsBytes("x"));
  ASSERT_FALSE(sig.ok());
  EXPECT_EQ(HsmErrorOf(sig.status()), HsmError::kKeyNotFound) << sig.status().ToString();
}

TEST_P(KeyStoreContract, CreateSignAndVerifyInSoftware) {
  Fixture f(GetParam());
  auto store = f.Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->CreateKey(false).ok());
  auto spki = store->PublicKeyDer();
  ASSERT_TRUE(spki.ok()) << spki.status().ToString();
  EXPECT_EQ(spki->size(), 91u);  // P-256 SubjectPublicKeyInfo

  auto sig = store->Sign(AsBytes("audit block 1"));
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  EXPECT_TRUE(VerifySignature(*spki, AsBytes("audit block 1"), *sig).ok());
  EXPECT_FALSE(VerifySignature(*spki, AsBytes("audit block 2"), *sig).ok());

  Digest digest = Sha256(AsBytes("pre-hashed"));
  auto sig2 = store->SignDigest(digest);
  ASSERT_TRUE(sig2.ok());
  EXPECT_TRUE(VerifyDigestSignature(*spki, digest, *sig2).ok());
}

TEST_P(KeyStoreContract, CreateRefusesToReplaceWithoutFlag) {
  Fixture f(GetParam());
  auto store = f.Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->CreateKey(false).ok());
  auto first = store->PublicKeyDer();
  ASSERT_TRUE(first.ok());

  Status again = store->CreateKey(false);
  EXPECT_EQ(HsmErrorOf(again), HsmError::kKeyExists) << again.ToString();
  auto same = store->PublicKeyDer();
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, *first);

  ASSERT_TRUE(store->CreateKey(true).ok());
  auto replaced = store->PublicKeyDer();
  ASSERT_TRUE(replaced.ok());
  EXPECT_NE(*replaced, *first);
  auto sig = store->Sign(AsBytes("after replace"));
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  EXPECT_TRUE(VerifySignature(*replaced, AsBytes("after replace"), *sig).ok());
}

TEST_P(KeyStoreContract, ReopenAfterRestartSeesSameKey) {
  Fixture f(GetParam());
  Bytes spki;
  {
    auto store = f.Open();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->CreateKey(false).ok());
    spki = store->PublicKeyDer().value();
  }
  f.harness->RestartDevice();
  auto store = f.Open();
  ASSERT_NE(store, nullptr);
  auto again = store->PublicKeyDer();
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, spki);
  auto sig = store->Sign(AsBytes("after restart"));
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  EXPECT_TRUE(VerifySignature(spki, AsBytes("after restart"), *sig).ok());
}

TEST_P(KeyStoreContract, ChildProcessSeesSameKey) {
  Fixture f(GetParam());
  std::string id;
  {
    auto store = f.Open();
    ASSERT_NE(store, nullptr);
    auto provisioned = Provision(*store, {});
    ASSERT_TRUE(provisioned.ok()) << provisioned.status().ToString();
    id = provisioned->appliance_id;
  }
  std::vector<std::string> argv = {TESSERA_CLI_PATH, "key", "info", "--key-uri", f.harness->uri()};
  for (const auto& flag : f.harness->cli_flags()) argv.push_back(flag);
  CommandResult r = RunCommand(argv);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, ::testing::HasSubstr("appliance id: " + id));
  EXPECT_THAT(r.out, ::testing::HasSubstr("-----BEGIN PUBLIC KEY-----"));
}

TEST_P(KeyStoreContract, CounterIsMissingUntilInitialised) {
  Fixture f(GetParam());
  auto store = f.Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->capabilities().monotonic_counter);
  EXPECT_EQ(store->capabilities().hardware_counter, f.harness->has_hardware_counter());
  auto v = store->ReadCounter();
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(HsmErrorOf(v.status()), HsmError::kCounterMissing) << v.status().ToString();
  auto inc = store->IncrementCounter();
  EXPECT_EQ(HsmErrorOf(inc.status()), HsmError::kCounterMissing) << inc.status().ToString();
}

TEST_P(KeyStoreContract, CounterIsMonotonicAcrossRestarts) {
  Fixture f(GetParam());
  uint64_t start = 0;
  {
    auto store = f.Open();
    ASSERT_NE(store, nullptr);
    Status init = store->InitCounter();
    ASSERT_TRUE(init.ok()) << init.ToString();
    auto read = store->ReadCounter();
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    start = *read;
    auto inc = store->IncrementCounter();
    ASSERT_TRUE(inc.ok()) << inc.status().ToString();
    EXPECT_EQ(*inc, start + 1);
    EXPECT_EQ(store->IncrementCounter().value(), start + 2);
    // InitCounter on an existing counter keeps its value.
    ASSERT_TRUE(store->InitCounter().ok());
    EXPECT_EQ(store->ReadCounter().value(), start + 2);
  }
  f.harness->RestartDevice();
  auto store = f.Open();
  ASSERT_NE(store, nullptr);
  auto v = store->ReadCounter();
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(*v, start + 2);
  EXPECT_EQ(store->IncrementCounter().value(), start + 3);
}

TEST_P(KeyStoreContract, ClockTupleMatchesCapability) {
  Fixture f(GetParam());
  auto store = f.Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->capabilities().trusted_clock, f.harness->has_trusted_clock());
  auto first = store->ReadClock();
  if (!f.harness->has_trusted_clock()) {
    ASSERT_FALSE(first.ok());
    EXPECT_EQ(HsmErrorOf(first.status()), HsmError::kNotSupported);
    return;
  }
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = store->ReadClock();
  ASSERT_TRUE(second.ok());
  EXPECT_GE(second->clock_ms, first->clock_ms);
  EXPECT_EQ(second->reset_count, first->reset_count);
  EXPECT_EQ(second->restart_count, first->restart_count);
}

TEST_P(KeyStoreContract, ConcurrentSignersAllVerify) {
  Fixture f(GetParam());
  auto store = f.Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->CreateKey(false).ok());
  Bytes spki = store->PublicKeyDer().value();
  std::atomic<int> verified{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 8; ++i) {
        std::string msg = "thread " + std::to_string(t) + " message " + std::to_string(i);
        auto sig = store->Sign(AsBytes(msg));
        if (sig.ok() && VerifySignature(spki, AsBytes(msg), *sig).ok()) ++verified;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(verified.load(), 32);
}

TEST_P(KeyStoreContract, ProvisionTwiceKeepsTheKey) {
  Fixture f(GetParam());
  auto store = f.Open();
  ASSERT_NE(store, nullptr);
  auto first = Provision(*store, {});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(first->created);
  EXPECT_EQ(first->appliance_id.size(), 52u);
  EXPECT_EQ(first->appliance_id, ApplianceId(first->public_key_der));
  ASSERT_TRUE(first->counter.has_value());

  auto second = Provision(*store, {});
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_FALSE(second->created);
  EXPECT_EQ(second->appliance_id, first->appliance_id);
  EXPECT_EQ(second->counter, first->counter);

  auto forced = Provision(*store, {.force = true});
  ASSERT_TRUE(forced.ok()) << forced.status().ToString();
  EXPECT_TRUE(forced->created);
  EXPECT_NE(forced->appliance_id, first->appliance_id);
}

}  // namespace
}  // namespace tessera::hsm::testing
