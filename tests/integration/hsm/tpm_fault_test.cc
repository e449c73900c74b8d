// TPM faults against a real swtpm: the simulator killed mid-signing, dictionary-attack
// lockout, an unclean restart, a missing key, no TPM at all. Each must give a typed error
// (or, for lockout, keep working), never a hang.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <string_view>
#include <thread>

#include "hsm/crypto.h"
#include "hsm/hsm_error.h"
#include "hsm/key_store.h"
#include "hsm/provision.h"
#include "tests/integration/hsm/hsm_test_env.h"

namespace tessera::hsm::testing {
namespace {

std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

class TpmFaultTest : public ::testing::Test {
 protected:
  TpmFaultTest() : swtpm_(dir_.path() + "/tpm") { swtpm_.Start(); }

  std::string Uri(std::string_view extra = "") const {
    return "tpm:tcti=" + swtpm_.tcti() + std::string(extra);
  }

  std::unique_ptr<KeyStore> Open(std::string_view extra = "") {
    auto store = OpenKeyStore(Uri(extra), {});
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  // tpm2-tools against the same simulator. swtpm serves one connection at a time, so no
  // KeyStore may be open meanwhile.
  CommandResult Tools(std::vector<std::string> argv) {
    return RunCommand(argv, {{"TPM2TOOLS_TCTI", swtpm_.tcti()}});
  }

  TempDir dir_;
  Swtpm swtpm_;
};

TEST_F(TpmFaultTest, SimulatorKilledDuringSigningFailsThenRecovers) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  auto provisioned = Provision(*store, {});
  ASSERT_TRUE(provisioned.ok()) << provisioned.status().ToString();

  std::atomic<int> signed_ok{0};
  Status failure;
  std::thread signer([&] {
    for (int i = 0; i < 1'000'000; ++i) {
      auto sig = store->Sign(AsBytes("lease"));
      if (!sig.ok()) {
        failure = sig.status();
        return;
      }
      ++signed_ok;
    }
  });
  while (signed_ok.load() < 5) std::this_thread::yield();
  swtpm_.KillHard();
  signer.join();

  EXPECT_EQ(HsmErrorOf(failure), HsmError::kDeviceGone) << failure.ToString();
  auto again = store->Sign(AsBytes("while down"));
  EXPECT_EQ(HsmErrorOf(again.status()), HsmError::kDeviceGone) << again.status().ToString();

  // The same store reconnects once the TPM is back; the persistent key survived.
  swtpm_.Start();
  auto sig = store->Sign(AsBytes("after restart"));
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  EXPECT_TRUE(VerifySignature(provisioned->public_key_der, AsBytes("after restart"), *sig).ok());
}

TEST_F(TpmFaultTest, NoDaKeyAndCounterKeepWorkingInLockout) {
  Bytes spki;
  uint64_t counter = 0;
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    auto provisioned = Provision(*store, {});
    ASSERT_TRUE(provisioned.ok()) << provisioned.status().ToString();
    spki = provisioned->public_key_der;
    counter = provisioned->counter.value();
  }
  // One failure allowed, then lockout; burn it on a DA-protected NV index.
  ASSERT_EQ(
      Tools({"tpm2_dictionarylockout", "-s", "-n", "1", "-t", "3600", "-l", "3600"}).exit_code, 0);
  ASSERT_EQ(Tools({"tpm2_nvdefine", "0x1500010", "-C", "o", "-s", "8", "-a", "authread|authwrite",
                   "-p", "secret"})
                .exit_code,
            0);
  for (int i = 0; i < 3; ++i) {
    EXPECT_NE(
        Tools({"tpm2_nvread", "0x1500010", "-C", "0x1500010", "-P", "wrong", "-s", "8"}).exit_code,
        0);
  }
  CommandResult props = Tools({"tpm2_getcap", "properties-variable"});
  ASSERT_EQ(props.exit_code, 0) << props.out;
  ASSERT_THAT(props.out, ::testing::ContainsRegex("inLockout: +1"));

