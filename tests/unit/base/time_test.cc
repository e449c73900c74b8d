#include "base/time.h"

#include <gtest/gtest.h>

namespace tessera {
namespace {

TEST(TimeTest, FormatsUtcWithMillis) {
  EXPECT_EQ(FormatTime(FromUnixMillis(0)), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatTime(FromUnixMillis(1'767'225'600'123)), "2026-01-01T00:00:00.123Z");
}

TEST(TimeTest, FakeClockMovesOnlyWhenTold) {
  FakeClock clock(FromUnixMillis(1000));
  EXPECT_EQ(ToUnixMillis(clock.Now()), 1000);
  clock.Advance(Seconds(2));
  EXPECT_EQ(ToUnixMillis(clock.Now()), 3000);
}

}  // namespace
}  // namespace tessera
