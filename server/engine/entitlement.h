// What the customer bought: features and shared token pools (DESIGN.md §3).
//
// Built by the server from a signed bundle or a JSON file and handed to the engine by value.
// Thread safety: value types.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/time.h"

namespace tessera::engine {

enum class LicenseModel {
  kConcurrent,  // at most `seats` seats in use at once
  kTokenPool,   // each seat draws `tokens_per_seat` tokens from the shared pool `pool`
  kNamedUser,   // a seat sticks to a user for at least `named_user_min_period`
  kMetered,     // a consumable count drawn down per checkout or per reported unit
};

// "concurrent", "token_pool", "named_user", "metered" (the wire's FeatureStatus.model).
std::string_view LicenseModelName(LicenseModel model);
std::optional<LicenseModel> ParseLicenseModel(std::string_view name);

enum class Enforcement {
  kHard,  // at most `seats` in use
  kSoft,  // up to `seats + overdraft`; each grant beyond `seats` is flagged overdraft
};

enum class MeterMode {
  kPerCheckout,  // a checkout draws its `metered_units` at once
  kPerUse,       // a checkout needs one unit left; units reported at checkin are drawn
};

struct Feature {
  std::string name;  // non-empty, unique
  LicenseModel model = LicenseModel::kConcurrent;

  // Inclusive version range; empty means unbounded on that side.
  std::string version_min;
  std::string version_max;

  std::optional<TimePoint> starts_at;  // none: already started
  std::optional<TimePoint> ends_at;    // none: perpetual
  Duration grace{0};                   // checkouts still allowed (flagged) until ends_at + grace

  // Seat cap. For kTokenPool and kMetered, 0 means no seat cap (only the pool or the meter
  // limits); for kConcurrent and kNamedUser it is the number of seats (0: none).
  uint32_t seats = 0;
  uint32_t overdraft = 0;  // extra seats usable under soft enforcement
  Enforcement enforcement = Enforcement::kHard;

  Duration lease_ttl = std::chrono::minutes(5);            // > 0
  Duration heartbeat_interval = std::chrono::seconds(60);  // > 0, <= lease_ttl
  Duration linger{0};  // a seat stays held this long after checkin

  // Queueing: a checkout with a queue timeout may wait for a seat, FIFO per feature.
  uint32_t max_queue_length = 0;                          // 0: queueing not allowed
  Duration max_queue_timeout = std::chrono::minutes(10);  // longer requested waits are capped

  // Borrowing: an offline lease of up to max_borrow, no heartbeat needed.
  bool borrowable = false;
  Duration max_borrow{0};

  // kTokenPool.
  std::string pool;
  uint32_t tokens_per_seat = 1;

  // kNamedUser.
  Duration named_user_min_period = std::chrono::hours(24);

  // kMetered.
  MeterMode meter_mode = MeterMode::kPerCheckout;
  uint64_t metered_total = 0;      // units entitled in total
  uint64_t metered_overdraft = 0;  // how far below zero the remaining count may go
};

struct TokenPool {
  std::string name;  // non-empty, unique
  uint32_t tokens = 0;
  uint32_t overdraft = 0;  // extra tokens usable by soft-enforced features
};

struct Entitlement {
  std::vector<Feature> features;
  std::vector<TokenPool> pools;

  // Returns nullptr when absent.
  const Feature* FindFeature(std::string_view name) const;
  const TokenPool* FindPool(std::string_view name) const;
};

// Checks names (non-empty, unique), version strings, durations, pools referenced by
// token-pool features, heartbeat <= ttl. InvalidArgument naming the first problem.
Status ValidateEntitlement(const Entitlement& entitlement);

}  // namespace tessera::engine
