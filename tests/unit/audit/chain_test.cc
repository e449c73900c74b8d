#include "protocol/audit/chain.h"

#include <gtest/gtest.h>

#include "tests/unit/audit/test_key.h"

namespace tessera::audit {
namespace {

using testing::TestKey;

class ChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cert_ =
        testing::Certify(vendor_, appliance_, FromUnixMillis(0), FromUnixMillis(4'000'000'000'000));
    export_ = testing::MakeExport(appliance_, cert_, 6, 5);
  }

  ChainVerdict Verify() { return VerifyAuditExport(export_, vendor_.spki()); }

  void ExpectFault(AuditError error, uint64_t sequence, size_t index) {
    ChainVerdict v = Verify();
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.fault->error, error) << v.fault->status.ToString();
    EXPECT_EQ(AuditErrorOf(v.fault->status), error);
    EXPECT_EQ(v.fault->sequence, sequence);
    EXPECT_EQ(v.fault->index, index);
    EXPECT_NE(v.fault->status.message().find("block " + std::to_string(sequence)),
              std::string::npos)
        << v.fault->status.ToString();
  }

  TestKey vendor_;
  TestKey appliance_;
  v1::SignedEnvelope cert_;
  v1::AuditExport export_;
};

TEST_F(ChainTest, UntouchedChainPasses) {
  ChainVerdict v = Verify();
  ASSERT_TRUE(v.ok()) << v.fault->status.ToString();
  EXPECT_EQ(v.blocks, 6u);
  EXPECT_EQ(v.events, 30u);
  EXPECT_EQ(v.tip.next_sequence, 6u);
  EXPECT_EQ(v.tip.previous_hash, BlockHash(export_.blocks(5).header()));
}

TEST_F(ChainTest, EveryByteOfAHeaderIsCovered) {
  const std::string original = export_.blocks(3).header().payload();
  for (size_t i = 0; i < original.size(); ++i) {
    export_.mutable_blocks(3)->mutable_header()->mutable_payload()->at(i) ^= 0x01;
    ChainVerdict v = Verify();
    ASSERT_FALSE(v.ok()) << "byte " << i;
    EXPECT_EQ(v.fault->error, AuditError::kHeaderSignature) << "byte " << i;
    EXPECT_EQ(v.fault->index, 3u);
    *export_.mutable_blocks(3)->mutable_header()->mutable_payload() = original;
  }
  export_.mutable_blocks(3)->mutable_header()->mutable_signature()->at(10) ^= 0x01;
  ExpectFault(AuditError::kHeaderSignature, 3, 3);
}

TEST_F(ChainTest, ChangedEventIsDetected) {
  export_.mutable_blocks(2)->mutable_events(4)->at(3) ^= 0x01;
  ExpectFault(AuditError::kMerkleRootMismatch, 2, 2);
}

TEST_F(ChainTest, DeletedOrAddedEventIsDetected) {
  export_.mutable_blocks(4)->mutable_events()->RemoveLast();
  ExpectFault(AuditError::kMerkleRootMismatch, 4, 4);
  SetUp();
  export_.mutable_blocks(1)->add_events(testing::DenialEvent(appliance_.id(), 99));
  ExpectFault(AuditError::kMerkleRootMismatch, 1, 1);
}

TEST_F(ChainTest, DeletedBlockIsAGap) {
  export_.mutable_blocks()->DeleteSubrange(2, 1);
  ExpectFault(AuditError::kSequenceGap, 3, 2);
}

TEST_F(ChainTest, DeletedLastBlocksLeaveAShorterValidChain) {
  // Truncation at the end is only visible against what the verifier saw last: the tip.
  export_.mutable_blocks()->DeleteSubrange(4, 2);
  ChainVerdict v = Verify();
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v.tip.next_sequence, 4u);
}

TEST_F(ChainTest, SwappedBlocksAreOutOfOrder) {
  export_.mutable_blocks()->SwapElements(1, 2);
  ExpectFault(AuditError::kOutOfOrder, 2, 1);
}

TEST_F(ChainTest, RepeatedBlockIsOutOfOrder) {
  *export_.mutable_blocks(3) = export_.blocks(2);
  ExpectFault(AuditError::kOutOfOrder, 2, 3);
}

