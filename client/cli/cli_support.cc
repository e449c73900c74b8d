#include "client/cli/cli_support.h"

#include <charconv>
#include <limits>
#include <string>

namespace tessera::client::cli {

Result<Duration> ParseDuration(std::string_view text) {
  const std::string quoted = "\"" + std::string(text) + "\"";
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end == text.data() || value < 0) {
    return InvalidArgument("duration " + quoted + " is not a non-negative number with a unit");
  }
  const std::string_view unit(end, static_cast<size_t>(text.data() + text.size() - end));
  int64_t millis_per_unit = 0;
  if (unit.empty() || unit == "s") {
    millis_per_unit = 1000;
  } else if (unit == "ms") {
    millis_per_unit = 1;
  } else if (unit == "m") {
    millis_per_unit = 60'000;
  } else if (unit == "h") {
    millis_per_unit = 3'600'000;
  } else if (unit == "d") {
    millis_per_unit = 86'400'000;
  } else {
    return InvalidArgument("duration " + quoted + " has an unknown unit (ms, s, m, h, d)");
  }
  if (value > std::numeric_limits<int64_t>::max() / millis_per_unit) {
    return InvalidArgument("duration " + quoted + " is too long");
  }
  return Duration(value * millis_per_unit);
}

int ExitCodeForDenial(DenialReason reason) { return kExitDenialBase + static_cast<int>(reason); }

int ExitCodeForStatus(const Status& status) {
  if (TokenErrorOf(status)) return kExitTokenRejected;
  switch (status.code()) {
    case StatusCode::kOk:
      return kExitOk;
    case StatusCode::kUnavailable:
      return kExitUnreachable;
    case StatusCode::kDeadlineExceeded:
      return kExitTimeout;
    case StatusCode::kInvalidArgument:
      return kExitUsage;
    default:
      return kExitError;
  }
}

}  // namespace tessera::client::cli
