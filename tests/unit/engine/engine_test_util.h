// Helpers for the engine's unit tests: features, clients, requests, outcome accessors.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

#include "base/time.h"
#include "server/engine/engine.h"

namespace tessera::engine::testing {

inline const TimePoint kT0 = FromUnixMillis(1'767'225'600'000);  // 2026-01-01T00:00Z

inline Feature Concurrent(std::string name, uint32_t seats) {
  Feature f;
  f.name = std::move(name);
  f.seats = seats;
  f.version_min = "1.0";
  f.version_max = "9.9";
  f.lease_ttl = Seconds(60);
  f.heartbeat_interval = Seconds(20);
  return f;
}

inline ClientInfo Client(const std::string& id, const std::string& user = "",
                         const std::string& host = "") {
  return ClientInfo{id, user.empty() ? "user-" + id : user, host.empty() ? "host-" + id : host};
}

inline CheckoutRequest Req(const ClientInfo& client, const std::string& feature, uint32_t count = 1,
                           const std::string& version = "2.0") {
  CheckoutRequest r;
  r.client = client;
  r.feature = feature;
  r.count = count;
  r.version = version;
  return r;
}

inline Engine MakeEngine(Entitlement e, Rules rules = {}, LeaseId first_id = 1) {
  Result<Engine> engine =
      Engine::Create(EngineOptions{first_id, 1024}, std::move(e), std::move(rules));
  EXPECT_TRUE(engine.ok()) << engine.status().ToString();
  return std::move(engine).value();
}

inline Engine MakeEngine(std::vector<Feature> features, Rules rules = {}) {
  Entitlement e;
  e.features = std::move(features);
  return MakeEngine(std::move(e), std::move(rules));
}

inline bool IsGranted(const CheckoutOutcome& o) { return std::holds_alternative<Granted>(o); }
// By value: the outcome is usually a temporary.
inline Lease LeaseOf(const CheckoutOutcome& o) {
  EXPECT_TRUE(IsGranted(o));
  if (const Granted* g = std::get_if<Granted>(&o)) return g->lease;
  return Lease{};
}
inline std::optional<DenialReason> DenialOf(const CheckoutOutcome& o) {
  if (const Denied* d = std::get_if<Denied>(&o)) return d->reason;
  return std::nullopt;
}
inline std::optional<Queued> QueuedOf(const CheckoutOutcome& o) {
  if (const Queued* q = std::get_if<Queued>(&o)) return *q;
  return std::nullopt;
}

inline std::vector<EventKind> Kinds(const std::vector<Event>& events) {
  std::vector<EventKind> out;
  for (const Event& e : events) out.push_back(e.kind);
  return out;
}

// The first event of `kind`, by value (the list is usually a temporary).
inline std::optional<Event> FindEvent(const std::vector<Event>& events, EventKind kind) {
  for (const Event& e : events) {
    if (e.kind == kind) return e;
  }
  return std::nullopt;
}

}  // namespace tessera::engine::testing