TEST_F(ChainTest, BlockSignedByAnotherKeyIsDetected) {
  TestKey impostor;
  v1::AuditBlock* block = export_.mutable_blocks(4);
  auto forged = SignEnvelope(block->header().payload(), impostor.signer(), appliance_.id());
  ASSERT_TRUE(forged.ok());
  *block->mutable_header() = *forged;
  ExpectFault(AuditError::kHeaderSignature, 4, 4);
}

TEST_F(ChainTest, ResealedBlockBreaksTheLink) {
  // An insider with the key re-seals block 2 with other events: block 3 no longer links.
  std::vector<std::string> events = {testing::DenialEvent(appliance_.id(), 1000)};
  auto tip = TipAfter(export_.blocks(1).header());
  ASSERT_TRUE(tip.ok());
  SealParams p;
  p.appliance_id = appliance_.id();
  p.counter = 3;
  p.wall_time = FromUnixMillis(1'767'225'602'000);
  auto resealed = SealBlock(*tip, events, p, appliance_.signer());
  ASSERT_TRUE(resealed.ok());
  v1::AuditBlock* block = export_.mutable_blocks(2);
  *block->mutable_header() = resealed->header_envelope;
  block->clear_events();
  block->add_events(events[0]);
  ExpectFault(AuditError::kChainBroken, 3, 3);
}

TEST_F(ChainTest, CounterGoingBackIsDetected) {
  ChainTip tip = *TipAfter(export_.blocks(5).header());
  std::vector<std::string> events = {testing::DenialEvent(appliance_.id(), 7)};
  SealParams p;
  p.appliance_id = appliance_.id();
  p.counter = 3;
  p.wall_time = FromUnixMillis(1'767'225'700'000);
  tip.counter = 2;  // sealing accepts it; the chain check compares with block 5's counter 3
  p.counter = 2;
  auto block = SealBlock(tip, events, p, appliance_.signer());
  ASSERT_TRUE(block.ok());
  v1::AuditBlock* added = export_.add_blocks();
  *added->mutable_header() = block->header_envelope;
  added->add_events(events[0]);
  ExpectFault(AuditError::kClockWentBackwards, 6, 6);
}

TEST_F(ChainTest, CertificateProblemsAreNamed) {
  TestKey other_vendor;
  *export_.mutable_certificate() = testing::Certify(other_vendor, appliance_, FromUnixMillis(0),
                                                    FromUnixMillis(4'000'000'000'000));
  ChainVerdict v = Verify();
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.fault->error, AuditError::kCertificateSignature);
  export_.clear_certificate();
  v = Verify();
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.fault->error, AuditError::kCertificateSignature);
}

TEST_F(ChainTest, ChainOfAnotherApplianceDoesNotVerifyUnderThisCertificate) {
  TestKey other;
  v1::AuditExport foreign = testing::MakeExport(other, cert_, 2, 2);
  ChainVerdict v = VerifyAuditExport(foreign, vendor_.spki());
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.fault->error, AuditError::kHeaderSignature);
  EXPECT_EQ(v.fault->sequence, 0u);
}

TEST_F(ChainTest, RangeStartingLaterVerifiesFromItsAnchor) {
  std::vector<v1::AuditBlock> tail(export_.blocks().begin() + 2, export_.blocks().end());
  ChainStart start{.sequence = 2, .previous_hash = BlockHash(export_.blocks(1).header())};
  ChainVerdict v = VerifyChain(tail, appliance_.spki(), start);
  ASSERT_TRUE(v.ok()) << v.fault->status.ToString();
  EXPECT_EQ(v.blocks, 4u);
  // Against a wrong anchor (what the vendor saw last was block 0), block 2 is a gap.
  ChainStart stale{.sequence = 1, .previous_hash = BlockHash(export_.blocks(0).header())};
  v = VerifyChain(tail, appliance_.spki(), stale);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.fault->error, AuditError::kSequenceGap);
  EXPECT_EQ(v.fault->sequence, 2u);
}

}  // namespace
}  // namespace tessera::audit
