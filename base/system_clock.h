// The one implementation of Clock that reads the operating system's clocks.
#pragma once

#include "base/time.h"

namespace tessera {

// Wall-clock time from the OS (CLOCK_REALTIME). Thread-safe.
class SystemClock final : public Clock {
 public:
  TimePoint Now() const override;
};

// Returns a process-wide SystemClock.
const Clock& RealClock();

// Milliseconds on a monotonic clock (CLOCK_MONOTONIC) with an arbitrary origin: for
// measuring elapsed time and scheduling, never for judging expiry.
Duration MonotonicNow();

}  // namespace tessera
