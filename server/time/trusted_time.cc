#include "server/time/trusted_time.h"

#include <algorithm>
#include <utility>

#include "base/system_clock.h"
#include "hsm/hsm_error.h"

namespace tessera::trust {
namespace {

std::string FormatDelta(Duration d) {
  const int64_t ms = d.count();
  std::string out = std::to_string(ms / 1000) + ".";
  std::string frac = std::to_string(ms % 1000);
  out += std::string(3 - frac.size(), '0') + frac + " s";
  return out;
}

// Elapsed time on the source, credited at (1 - ppm / 10^6).
Duration Credit(Duration elapsed, uint32_t ppm) {
  if (elapsed <= Duration(0)) return Duration(0);
  const int64_t ms = elapsed.count();
  // ms * ppm overflows only after ~29,000 years of elapsed time at 10^6 ppm.
  return Duration(ms - ms / 1'000'000 * ppm - (ms % 1'000'000) * ppm / 1'000'000);
}

// Why a TPM clock reading cannot be used to measure elapsed time since `first`, or empty.
std::string TpmReadingProblem(const hsm::ClockTuple& first, const hsm::ClockTuple& last,
                              const hsm::ClockTuple& now) {
  if (now.reset_count != first.reset_count) {
    return "TPM reset count changed from " + std::to_string(first.reset_count) + " to " +
           std::to_string(now.reset_count);
  }
  if (now.restart_count != first.restart_count) {
    return "TPM restart count changed from " + std::to_string(first.restart_count) + " to " +
           std::to_string(now.restart_count);
  }
  if (!now.safe) return "TPM clock reading is not safe (the TPM restarted uncleanly)";
  if (now.clock_ms < last.clock_ms) {
    return "TPM clock went backwards from " + std::to_string(last.clock_ms) + " ms to " +
           std::to_string(now.clock_ms) + " ms";
  }
  return {};
}

}  // namespace

std::string_view JumpDirectionName(JumpDirection d) {
  return d == JumpDirection::kBackward ? "backward" : "forward";
}

std::string_view TimeSourceName(TimeSource s) {
  return s == TimeSource::kTpmClock ? "tpm-clock" : "process-monotonic";
}

std::string ClockJump::Describe() const {
  std::string out = "system clock moved " + std::string(JumpDirectionName(direction)) + " by " +
                    FormatDelta(delta) + ": " + FormatTime(from) + " -> " + FormatTime(to);
  out += direction == JumpDirection::kBackward ? "; trusted time does not follow"
                                               : "; trusted time follows";
  return out;
}

TimeSources RealSources(hsm::KeyStore* store) {
  TimeSources sources;
  sources.wall = [] { return RealClock().Now(); };
  sources.process_monotonic = [] { return MonotonicNow(); };
  if (store != nullptr && store->capabilities().trusted_clock) {
    sources.tpm = [store] { return store->ReadClock(); };
  }
  return sources;
}

struct TrustedTime::Pending {
  std::optional<ClockJump> jump;
  std::optional<std::string> fallback;
};

TrustedTime::TrustedTime(TimeSources sources, const Floor& floor, TrustedTimeOptions options,
                         TrustedTimeObserver observer)
    : sources_(std::move(sources)),
      options_(options),
      observer_(std::move(observer)),
      source_(TimeSource::kProcessMonotonic),
      anchor_time_(floor.time) {
  const Duration process_now = sources_.process_monotonic();
  anchor_source_ = anchor_process_ = process_now;
  if (!sources_.tpm) return;

  Result<hsm::ClockTuple> tuple = sources_.tpm();
  std::string problem;
  if (!tuple.ok()) {
    problem = "TPM clock read failed: " + tuple.status().ToString();
  } else if (!tuple->safe) {
    problem = "TPM clock reading is not safe (the TPM restarted uncleanly)";
  }
  if (!problem.empty()) {
    fallback_reason_ = problem;
    if (observer_.on_fallback) observer_.on_fallback(problem);
    return;
  }
  source_ = TimeSource::kTpmClock;
  tpm_first_ = tpm_last_ = *tuple;
  tpm_last_sampled_at_ = process_now;
  // Stamped after the read returned: the TPM value is carried forward from then, so the
  // read's latency (it may wait behind a signature) is never counted on top of it.
  tpm_good_at_ = std::max(process_now, sources_.process_monotonic());
  anchor_source_ = Duration(static_cast<int64_t>(tuple->clock_ms));
  // The TPM kept counting since the floor's block was signed: credit that time too.
  if (floor.tpm && floor.tpm->safe && floor.tpm->reset_count == tuple->reset_count &&
      floor.tpm->restart_count == tuple->restart_count && tuple->clock_ms >= floor.tpm->clock_ms) {
    anchor_time_ += Credit(Duration(static_cast<int64_t>(tuple->clock_ms - floor.tpm->clock_ms)),
                           options_.tpm_rate_tolerance_ppm);
  }
}

TimePoint TrustedTime::Now() const {
  SampleTpmIfDue(sources_.process_monotonic());
  Pending pending;
  TimePoint result;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Read under the lock, so that readings are applied in the order they were taken: a
    // reading from before a set-back cannot end the episode the set-back opened.
    const Duration process_now = sources_.process_monotonic();
    const TimePoint wall = sources_.wall();
    const Duration source_now = SourceNowLocked(process_now);
    const Duration elapsed = std::max(Duration(0), source_now - anchor_source_);
    const TimePoint expected_full = anchor_time_ + elapsed;
    const TimePoint expected =
        anchor_time_ + (source_ == TimeSource::kTpmClock
                            ? Credit(elapsed, options_.tpm_rate_tolerance_ppm)
                            : elapsed);
    if (wall > expected_full + options_.forward_threshold) {
      // At the first reading the gap since the floor is downtime, not a jump.
      if (first_reading_done_) {
        pending.jump =
            ClockJump{expected_full, wall, JumpDirection::kForward, wall - expected_full};
      }
      behind_episode_ = false;
      result = wall;
    } else {
      result = std::max(wall, expected);
      if (result - wall > options_.backward_threshold) {
        if (!behind_episode_) {
          pending.jump = ClockJump{result, wall, JumpDirection::kBackward, result - wall};
          behind_episode_ = true;
        }
      } else {
        behind_episode_ = false;
      }
    }
    if (pending.jump) last_jump_ = pending.jump;
    first_reading_done_ = true;
    anchor_time_ = result;
    anchor_source_ = std::max(anchor_source_, source_now);
    anchor_process_ = std::max(anchor_process_, process_now);
  }
  Deliver(pending);
  return result;
}

