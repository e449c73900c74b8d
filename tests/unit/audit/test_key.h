// An in-memory P-256 key for audit tests, and helpers to build events and chains.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "base/encoding.h"
#include "base/time.h"
#include "protocol/audit/block.h"
#include "protocol/audit/envelope.h"

struct evp_pkey_st;

namespace tessera::audit::testing {

class TestKey {
 public:
  TestKey();
  const Bytes& spki() const { return spki_; }
  std::string id() const { return KeyId(spki_); }
  // Signs and counts the calls.
  SignFn signer();
  int signatures() const { return signatures_->load(); }

 private:
  std::shared_ptr<evp_pkey_st> key_;
  Bytes spki_;
  std::shared_ptr<std::atomic<int>> signatures_ = std::make_shared<std::atomic<int>>(0);
};

// A serialized LEASE_GRANTED event.
std::string GrantEvent(const std::string& appliance_id, const std::string& lease_id,
                       const std::string& feature, const std::string& nonce, TimePoint issued,
                       TimePoint expires);

// A serialized event of another kind (a denial), for filler.
std::string DenialEvent(const std::string& appliance_id, int n);

// A certificate for `appliance` signed by `vendor`, valid [from, until).
v1::SignedEnvelope Certify(TestKey& vendor, const TestKey& appliance, TimePoint from,
                           TimePoint until);

// Seals `block_count` blocks of `events_per_block` events each with `appliance`.
v1::AuditExport MakeExport(TestKey& appliance, const v1::SignedEnvelope& certificate,
                           int block_count, int events_per_block);

}  // namespace tessera::audit::testing
