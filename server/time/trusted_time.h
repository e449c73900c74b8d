// Trusted time: a Clock that cannot be rolled back (DESIGN.md §5, docs/TRUST.md).
//
// Expiry and entitlement dates are judged on TrustedTime::Now(), which is
//
//   max(system wall time, last trusted time + elapsed on a monotonic source)
//
// and never decreases. At start "last trusted time" is the floor: the time of the latest
// signed audit block. The monotonic source is the TPM clock when the key store has the
// trusted_clock capability, else the process's monotonic clock. When the TPM clock shows a
// reset or restart, an unsafe reading, a value going backwards or a read failure, the
// source falls back to the process monotonic clock for the rest of the process's life,
// and the observer is told why.
//
// Jumps of the system clock are reported once per episode:
//   backward  the wall clock is behind trusted time by more than `backward_threshold`
//             (default 5 minutes). Trusted time does not follow it. The episode ends when
//             the wall clock is back within the threshold.
//   forward   the wall clock is ahead of the expected time (last trusted time + elapsed)
//             by more than `forward_threshold` (default 1 hour). Trusted time follows it,
//             which starts a new baseline: the episode is over at once. The first reading
//             is never a forward jump: the gap since the floor is the time the daemon was
//             down.
// Slews and steps below the thresholds (NTP) are not reported.
//
// Thread safety: Now() and every accessor may be called from any thread. Observer callbacks
// run on the thread that called Now(), after the internal lock is released, so they may call
// Now() themselves. At most one caller per `tpm_sample_interval` waits for one TPM clock
// read (outside the lock); every other caller uses the latest sample and never waits on
// the device.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "base/time.h"
#include "hsm/key_store.h"

namespace tessera::trust {

enum class JumpDirection { kBackward, kForward };

// "backward" / "forward".
std::string_view JumpDirectionName(JumpDirection d);

// A step of the system wall clock away from trusted time.
struct ClockJump {
  TimePoint from;  // what the clock should read: trusted (backward) or expected (forward) time
  TimePoint to;    // what the system wall clock read
  JumpDirection direction = JumpDirection::kBackward;
  Duration delta{0};  // |to - from|, always positive

  // "system clock moved backward by 604800000 ms: 2026-01-08T00:00:00.000Z ->
  // 2026-01-01T00:00:00.000Z; trusted time does not follow".
  std::string Describe() const;
};

// The monotonic source trusted time currently advances with.
enum class TimeSource { kTpmClock, kProcessMonotonic };

// "tpm-clock" / "process-monotonic".
std::string_view TimeSourceName(TimeSource s);

// Where the clocks come from. Tests inject fakes; the daemon uses RealSources().
// `wall` and `process_monotonic` are called with TrustedTime's lock held and must be cheap
// and must not call back into it; `tpm` is called without the lock.
struct TimeSources {
  std::function<TimePoint()> wall;               // the system wall clock. Required.
  std::function<Duration()> process_monotonic;   // the process monotonic clock. Required.
  std::function<Result<hsm::ClockTuple>()> tpm;  // the TPM clock; empty when there is none
};

// RealClock() and MonotonicNow(), plus store->ReadClock() when `store` is not null and has
// the trusted_clock capability.
// REQUIRES: `store`, when given, outlives every TrustedTime built from the result.
TimeSources RealSources(hsm::KeyStore* store);

// The last time the appliance signed, known at start.
struct Floor {
  // The latest audit block's trusted time (its time_high_water_ms, or its wall_time_ms where
  // the block carries a TPM clock tuple instead). The epoch for a fresh database.
  TimePoint time{};
  // The TPM clock tuple stamped on that block, if any. When the TPM has not been reset or
  // restarted since (same reset and restart counts, both readings safe), the TPM time elapsed
  // since the block is added to the floor: a daemon restart cannot lose that time.
  std::optional<hsm::ClockTuple> tpm;
};

struct TrustedTimeOptions {
  Duration backward_threshold = std::chrono::minutes(5);
  Duration forward_threshold = std::chrono::hours(1);
  // The TPM clock is read at most this often (measured on the process monotonic clock).
  Duration tpm_sample_interval = std::chrono::seconds(1);
  // Elapsed TPM time is credited at (1 - tolerance): a TPM oscillator running fast by less
  // than this cannot push trusted time ahead of a correct wall clock. The price: after the
  // wall clock was set back, trusted time advances this much slower than real time.
  uint32_t tpm_rate_tolerance_ppm = 10'000;  // 1%
};

// Callbacks; each may be empty.
struct TrustedTimeObserver {
  std::function<void(const ClockJump&)> on_jump;
  // The source fell back from the TPM clock to the process monotonic clock; `reason` says
  // why ("TPM reset count changed from 3 to 4", "TPM clock reading is not safe", ...).
  std::function<void(std::string_view reason)> on_fallback;
};

class TrustedTime final : public Clock {
 public:
  // Reads the TPM clock once (when `sources.tpm` is set) to anchor it; when that reading is
  // unusable, calls observer.on_fallback from the constructor. The first Now() reports a
  // backward jump when the wall clock is already behind the floor by more than the threshold
  // (the clock was set back while the daemon was down).
  TrustedTime(TimeSources sources, const Floor& floor, TrustedTimeOptions options = {},
              TrustedTimeObserver observer = {});
  TrustedTime(const TrustedTime&) = delete;
  TrustedTime& operator=(const TrustedTime&) = delete;

  // Never earlier than the floor, never earlier than a previous Now().
  TimePoint Now() const override;

  TimeSource source() const;
  // Why the source is the process monotonic clock; empty while it is the TPM clock or when
  // there never was a TPM clock.
  std::string fallback_reason() const;
  // True while a backward jump episode is open (the wall clock is behind trusted time).
  bool wall_clock_behind() const;
  // The last reported jump, if any.
  std::optional<ClockJump> last_jump() const;

 private:
  struct Pending;  // events to deliver once the lock is released
  void SampleTpmIfDue(Duration process_now) const;
  void FallBackLocked(std::string reason, Pending& pending) const;
  Duration SourceNowLocked(Duration process_now) const;
  void Deliver(Pending& pending) const;

  const TimeSources sources_;
  const TrustedTimeOptions options_;
  const TrustedTimeObserver observer_;

  mutable std::mutex mu_;
  mutable TimeSource source_;
  mutable std::string fallback_reason_;
  // Trusted time at the last reading, the source's reading then, and the process monotonic
  // time then.
  mutable TimePoint anchor_time_;
  mutable Duration anchor_source_{0};
  mutable Duration anchor_process_{0};
  // TPM: the first tuple seen (its reset/restart counts must not change), the latest good
  // sample and the process monotonic time it was taken at, the time of the latest attempt.
  mutable hsm::ClockTuple tpm_first_;
  mutable hsm::ClockTuple tpm_last_;
  mutable Duration tpm_good_at_{0};
  mutable Duration tpm_last_sampled_at_{0};
  mutable bool tpm_sampling_ = false;  // a thread is reading the TPM clock
  mutable bool behind_episode_ = false;
  mutable bool first_reading_done_ = false;
  mutable std::optional<ClockJump> last_jump_;
};

}  // namespace tessera::trust
