// Pure helpers of the tessera-client CLI: duration parsing and the exit-code table
// (docs/CLIENT.md, "Exit codes").
#pragma once

#include <string_view>

#include "base/status.h"
#include "base/time.h"
#include "tessera/client.h"

namespace tessera::client::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;          // anything not listed below
inline constexpr int kExitUsage = 2;          // bad command line
inline constexpr int kExitUnreachable = 3;    // cannot reach any server
inline constexpr int kExitTimeout = 4;        // a server did not answer in time
inline constexpr int kExitLeaseLost = 5;      // a held lease was lost or revoked
inline constexpr int kExitNotReleased = 6;    // checkin: the server did not hold that lease
inline constexpr int kExitTokenRejected = 7;  // checkout: the lease token failed verification
inline constexpr int kExitDenialBase = 10;    // checkout denied: 10 + DenialReason number

// "90" (seconds), "1500ms", "90s", "15m", "2h", "7d". Errors: kInvalidArgument.
Result<Duration> ParseDuration(std::string_view text);

int ExitCodeForDenial(DenialReason reason);
int ExitCodeForStatus(const Status& status);

}  // namespace tessera::client::cli
