#include "protocol/audit/block.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "hsm/crypto.h"
#include "tests/unit/audit/test_key.h"

namespace tessera::audit {
namespace {

using testing::TestKey;

SealParams Params(const TestKey& key, int64_t wall_ms, uint64_t counter = 1) {
  SealParams p;
  p.appliance_id = key.id();
  p.counter = counter;
  p.wall_time = FromUnixMillis(wall_ms);
  return p;
}

TEST(BlockTest, FirstBlockLinksToZerosAndSignsThePayload) {
  TestKey key;
  std::vector<std::string> events = {testing::DenialEvent(key.id(), 1)};
  auto block = SealBlock(ChainTip::Genesis(), events, Params(key, 1000), key.signer());
  ASSERT_TRUE(block.ok()) << block.status().ToString();
  EXPECT_EQ(block->header.sequence(), 0u);
  EXPECT_EQ(block->header.previous_hash(), std::string(32, '\0'));
  EXPECT_EQ(block->header.event_count(), 1u);
  EXPECT_EQ(block->header_envelope.key_id(), key.id());
  hsm::Signature sig;
  std::copy(block->header_envelope.signature().begin(), block->header_envelope.signature().end(),
            sig.begin());
  EXPECT_TRUE(
      hsm::VerifySignature(key.spki(), AsBytes(block->header_envelope.payload()), sig).ok());
  EXPECT_EQ(block->next.next_sequence, 1u);
  EXPECT_EQ(block->next.previous_hash, BlockHash(block->header_envelope));
}

TEST(BlockTest, SecondBlockLinksToTheFirstAndTipAfterAgrees) {
  TestKey key;
  std::vector<std::string> events = {testing::DenialEvent(key.id(), 1)};
  auto first = SealBlock(ChainTip::Genesis(), events, Params(key, 1000), key.signer());
  ASSERT_TRUE(first.ok());
  auto tip = TipAfter(first->header_envelope);
  ASSERT_TRUE(tip.ok());
  EXPECT_EQ(tip->next_sequence, first->next.next_sequence);
  EXPECT_EQ(tip->previous_hash, first->next.previous_hash);
  auto second = SealBlock(*tip, events, Params(key, 2000), key.signer());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->header.sequence(), 1u);
  Digest h = BlockHash(first->header_envelope);
  EXPECT_EQ(second->header.previous_hash(), std::string(h.begin(), h.end()));
}

TEST(BlockTest, TrustedTimeNeverGoesBackWithoutTpmClock) {
  TestKey key;
  std::vector<std::string> events = {testing::DenialEvent(key.id(), 1)};
  auto first = SealBlock(ChainTip::Genesis(), events, Params(key, 5000), key.signer());
  ASSERT_TRUE(first.ok());
  auto second = SealBlock(first->next, events, Params(key, 3000), key.signer());  // set back
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->header.time_high_water_ms(), 5000);
  EXPECT_EQ(second->header.wall_time_ms(), 3000);
}

TEST(BlockTest, CarriesTheTpmClockTuple) {
  TestKey key;
  std::vector<std::string> events = {testing::DenialEvent(key.id(), 1)};
  SealParams p = Params(key, 1000, 9);
  p.tpm_clock =
      hsm::ClockTuple{.clock_ms = 123456, .reset_count = 2, .restart_count = 3, .safe = true};
  auto block = SealBlock(ChainTip::Genesis(), events, p, key.signer());
  ASSERT_TRUE(block.ok());
  ASSERT_TRUE(block->header.has_tpm_clock());
  EXPECT_EQ(block->header.tpm_clock().clock_ms(), 123456u);
  EXPECT_EQ(block->header.tpm_clock().reset_count(), 2u);
  EXPECT_EQ(block->header.tpm_clock().restart_count(), 3u);
  EXPECT_TRUE(block->header.tpm_clock().safe());
  EXPECT_EQ(block->header.counter(), 9u);
}

TEST(BlockTest, RefusesEmptyBlocksACounterGoingBackAndSignerFailure) {
  TestKey key;
  std::vector<std::string> none;
  EXPECT_EQ(SealBlock(ChainTip::Genesis(), none, Params(key, 1), key.signer()).status().code(),
            StatusCode::kInvalidArgument);
  std::vector<std::string> events = {testing::DenialEvent(key.id(), 1)};
  ChainTip tip;
  tip.counter = 5;
  auto back = SealBlock(tip, events, Params(key, 1, 4), key.signer());
  EXPECT_EQ(AuditErrorOf(back.status()), AuditError::kClockWentBackwards);
  SignFn broken = [](const hsm::Digest&) -> Result<hsm::Signature> {
    return Unavailable("hsm.device_gone: unplugged");
  };
  auto failed = SealBlock(ChainTip::Genesis(), events, Params(key, 1), broken);
  EXPECT_EQ(AuditErrorOf(failed.status()), AuditError::kSignFailed);
  EXPECT_NE(failed.status().message().find("unplugged"), std::string::npos);
}

// A slow signer (100 ms per signature, like a real TPM) signs a batch of 1,000 events
// once; every event gets a proof that verifies against the signed root.
TEST(BlockTest, ThousandEventsWithASlowSignerTakeOneSignature) {
  TestKey key;
  SignFn inner = key.signer();
  int calls = 0;
  SignFn slow = [&](const hsm::Digest& d) {
    ++calls;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return inner(d);
  };
  std::vector<std::string> events;
  for (int i = 0; i < 1000; ++i) events.push_back(testing::DenialEvent(key.id(), i));
  auto block = SealBlock(ChainTip::Genesis(), events, Params(key, 1), slow);
  ASSERT_TRUE(block.ok());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(key.signatures(), 1);
  ASSERT_EQ(block->proofs.size(), 1000u);
  Digest root;
  std::copy(block->header.merkle_root().begin(), block->header.merkle_root().end(), root.begin());
  for (size_t i = 0; i < events.size(); ++i) {
    ASSERT_TRUE(VerifyInclusion(AsBytes(events[i]), block->proofs[i], root)) << i;
  }
}

}  // namespace
}  // namespace tessera::audit
