#include "tests/unit/client/token_factory.h"

#include <mutex>
#include <stdexcept>
#include <utility>

#include "protocol/audit/block.h"
#include "protocol/audit/token.h"
#include "tests/unit/audit/test_key.h"

namespace tessera::client::testing {

using audit::testing::TestKey;

struct TokenFactory::Impl {
  std::mutex mu;
  TestKey genuine_vendor;
  TestKey foreign_vendor;
  TestKey appliance;
  v1::SignedEnvelope genuine_cert;
  v1::SignedEnvelope foreign_cert;
  v1::SignedEnvelope expired_cert;
  audit::ChainTip tip = audit::ChainTip::Genesis();
  uint64_t blocks = 0;
  uint64_t counter = 1;
};

TokenFactory::TokenFactory(TimePoint now) : impl_(std::make_unique<Impl>()) {
  const Duration day = std::chrono::hours(24);
  impl_->genuine_cert =
      audit::testing::Certify(impl_->genuine_vendor, impl_->appliance, now - day, now + day);
  impl_->foreign_cert =
      audit::testing::Certify(impl_->foreign_vendor, impl_->appliance, now - day, now + day);
  impl_->expired_cert =
      audit::testing::Certify(impl_->genuine_vendor, impl_->appliance, now - 2 * day, now - day);
}

TokenFactory::~TokenFactory() = default;

std::vector<uint8_t> TokenFactory::genuine_vendor_spki() const {
  return impl_->genuine_vendor.spki();
}
std::vector<uint8_t> TokenFactory::foreign_vendor_spki() const {
  return impl_->foreign_vendor.spki();
}
std::string TokenFactory::appliance_id() const { return impl_->appliance.id(); }

uint64_t TokenFactory::blocks() const {
  std::lock_guard lock(impl_->mu);
  return impl_->blocks;
}

std::string TokenFactory::Make(TokenMode mode, const TokenFacts& facts) {
  if (mode == TokenMode::kMissing) return "";
  std::lock_guard lock(impl_->mu);
  TokenFacts stated = facts;
  if (mode == TokenMode::kOtherNonce) stated.nonce = "another request's nonce";
  if (mode == TokenMode::kOtherFeature) stated.feature = facts.feature + "-other";
  if (mode == TokenMode::kOtherLease) stated.lease_id = facts.lease_id + "-other";
  if (mode == TokenMode::kExpired) {
    stated.expires_at = facts.issued_at - std::chrono::minutes(1);
    stated.issued_at = stated.expires_at - std::chrono::minutes(1);
  }
  v1::AuditEvent event;
  if (!event.ParseFromString(audit::testing::GrantEvent(impl_->appliance.id(), stated.lease_id,
                                                        stated.feature, stated.nonce,
                                                        stated.issued_at, stated.expires_at))) {
    throw std::runtime_error("GrantEvent does not parse");
  }
  if (facts.renewal) event.set_kind(v1::LEASE_RENEWED);
  // A filler event first, so the proof has a sibling to check.
  std::vector<std::string> events = {
      audit::testing::DenialEvent(impl_->appliance.id(), static_cast<int>(impl_->blocks)),
      event.SerializeAsString()};
  audit::SealParams params;
  params.appliance_id = impl_->appliance.id();
  params.counter = impl_->counter;
  params.wall_time = stated.issued_at;
  auto block = audit::SealBlock(impl_->tip, events, params, impl_->appliance.signer());
  if (!block.ok()) throw std::runtime_error(block.status().ToString());
  impl_->tip = block->next;
  ++impl_->blocks;
  const v1::SignedEnvelope& cert = mode == TokenMode::kForeignVendor        ? impl_->foreign_cert
                                   : mode == TokenMode::kExpiredCertificate ? impl_->expired_cert
                                                                            : impl_->genuine_cert;
  auto token = audit::BuildLeaseToken(*block, events, 1, cert);
  if (!token.ok()) throw std::runtime_error(token.status().ToString());
  if (mode == TokenMode::kTruncated) return token->substr(0, token->size() / 2);
  if (mode == TokenMode::kCorrupted) {
    v1::LeaseToken parsed;
    if (!parsed.ParseFromString(*token)) throw std::runtime_error("token does not parse");
    std::string leaf = parsed.event();
    leaf[leaf.size() / 2] = static_cast<char>(leaf[leaf.size() / 2] ^ 0x01);
    parsed.set_event(leaf);
    return parsed.SerializeAsString();
  }
  return *token;
}

}  // namespace tessera::client::testing