Duration TrustedTime::SourceNowLocked(Duration process_now) const {
  if (source_ != TimeSource::kTpmClock) return process_now;
  // Between samples the TPM clock is carried forward on the process clock from the moment
  // of the last good sample. Holding it still instead would let each reading anchor on the
  // wall clock and then count the sample-to-sample TPM interval again on top of it, running
  // up to one sample interval ahead. The next sample replaces the estimate; a TPM slower
  // than the estimate only holds trusted time still for a moment (the source never goes
  // back: anchor_source_ is a high-water mark).
  const Duration since_sample = std::max(Duration(0), process_now - tpm_good_at_);
  return Duration(static_cast<int64_t>(tpm_last_.clock_ms)) + since_sample;
}

void TrustedTime::SampleTpmIfDue(Duration process_now) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (source_ != TimeSource::kTpmClock || tpm_sampling_ ||
        process_now - tpm_last_sampled_at_ < options_.tpm_sample_interval) {
      return;
    }
    tpm_sampling_ = true;
  }
  // The device is read without the lock: other callers keep using the latest sample.
  Result<hsm::ClockTuple> tuple = sources_.tpm();
  const Duration read_at = std::max(process_now, sources_.process_monotonic());
  Pending pending;
  {
    std::lock_guard<std::mutex> lock(mu_);
    tpm_sampling_ = false;
    tpm_last_sampled_at_ = std::max(tpm_last_sampled_at_, process_now);
    if (!tuple.ok()) {
      // A full queue is load, not a fault: keep the last sample and try again later.
      if (hsm::HsmErrorOf(tuple.status()) != hsm::HsmError::kBusy) {
        FallBackLocked("TPM clock read failed: " + tuple.status().ToString(), pending);
      }
    } else if (std::string problem = TpmReadingProblem(tpm_first_, tpm_last_, *tuple);
               !problem.empty()) {
      FallBackLocked(std::move(problem), pending);
    } else {
      tpm_last_ = *tuple;
      tpm_good_at_ = std::max(tpm_good_at_, read_at);
    }
  }
  Deliver(pending);
}

void TrustedTime::FallBackLocked(std::string reason, Pending& pending) const {
  // Keep the TPM time measured up to the last good sample, then count on the process clock
  // from the later of that sample and the last reading: no interval is counted twice.
  const Duration last_good = Duration(static_cast<int64_t>(tpm_last_.clock_ms));
  anchor_time_ +=
      Credit(std::max(Duration(0), last_good - anchor_source_), options_.tpm_rate_tolerance_ppm);
  anchor_source_ = std::max(anchor_process_, tpm_good_at_);
  source_ = TimeSource::kProcessMonotonic;
  fallback_reason_ = reason;
  pending.fallback = std::move(reason);
}

void TrustedTime::Deliver(Pending& pending) const {
  if (pending.fallback && observer_.on_fallback) observer_.on_fallback(*pending.fallback);
  if (pending.jump && observer_.on_jump) observer_.on_jump(*pending.jump);
}

TimeSource TrustedTime::source() const {
  std::lock_guard<std::mutex> lock(mu_);
  return source_;
}

std::string TrustedTime::fallback_reason() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fallback_reason_;
}

bool TrustedTime::wall_clock_behind() const {
  std::lock_guard<std::mutex> lock(mu_);
  return behind_episode_;
}

std::optional<ClockJump> TrustedTime::last_jump() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_jump_;
}

}  // namespace tessera::trust
