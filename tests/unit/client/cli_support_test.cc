#include "client/cli/cli_support.h"

#include <gtest/gtest.h>

#include <set>

namespace tessera::client::cli {
namespace {

TEST(ParseDurationTest, Units) {
  EXPECT_EQ(*ParseDuration("90"), Duration(90'000));
  EXPECT_EQ(*ParseDuration("1500ms"), Duration(1500));
  EXPECT_EQ(*ParseDuration("90s"), Duration(90'000));
  EXPECT_EQ(*ParseDuration("15m"), Duration(900'000));
  EXPECT_EQ(*ParseDuration("2h"), Duration(7'200'000));
  EXPECT_EQ(*ParseDuration("7d"), Duration(604'800'000));
}

TEST(ParseDurationTest, RejectsGarbage) {
  for (const char* bad : {"", "s", "-1s", "5w", "1.5h", "99999999999999999999d"}) {
    EXPECT_FALSE(ParseDuration(bad).ok()) << bad;
  }
}

TEST(ExitCodeTest, EveryDenialHasItsOwnCodeApartFromTheOthers) {
  std::set<int> codes = {kExitOk,      kExitError,     kExitUsage,       kExitUnreachable,
                         kExitTimeout, kExitLeaseLost, kExitNotReleased, kExitTokenRejected};
  const size_t fixed = codes.size();
  for (int i = 0; i <= kMaxDenialReason; ++i) {
    const int code = ExitCodeForDenial(static_cast<DenialReason>(i));
    EXPECT_LT(code, 126) << "shells reserve 126 and above";
    codes.insert(code);
  }
  EXPECT_EQ(codes.size(), fixed + kMaxDenialReason + 1);
  EXPECT_EQ(ExitCodeForDenial(DenialReason::kNoSeats), 12);
  EXPECT_EQ(ExitCodeForDenial(DenialReason::kNoSuchFeature), 11);
}

TEST(ExitCodeTest, TransportFailures) {
  EXPECT_EQ(ExitCodeForStatus(Unavailable("x")), kExitUnreachable);
  EXPECT_EQ(ExitCodeForStatus(DeadlineExceeded("x")), kExitTimeout);
  EXPECT_EQ(ExitCodeForStatus(Internal("x")), kExitError);
  EXPECT_EQ(ExitCodeForStatus(Status::Ok()), kExitOk);
}

TEST(ExitCodeTest, ARejectedTokenHasItsOwnCode) {
  const Status rejected(StatusCode::kPermissionDenied,
                        "token rejected: audit.bad_certificate_signature: not our vendor");
  EXPECT_EQ(ExitCodeForStatus(rejected), kExitTokenRejected);
  EXPECT_EQ(kExitTokenRejected, 7);
  // Another permission error is not a token rejection.
  EXPECT_EQ(ExitCodeForStatus(PermissionDenied("x")), kExitError);
}

}  // namespace
}  // namespace tessera::client::cli