  auto store = Open();
  ASSERT_NE(store, nullptr);
  auto sig = store->Sign(AsBytes("signed in lockout"));
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  EXPECT_TRUE(VerifySignature(spki, AsBytes("signed in lockout"), *sig).ok());
  auto next = store->IncrementCounter();
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(*next, counter + 1);
}

TEST_F(TpmFaultTest, UncleanRestartShowsInClockTuple) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  auto before = store->ReadClock();
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  EXPECT_TRUE(before->safe);

  swtpm_.KillHard();  // power lost: no TPM2_Shutdown
  store.reset();
  swtpm_.Start();

  store = Open();
  ASSERT_NE(store, nullptr);
  auto after = store->ReadClock();
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_GT(after->reset_count, before->reset_count);
  EXPECT_FALSE(after->safe) << "the clock may have gone back to its last saved value";
}

TEST_F(TpmFaultTest, PcrPolicyBindsSigningToBootState) {
  Bytes spki;
  {
    auto store = Open(";pcrs=16");
    ASSERT_NE(store, nullptr);
    EXPECT_TRUE(store->capabilities().pcr_policy);
    auto provisioned = Provision(*store, {});
    ASSERT_TRUE(provisioned.ok()) << provisioned.status().ToString();
    spki = provisioned->public_key_der;
  }
  {
    // The same key without its policy in the URI is refused with a clear error.
    auto store = Open();
    ASSERT_NE(store, nullptr);
    auto sig = store->Sign(AsBytes("no policy"));
    EXPECT_EQ(HsmErrorOf(sig.status()), HsmError::kPolicyMismatch) << sig.status().ToString();
  }
  // The "boot state" changes: PCR 16 (debug, resettable) is extended.
  ASSERT_EQ(Tools({"tpm2_pcrextend",
                   "16:sha256=0101010101010101010101010101010101010101010101010101010101010101"})
                .exit_code,
            0);
  {
    auto store = Open(";pcrs=16");
    ASSERT_NE(store, nullptr);
    auto sig = store->Sign(AsBytes("after extend"));
    ASSERT_FALSE(sig.ok());
    EXPECT_EQ(HsmErrorOf(sig.status()), HsmError::kPolicyMismatch) << sig.status().ToString();
  }
  // Back to the measured state: signing works again.
  ASSERT_EQ(Tools({"tpm2_pcrreset", "16"}).exit_code, 0);
  auto store = Open(";pcrs=16");
  ASSERT_NE(store, nullptr);
  auto sig = store->Sign(AsBytes("state restored"));
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  EXPECT_TRUE(VerifySignature(spki, AsBytes("state restored"), *sig).ok());
}

TEST_F(TpmFaultTest, OrdinaryNvIndexIsNeverTakenForTheCounter) {
  // An ordinary index can be rewritten at will: it must not pass for the monotonic counter.
  ASSERT_EQ(Tools({"tpm2_nvdefine", "0x01800100", "-C", "o", "-s", "8", "-a",
                   "ownerread|ownerwrite|authread|authwrite"})
                .exit_code,
            0);
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Status init = store->InitCounter();
  EXPECT_EQ(HsmErrorOf(init), HsmError::kDevice) << init.ToString();
  EXPECT_NE(init.message().find("not a 64-bit counter"), std::string::npos) << init.ToString();
  auto read = store->ReadCounter();
  EXPECT_FALSE(read.ok());
}

TEST_F(TpmFaultTest, MissingKeyIsTyped) {
  auto store = Open(";handle=0x81000177");
  ASSERT_NE(store, nullptr);
  auto pub = store->PublicKeyDer();
  EXPECT_EQ(HsmErrorOf(pub.status()), HsmError::kKeyNotFound) << pub.status().ToString();
  auto sig = store->Sign(AsBytes("x"));
  EXPECT_EQ(HsmErrorOf(sig.status()), HsmError::kKeyNotFound) << sig.status().ToString();
}

TEST_F(TpmFaultTest, NoTpmAtTheTctiIsDeviceGone) {
  auto store = OpenKeyStore("tpm:tcti=swtpm:path=" + dir_.path() + "/absent.sock", {});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(HsmErrorOf(store.status()), HsmError::kDeviceGone) << store.status().ToString();
}

}  // namespace
}  // namespace tessera::hsm::testing
