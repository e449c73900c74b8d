// TrustedTime on fake clocks: the wall clock, the process monotonic clock and a TPM clock
// tuple are values the test moves by hand.
#include "server/time/trusted_time.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "hsm/hsm_error.h"

namespace tessera::trust {
namespace {

Floor AtFloor(TimePoint t) { return Floor{t, std::nullopt}; }

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::HasSubstr;

const TimePoint kT0 = FromUnixMillis(1'767'225'600'000);  // 2026-01-01T00:00Z
constexpr Duration kWeek = hours(24 * 7);

// Clocks moved by the test. Atomic so that concurrent readers see a consistent value.
struct FakeClocks {
  std::atomic<int64_t> wall_ms{ToUnixMillis(kT0)};
  std::atomic<int64_t> mono_ms{1'000'000};
  std::atomic<uint64_t> tpm_ms{5'000'000};
  std::atomic<uint32_t> tpm_resets{7};
  std::atomic<bool> tpm_safe{true};
  std::atomic<int> tpm_reads{0};
  std::optional<Status> tpm_error;  // set only while no reader runs

  // Real time passing: every clock advances by `d`.
  void Elapse(Duration d) {
    wall_ms += d.count();
    mono_ms += d.count();
    tpm_ms += static_cast<uint64_t>(d.count());
  }
  void SetWall(TimePoint t) { wall_ms = ToUnixMillis(t); }
  TimePoint wall() const { return FromUnixMillis(wall_ms.load()); }

