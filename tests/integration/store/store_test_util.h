// Helpers for tesserad's durability tests: leases granted over raw clients, and what a client
// sees of them after a restart.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "tests/integration/server/server_test_util.h"

namespace tessera::testing {

namespace v1 = tessera::v1;

inline v1::CheckoutRequest Req(const std::string& feature, std::uint64_t units = 0) {
  v1::CheckoutRequest r;
  r.set_feature(feature);
  r.set_version("1.0");
  r.set_metered_units(units);
  return r;
}

// Checks out and expects a grant; returns the lease (empty id on failure).
inline v1::Lease Grant(RawClient& c, const v1::CheckoutRequest& req) {
  auto r = c.Checkout(req);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return {};
  EXPECT_TRUE(r->has_checkout_reply() && r->checkout_reply().has_granted()) << r->DebugString();
  return r->checkout_reply().granted();
}

// The denial reason of a checkout (DENIAL_REASON_UNSPECIFIED when granted).
inline v1::DenialReason DenialOf(RawClient& c, const v1::CheckoutRequest& req,
                                 std::string* detail = nullptr) {
  auto r = c.Checkout(req);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok() || !r->checkout_reply().has_denied()) return v1::DENIAL_REASON_UNSPECIFIED;
  if (detail) *detail = r->checkout_reply().denied().detail();
  return r->checkout_reply().denied().reason();
}

// lease id -> expires_at_ms of the client's leases, as the server reports them.
inline std::map<std::string, std::int64_t> MyLeases(RawClient& c) {
  std::map<std::string, std::int64_t> out;
  auto r = c.StatusQuery();
  EXPECT_TRUE(r.ok() && r->has_status_reply()) << (r.ok() ? r->DebugString() : "");
  if (!r.ok()) return out;
  for (const auto& l : r->status_reply().my_leases()) out[l.lease_id()] = l.expires_at_ms();
  return out;
}

inline v1::FeatureStatus FeatureOf(RawClient& c, const std::string& feature) {
  auto r = c.StatusQuery(feature);
  EXPECT_TRUE(r.ok() && r->status_reply().features_size() == 1) << (r.ok() ? r->DebugString() : "");
  if (!r.ok() || r->status_reply().features_size() != 1) return {};
  return r->status_reply().features(0);
}

}  // namespace tessera::testing
