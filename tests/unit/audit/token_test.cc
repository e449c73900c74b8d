#include "protocol/audit/token.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "tests/unit/audit/test_key.h"

namespace tessera::audit {
namespace {

using testing::TestKey;

constexpr int64_t kT0 = 1'767'225'600'000;  // 2026-01-01T00:00Z

class TokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cert_ = testing::Certify(vendor_, appliance_, FromUnixMillis(kT0 - 1000),
                             FromUnixMillis(kT0 + 365LL * 86'400'000));
    events_ = {testing::DenialEvent(appliance_.id(), 1),
               testing::GrantEvent(appliance_.id(), "L-42", "cad", "nonce-abc", FromUnixMillis(kT0),
                                   FromUnixMillis(kT0 + 60'000)),
               testing::DenialEvent(appliance_.id(), 2)};
    SealParams p;
    p.appliance_id = appliance_.id();
    p.counter = 1;
    p.wall_time = FromUnixMillis(kT0);
    auto block = SealBlock(ChainTip::Genesis(), events_, p, appliance_.signer());
    ASSERT_TRUE(block.ok());
    block_ = *block;
    auto token = BuildLeaseToken(block_, events_, 1, cert_);
    ASSERT_TRUE(token.ok());
    token_ = *token;
  }

  Result<VerifiedLease> Verify(const std::string& token, std::string_view nonce = "nonce-abc",
                               std::string_view feature = "cad",
                               TimePoint now = FromUnixMillis(kT0 + 1000)) {
    return VerifyLeaseToken(AsBytes(token), vendor_.spki(), nonce, feature, now);
  }

  std::optional<AuditError> ErrorOf(const std::string& token) {
    return AuditErrorOf(Verify(token).status());
  }

  v1::LeaseToken Parsed() {
    v1::LeaseToken t;
    EXPECT_TRUE(t.ParseFromString(token_));
    return t;
  }

  TestKey vendor_;
  TestKey appliance_;
  v1::SignedEnvelope cert_;
  std::vector<std::string> events_;
  SealedBlock block_;
  std::string token_;
};

TEST_F(TokenTest, ValidTokenVerifies) {
  auto lease = Verify(token_);
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  EXPECT_EQ(lease->lease_id, "L-42");
  EXPECT_EQ(lease->feature, "cad");
  EXPECT_EQ(lease->count, 1u);
  EXPECT_EQ(lease->nonce, "nonce-abc");
  EXPECT_EQ(lease->expires_at, FromUnixMillis(kT0 + 60'000));
  EXPECT_EQ(lease->appliance_id, appliance_.id());
  EXPECT_EQ(lease->customer, "Example Corp");
  EXPECT_EQ(lease->block_sequence, 0u);
  // Small enough for every heartbeat answer that carries one (docs/AUDIT.md).
  EXPECT_LT(token_.size(), 1024u) << token_.size();
}

TEST_F(TokenTest, GarbageAndOversizeAreMalformed) {
  EXPECT_EQ(ErrorOf("\xff\xff\xff"), AuditError::kMalformed);
  EXPECT_EQ(ErrorOf(std::string(kMaxTokenBytes + 1, 'x')), AuditError::kMalformed);
  v1::LeaseToken t = Parsed();
  t.set_format_version(2);
  EXPECT_EQ(ErrorOf(t.SerializeAsString()), AuditError::kMalformed);
  t = Parsed();
  t.mutable_proof()->add_siblings("short");
  EXPECT_EQ(ErrorOf(t.SerializeAsString()), AuditError::kMalformed);
}

TEST_F(TokenTest, CertificateFromAnotherVendorIsRejected) {
  TestKey other_vendor;
  v1::LeaseToken t = Parsed();
  *t.mutable_certificate() =
      testing::Certify(other_vendor, appliance_, FromUnixMillis(0), FromUnixMillis(kT0 * 2));
  EXPECT_EQ(ErrorOf(t.SerializeAsString()), AuditError::kCertificateSignature);
  t = Parsed();
  t.mutable_certificate()->mutable_payload()->back() ^= 0x01;
  EXPECT_EQ(ErrorOf(t.SerializeAsString()), AuditError::kCertificateSignature);
}

TEST_F(TokenTest, CertificateValidityIsJudgedAtNow) {
  EXPECT_EQ(AuditErrorOf(Verify(token_, "nonce-abc", "cad", FromUnixMillis(kT0 - 2000)).status()),
            AuditError::kCertificateNotYetValid);
  EXPECT_EQ(
      AuditErrorOf(
          Verify(token_, "nonce-abc", "cad", FromUnixMillis(kT0 + 366LL * 86'400'000)).status()),
      AuditError::kCertificateExpired);
}

TEST_F(TokenTest, HeaderSignedByAnotherKeyIsRejected) {
  TestKey impostor;
  v1::LeaseToken t = Parsed();
  auto forged = SignEnvelope(t.block_header().payload(), impostor.signer(), appliance_.id());
  ASSERT_TRUE(forged.ok());
  *t.mutable_block_header() = *forged;
  EXPECT_EQ(ErrorOf(t.SerializeAsString()), AuditError::kHeaderSignature);
}

TEST_F(TokenTest, CertificateForAnotherApplianceIsRejected) {
  TestKey other;
  v1::LeaseToken t = Parsed();
  *t.mutable_certificate() =
      testing::Certify(vendor_, other, FromUnixMillis(0), FromUnixMillis(kT0 * 2));
  // The header does not verify with the other appliance's key.
  EXPECT_EQ(ErrorOf(t.SerializeAsString()), AuditError::kHeaderSignature);
}

TEST_F(TokenTest, ProofTamperingIsRejected) {
  v1::LeaseToken t = Parsed();
  t.mutable_proof()->mutable_siblings(0)->at(3) ^= 0x01;
  EXPECT_EQ(ErrorOf(t.SerializeAsString()), AuditError::kInclusionProof);
  t = Parsed();
  t.mutable_proof()->set_leaf_index(0);
  EXPECT_EQ(ErrorOf(t.SerializeAsString()), AuditError::kInclusionProof);
  t = Parsed();
  t.mutable_event()->back() ^= 0x01;
  EXPECT_EQ(ErrorOf(t.SerializeAsString()), AuditError::kInclusionProof);
}

TEST_F(TokenTest, AnEventThatIsNotALeaseIsRejected) {
  auto token = BuildLeaseToken(block_, events_, 0, cert_);
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(ErrorOf(*token), AuditError::kNotALease);
}

TEST_F(TokenTest, EventOfAnotherApplianceIsRejected) {
  std::vector<std::string> events = {testing::GrantEvent("someone-else", "L-1", "cad", "nonce-abc",
                                                         FromUnixMillis(kT0),
                                                         FromUnixMillis(kT0 + 60'000))};
  SealParams p;
  p.appliance_id = appliance_.id();
  p.wall_time = FromUnixMillis(kT0);
  auto block = SealBlock(ChainTip::Genesis(), events, p, appliance_.signer());
  ASSERT_TRUE(block.ok());
  auto token = BuildLeaseToken(*block, events, 0, cert_);
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(ErrorOf(*token), AuditError::kApplianceMismatch);
}

TEST_F(TokenTest, NonceFeatureAndExpiryAreChecked) {
  EXPECT_EQ(AuditErrorOf(Verify(token_, "nonce-xyz").status()), AuditError::kNonceMismatch);
  EXPECT_EQ(AuditErrorOf(Verify(token_, "").status()), AuditError::kNonceMismatch);
  EXPECT_EQ(AuditErrorOf(Verify(token_, "nonce-abc", "cam").status()),
            AuditError::kFeatureMismatch);
  EXPECT_TRUE(Verify(token_, "nonce-abc", "cad", FromUnixMillis(kT0 + 59'999)).ok());
  EXPECT_EQ(AuditErrorOf(Verify(token_, "nonce-abc", "cad", FromUnixMillis(kT0 + 60'000)).status()),
            AuditError::kLeaseExpired);
}

// Never trust the wire: every truncation and every single-byte change of a token is either
// harmless or refused with a typed error; nothing crashes and nothing else gets through.
// Only the key_id hints may change without effect, since they are not trusted: their text,
// or their tag (the hint then vanishes, and the text may happen to parse as unknown fields).
TEST_F(TokenTest, EveryTruncationAndByteFlipIsRefusedWithATypedError) {
  for (size_t n = 0; n < token_.size(); ++n) {
    auto r = Verify(token_.substr(0, n));
    ASSERT_FALSE(r.ok()) << "prefix " << n;
    ASSERT_TRUE(AuditErrorOf(r.status()).has_value()) << r.status().ToString();
  }
  // Byte ranges of the two key_id fields: tag, length, text.
  std::vector<std::pair<size_t, size_t>> hints;
  for (const std::string& id :
       {Parsed().block_header().key_id(), Parsed().certificate().key_id()}) {
    ASSERT_LT(id.size(), 128u);  // a one-byte length
    // The last match: the event's appliance_id (also field 3) has the same bytes.
    size_t at = token_.rfind(std::string(1, '\x1a') + static_cast<char>(id.size()) + id);
    ASSERT_NE(at, std::string::npos);
    hints.emplace_back(at, at + 2 + id.size());
  }
  auto in_hint = [&](size_t i) {
    return std::any_of(hints.begin(), hints.end(),
                       [i](const auto& h) { return i >= h.first && i < h.second; });
  };
  int accepted = 0;
  for (size_t i = 0; i < token_.size(); ++i) {
    std::string bad = token_;
    bad[i] = static_cast<char>(bad[i] ^ 0x5a);
    auto r = Verify(bad);
    if (r.ok()) {
      ++accepted;
      EXPECT_TRUE(in_hint(i)) << "byte " << i << " changed and the token still verifies";
      EXPECT_EQ(r->lease_id, "L-42");
      EXPECT_EQ(r->nonce, "nonce-abc");
      continue;
    }
    ASSERT_TRUE(AuditErrorOf(r.status()).has_value()) << i << ": " << r.status().ToString();
  }
  // The hints' text is ASCII and stays valid UTF-8 under the flip: all of it is accepted.
  EXPECT_GE(accepted, static_cast<int>(hints[0].second - hints[0].first - 2 + hints[1].second -
                                       hints[1].first - 2));
}

TEST_F(TokenTest, EveryLeaseOfALargeBlockGetsAWorkingToken) {
  std::vector<std::string> events;
  for (int i = 0; i < 33; ++i) {
    events.push_back(testing::GrantEvent(appliance_.id(), "L-" + std::to_string(i), "cad",
                                         "n" + std::to_string(i), FromUnixMillis(kT0),
                                         FromUnixMillis(kT0 + 60'000)));
  }
  SealParams p;
  p.appliance_id = appliance_.id();
  p.counter = 1;
  p.wall_time = FromUnixMillis(kT0);
  auto block = SealBlock(block_.next, events, p, appliance_.signer());
  ASSERT_TRUE(block.ok());
  for (size_t i = 0; i < events.size(); ++i) {
    auto token = BuildLeaseToken(*block, events, i, cert_);
    ASSERT_TRUE(token.ok());
    auto lease = Verify(*token, "n" + std::to_string(i));
    ASSERT_TRUE(lease.ok()) << i << ": " << lease.status().ToString();
    EXPECT_EQ(lease->lease_id, "L-" + std::to_string(i));
    EXPECT_EQ(lease->block_sequence, 1u);
  }
  EXPECT_FALSE(BuildLeaseToken(*block, events, events.size(), cert_).ok());
}

}  // namespace
}  // namespace tessera::audit
