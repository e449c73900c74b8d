// The only file in the product that reads the real clock (scripts/check_layering.py).
#include "base/system_clock.h"

namespace tessera {

TimePoint SystemClock::Now() const {
  return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
}

const Clock& RealClock() {
  static const SystemClock clock;
  return clock;
}

Duration MonotonicNow() {
  return std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now().time_since_epoch());
}

}  // namespace tessera