  TimeSources Sources(bool with_tpm) {
    TimeSources s;
    s.wall = [this] { return FromUnixMillis(wall_ms.load()); };
    s.process_monotonic = [this] { return Duration(mono_ms.load()); };
    if (with_tpm) {
      s.tpm = [this]() -> Result<hsm::ClockTuple> {
        ++tpm_reads;
        if (tpm_error) return *tpm_error;
        hsm::ClockTuple t;
        t.clock_ms = tpm_ms.load();
        t.reset_count = tpm_resets.load();
        t.restart_count = 2;
        t.safe = tpm_safe.load();
        return t;
      };
    }
    return s;
  }
};

// Records what the observer is told.
struct Recorder {
  std::vector<ClockJump> jumps;
  std::vector<std::string> fallbacks;
  TrustedTimeObserver Observer() {
    return {.on_jump = [this](const ClockJump& j) { jumps.push_back(j); },
            .on_fallback = [this](std::string_view r) { fallbacks.emplace_back(r); }};
  }
};

TrustedTimeOptions ExactTpm() {
  TrustedTimeOptions o;
  o.tpm_rate_tolerance_ppm = 0;
  o.tpm_sample_interval = Duration(0);
  return o;
}

TEST(TrustedTimeTest, FollowsACorrectWallClock) {
  FakeClocks c;
  Recorder r;
  TrustedTime t(c.Sources(false), AtFloor(kT0 - hours(1)), {}, r.Observer());
  EXPECT_EQ(t.Now(), kT0);
  c.Elapse(seconds(90));
  EXPECT_EQ(t.Now(), kT0 + seconds(90));
  EXPECT_EQ(t.source(), TimeSource::kProcessMonotonic);
  EXPECT_TRUE(r.jumps.empty());
}

TEST(TrustedTimeTest, ClockSetBackAWeekDoesNotMoveTrustedTimeBackAndReportsOnce) {
  FakeClocks c;
  Recorder r;
  TrustedTime t(c.Sources(false), AtFloor(kT0 - hours(1)), {}, r.Observer());
  c.Elapse(minutes(1));
  const TimePoint before = t.Now();
  ASSERT_EQ(before, kT0 + minutes(1));

  c.SetWall(c.wall() - kWeek);
  EXPECT_EQ(t.Now(), before);
  c.Elapse(seconds(30));
  EXPECT_EQ(t.Now(), before + seconds(30)) << "advances with the monotonic clock";
  for (int i = 0; i < 100; ++i) {
    c.Elapse(seconds(1));
    EXPECT_EQ(t.Now(), before + seconds(31 + i));
  }
  ASSERT_EQ(r.jumps.size(), 1u) << "one report per episode";
  EXPECT_EQ(r.jumps[0].direction, JumpDirection::kBackward);
  EXPECT_EQ(r.jumps[0].from, before);
  EXPECT_EQ(r.jumps[0].to, before - kWeek);
  EXPECT_EQ(r.jumps[0].delta, kWeek);
  EXPECT_THAT(r.jumps[0].Describe(), HasSubstr("backward by 604800.000 s"));
  EXPECT_TRUE(t.wall_clock_behind());

  // The admin fixes the clock: the episode ends quietly; a second set-back is a new episode.
  c.SetWall(t.Now());
  EXPECT_EQ(t.Now(), c.wall());
  EXPECT_FALSE(t.wall_clock_behind());
  EXPECT_EQ(r.jumps.size(), 1u);
  c.SetWall(c.wall() - hours(2));
  t.Now();
  EXPECT_EQ(r.jumps.size(), 2u);
}

TEST(TrustedTimeTest, ForwardJumpIsFollowedAndReportedOnce) {
  FakeClocks c;
  Recorder r;
  TrustedTime t(c.Sources(false), AtFloor(kT0), {}, r.Observer());
  EXPECT_EQ(t.Now(), kT0);
  c.Elapse(seconds(10));
  c.SetWall(c.wall() + hours(3));
  EXPECT_EQ(t.Now(), kT0 + seconds(10) + hours(3));
  c.Elapse(seconds(10));
  EXPECT_EQ(t.Now(), kT0 + seconds(20) + hours(3));
  ASSERT_EQ(r.jumps.size(), 1u);
  EXPECT_EQ(r.jumps[0].direction, JumpDirection::kForward);
  EXPECT_EQ(r.jumps[0].from, kT0 + seconds(10));
  EXPECT_EQ(r.jumps[0].delta, hours(3));
  EXPECT_EQ(t.last_jump()->direction, JumpDirection::kForward);

  // Setting it back afterwards is a backward jump: trusted time never decreases.
  const TimePoint high = t.Now();
  c.SetWall(c.wall() - hours(3));
  EXPECT_EQ(t.Now(), high);
  ASSERT_EQ(r.jumps.size(), 2u);
  EXPECT_EQ(r.jumps[1].direction, JumpDirection::kBackward);
}

TEST(TrustedTimeTest, NtpSizedStepsAndSlewsAreNotReported) {
  FakeClocks c;
  Recorder r;
  TrustedTime t(c.Sources(false), AtFloor(kT0 - minutes(1)), {}, r.Observer());
  TimePoint last = t.Now();
  // A 2-minute step back: trusted time holds, then runs on; not reported.
  c.SetWall(c.wall() - minutes(2));
  EXPECT_EQ(t.Now(), last);
  c.Elapse(seconds(5));
  EXPECT_EQ(t.Now(), last + seconds(5));
  // A 40-minute step forward is followed silently.
  c.SetWall(c.wall() + minutes(40));
  EXPECT_EQ(t.Now(), c.wall());
  // A slew: the wall clock gains or loses 500 ppm for a day, read every minute.
  last = t.Now();
  for (int i = 0; i < 24 * 60; ++i) {
    c.mono_ms += 60'000;
    c.wall_ms += (i % 2 == 0) ? 60'030 : 59'970;
    const TimePoint now = t.Now();
    ASSERT_GE(now, last);
    last = now;
  }
  EXPECT_TRUE(r.jumps.empty());
  EXPECT_FALSE(t.last_jump().has_value());
}

TEST(TrustedTimeTest, FloorWinsAtStartAfterClockSetBackBeforeRestart) {
  FakeClocks c;
  Recorder r;
  const TimePoint floor = kT0 + kWeek;  // the last block was signed a week "ahead"
  TrustedTime t(c.Sources(false), AtFloor(floor), {}, r.Observer());
  EXPECT_EQ(t.Now(), floor);
  ASSERT_EQ(r.jumps.size(), 1u);
  EXPECT_EQ(r.jumps[0].direction, JumpDirection::kBackward);
  EXPECT_EQ(r.jumps[0].from, floor);
  EXPECT_EQ(r.jumps[0].to, kT0);
  c.Elapse(seconds(42));
  EXPECT_EQ(t.Now(), floor + seconds(42));
  EXPECT_EQ(r.jumps.size(), 1u);
}

TEST(TrustedTimeTest, DowntimeSinceTheFloorIsNotAForwardJump) {
  FakeClocks c;
  Recorder r;
  TrustedTime t(c.Sources(false), AtFloor(kT0 - hours(24 * 3)), {}, r.Observer());
  EXPECT_EQ(t.Now(), kT0);
  c.Elapse(seconds(1));
  EXPECT_EQ(t.Now(), kT0 + seconds(1));
  EXPECT_TRUE(r.jumps.empty());
  c.SetWall(c.wall() + hours(2));  // a jump during the run is reported
  t.Now();
  ASSERT_EQ(r.jumps.size(), 1u);
  EXPECT_EQ(r.jumps[0].direction, JumpDirection::kForward);
}

TEST(TrustedTimeTest, FloorSlightlyAheadAtStartIsNotAJump) {
  FakeClocks c;
  Recorder r;
  TrustedTime t(c.Sources(false), AtFloor(kT0 + seconds(3)), {}, r.Observer());
  EXPECT_EQ(t.Now(), kT0 + seconds(3));
  EXPECT_TRUE(r.jumps.empty());
}

TEST(TrustedTimeTest, AdvancesWithTheTpmClockWhileTheWallClockIsBehind) {
  FakeClocks c;
  Recorder r;
  TrustedTime t(c.Sources(true), AtFloor(kT0), ExactTpm(), r.Observer());
  EXPECT_EQ(t.source(), TimeSource::kTpmClock);
  EXPECT_EQ(t.Now(), kT0);
  c.SetWall(kT0 - kWeek);
  // Only the TPM moves: trusted time follows the TPM, not the process clock.
  c.tpm_ms += 60'000;
  EXPECT_EQ(t.Now(), kT0 + seconds(60));
  c.mono_ms += 3'600'000;
  EXPECT_EQ(t.Now(), kT0 + seconds(60));
  EXPECT_EQ(r.jumps.size(), 1u);
  EXPECT_TRUE(r.fallbacks.empty());
}

TEST(TrustedTimeTest, TpmIsReadAtMostOncePerSampleInterval) {
  FakeClocks c;
  TrustedTimeOptions o = ExactTpm();
  o.tpm_sample_interval = seconds(1);
  TrustedTime t(c.Sources(true), AtFloor(kT0), o);
  const int after_start = c.tpm_reads.load();
  EXPECT_EQ(after_start, 1);
  for (int i = 0; i < 100; ++i) {
    c.Elapse(milliseconds(5));
    t.Now();
  }
  EXPECT_EQ(c.tpm_reads.load(), 1) << "500 ms elapsed: no sample due yet";
  c.Elapse(milliseconds(600));
  t.Now();
  EXPECT_EQ(c.tpm_reads.load(), 2);
}

TEST(TrustedTimeTest, SampledTpmClockDoesNotRunAheadOfACorrectWallClock) {
  // Default options: the TPM is read once a second while readers ask every 10 ms, and all
  // three clocks run at the same rate. Trusted time must stay on the wall clock; counting
  // each sample-to-sample TPM interval on top of the wall clock would run ahead by up to a
  // second.
  FakeClocks c;
  Recorder r;
  TrustedTime t(c.Sources(true), AtFloor(kT0 - hours(1)), {}, r.Observer());
  ASSERT_EQ(t.source(), TimeSource::kTpmClock);
  for (int i = 0; i < 1000; ++i) {
    c.Elapse(milliseconds(10));
    ASSERT_EQ(t.Now(), c.wall()) << "after " << (i + 1) * 10 << " ms";
  }
  EXPECT_GE(c.tpm_reads.load(), 10);
  EXPECT_TRUE(r.jumps.empty());
}

TEST(TrustedTimeTest, TpmResetFallsBackToTheProcessClockAndSaysSo) {
  FakeClocks c;
  Recorder r;
  TrustedTime t(c.Sources(true), AtFloor(kT0), ExactTpm(), r.Observer());
  c.Elapse(seconds(10));
  const TimePoint before = t.Now();
  EXPECT_EQ(before, kT0 + seconds(10));
  c.SetWall(kT0 - kWeek);
  c.tpm_resets = 8;
  c.tpm_ms = 100;  // a reset TPM counts from zero again
  c.mono_ms += 20'000;
  EXPECT_EQ(t.Now(), before + seconds(20));
  EXPECT_EQ(t.source(), TimeSource::kProcessMonotonic);
  ASSERT_EQ(r.fallbacks.size(), 1u);
  EXPECT_THAT(r.fallbacks[0], HasSubstr("reset count changed from 7 to 8"));
  EXPECT_EQ(t.fallback_reason(), r.fallbacks[0]);
  c.mono_ms += 5'000;
  EXPECT_EQ(t.Now(), before + seconds(25));
  EXPECT_EQ(r.fallbacks.size(), 1u);
}

TEST(TrustedTimeTest, UnsafeTpmClockAtStartFallsBackFromTheStart) {
  FakeClocks c;
  c.tpm_safe = false;
  Recorder r;
  TrustedTime t(c.Sources(true), AtFloor(kT0), ExactTpm(), r.Observer());
  EXPECT_EQ(t.source(), TimeSource::kProcessMonotonic);
  ASSERT_EQ(r.fallbacks.size(), 1u);
  EXPECT_THAT(r.fallbacks[0], HasSubstr("not safe"));
  c.Elapse(seconds(1));
  EXPECT_EQ(t.Now(), kT0 + seconds(1));
  EXPECT_EQ(c.tpm_reads.load(), 1) << "a fallen-back clock no longer reads the TPM";
}

TEST(TrustedTimeTest, TpmClockGoingBackFallsBack) {
  FakeClocks c;
  Recorder r;
  TrustedTime t(c.Sources(true), AtFloor(kT0), ExactTpm(), r.Observer());
  c.Elapse(seconds(5));
  t.Now();
  c.tpm_ms -= 3'000;
  c.mono_ms += 1;
  t.Now();
  ASSERT_EQ(r.fallbacks.size(), 1u);
  EXPECT_THAT(r.fallbacks[0], HasSubstr("went backwards"));
}

TEST(TrustedTimeTest, TpmReadFailureFallsBackButBusyDoesNot) {
  FakeClocks c;
  Recorder r;
  TrustedTime t(c.Sources(true), AtFloor(kT0), ExactTpm(), r.Observer());
  c.tpm_error = hsm::MakeHsmError(hsm::HsmError::kBusy, "queue full");
  c.Elapse(seconds(1));
  t.Now();
  EXPECT_EQ(t.source(), TimeSource::kTpmClock);
  c.tpm_error = hsm::MakeHsmError(hsm::HsmError::kDeviceGone, "connection lost");
  c.Elapse(seconds(1));
  EXPECT_EQ(t.Now(), kT0 + seconds(2));
  EXPECT_EQ(t.source(), TimeSource::kProcessMonotonic);
  ASSERT_EQ(r.fallbacks.size(), 1u);
  EXPECT_THAT(r.fallbacks[0], HasSubstr("hsm.device_gone"));
}

TEST(TrustedTimeTest, FloorCreditsTpmTimeSinceTheBlockWithoutReset) {
  FakeClocks c;
  c.SetWall(kT0 - kWeek);
  hsm::ClockTuple block{.clock_ms = 4'000'000, .reset_count = 7, .restart_count = 2, .safe = true};
  TrustedTime same(c.Sources(true), Floor{kT0, block}, ExactTpm());
  EXPECT_EQ(same.Now(), kT0 + milliseconds(1'000'000));

  block.reset_count = 6;  // the TPM was reset since: its clock says nothing about the gap
  TrustedTime reset(c.Sources(true), Floor{kT0, block}, ExactTpm());
  EXPECT_EQ(reset.Now(), kT0);
}

TEST(TrustedTimeTest, SlightlyFastTpmDoesNotRunAheadOfACorrectWallClock) {
  FakeClocks c;
  Recorder r;
  TrustedTimeOptions o;
  o.tpm_sample_interval = Duration(0);  // default 1% tolerance
  TrustedTime t(c.Sources(true), AtFloor(kT0), o, r.Observer());
  // A week with a TPM 0.5% fast, read every minute.
  for (int i = 0; i < 7 * 24 * 60; ++i) {
    c.Elapse(minutes(1));
    c.tpm_ms += 300;
    ASSERT_EQ(t.Now(), c.wall());
  }
  EXPECT_TRUE(r.jumps.empty());
}

TEST(TrustedTimeTest, ToleranceCreditsLessTpmTimeAfterASetBack) {
  FakeClocks c;
  TrustedTimeOptions o;
  o.tpm_sample_interval = Duration(0);
  o.tpm_rate_tolerance_ppm = 10'000;
  TrustedTime t(c.Sources(true), AtFloor(kT0), o);
  t.Now();
  c.SetWall(kT0 - kWeek);
  c.tpm_ms += 100'000;
  EXPECT_EQ(t.Now(), kT0 + milliseconds(99'000));
}

TEST(TrustedTimeTest, ConcurrentReadersNeverSeeTimeGoBackAndOneJumpIsReported) {
  FakeClocks c;
  std::atomic<int> jumps{0};
  TrustedTime t(c.Sources(true), AtFloor(kT0), {},
                {.on_jump = [&](const ClockJump&) { ++jumps; }, .on_fallback = {}});
  std::atomic<bool> stop{false};
  std::atomic<bool> went_back{false};
  std::vector<std::thread> readers;
  for (int i = 0; i < 4; ++i) {
    readers.emplace_back([&] {
      TimePoint last = t.Now();
      while (!stop.load()) {
        const TimePoint now = t.Now();
        if (now < last) went_back = true;
        last = now;
      }
    });
  }
  for (int i = 0; i < 2000; ++i) c.Elapse(milliseconds(7));
  c.SetWall(c.wall() - kWeek);
  for (int i = 0; i < 2000; ++i) c.Elapse(milliseconds(7));
  t.Now();
  stop = true;
  for (auto& th : readers) th.join();
  EXPECT_FALSE(went_back.load());
  EXPECT_EQ(jumps.load(), 1);
}

}  // namespace
}  // namespace tessera::trust
