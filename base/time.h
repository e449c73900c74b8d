// Time as a value: Unix-epoch milliseconds, and the Clock seam.
//
// No code reads the real clock except base/system_clock.cc (enforced by
// scripts/check_layering.py). Everything else receives a Clock or a TimePoint.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace tessera {

using Duration = std::chrono::milliseconds;
using TimePoint = std::chrono::sys_time<Duration>;  // milliseconds since the Unix epoch, UTC

inline int64_t ToUnixMillis(TimePoint t) { return t.time_since_epoch().count(); }
inline TimePoint FromUnixMillis(int64_t ms) { return TimePoint(Duration(ms)); }
inline Duration Seconds(int64_t s) { return std::chrono::seconds(s); }

// "2026-12-03T16:44:40.123Z".
std::string FormatTime(TimePoint t);

// A source of wall-clock time.
// Thread safety: implementations are safe to call from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

// A clock that only moves when told to. For tests and deterministic simulation.
// Thread safety: not thread-safe; use from one thread.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start = FromUnixMillis(1'767'225'600'000))  // 2026-01-01T00:00Z
      : now_(start) {}
  TimePoint Now() const override { return now_; }
  void Advance(Duration d) { now_ += d; }
  void Set(TimePoint t) { now_ = t; }

 private:
  TimePoint now_;
};

}  // namespace tessera
