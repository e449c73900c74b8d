// Trusted time and rollback detection against a real TPM: one swtpm child process per test,
// its NV counter and its clock. swtpm serves one connection at a time, so each "daemon run"
// opens the store, does its work and closes it before the next opens.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>

#include "base/system_clock.h"
#include "hsm/hsm_error.h"
#include "hsm/key_store.h"
#include "hsm/provision.h"
#include "server/time/rollback.h"
#include "server/time/trusted_time.h"
#include "tests/integration/hsm/hsm_test_env.h"
#include "tests/unit/server/counter_file.h"

namespace tessera::trust {
namespace {

Floor AtFloor(TimePoint t) { return Floor{t, std::nullopt}; }

using testing::CopyFile;
using testing::FileCounterRecord;
using ::testing::HasSubstr;

class TrustTpmTest : public ::testing::Test {
 protected:
  TrustTpmTest() : swtpm_(dir_.path() + "/tpm") { swtpm_.Start(); }

  // Identity key and NV counter, as `tessera provision` makes them. Closing the store sends
  // TPM2_Shutdown, so later kills of this simulator count as orderly power-offs: the clock
  // tests do not provision.
  void Provision() {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    auto p = hsm::Provision(*store, {});
    ASSERT_TRUE(p.ok()) << p.status().ToString();
  }

  std::unique_ptr<hsm::KeyStore> Open() {
    auto store = hsm::OpenKeyStore("tpm:tcti=" + swtpm_.tcti(), {});
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  std::string Db() const { return dir_.path() + "/db.counter"; }

  // One daemon run's counter step (startup, shutdown or export).
  RollbackVerdict Advance() {
    auto store = Open();
    if (store == nullptr) return {};
    FileCounterRecord record(Db());
    RollbackGuard guard(*store, record);
    auto v = guard.CheckAndAdvance();
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? *v : RollbackVerdict{};
  }

  uint64_t DeviceValue() {
    auto store = Open();
    auto v = store->ReadCounter();
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? *v : 0;
  }

  hsm::testing::TempDir dir_;
  hsm::testing::Swtpm swtpm_;
};

TEST_F(TrustTpmTest, FreshRestartRestoreAcceptAndCleanStart) {
  Provision();
  RollbackVerdict fresh = Advance();
  EXPECT_EQ(fresh.state, RollbackState::kOk) << fresh.explanation;
  EXPECT_FALSE(fresh.database_value.has_value());
  EXPECT_TRUE(fresh.hardware_counter);
  ASSERT_TRUE(fresh.advanced_to.has_value());
  EXPECT_EQ(*fresh.advanced_to, *fresh.device_value + 1);

  RollbackVerdict restart = Advance();  // normal restart
  EXPECT_EQ(restart.state, RollbackState::kOk) << restart.explanation;
  EXPECT_EQ(restart.database_value, fresh.advanced_to);

  CopyFile(Db(), dir_.path() + "/snapshot");       // VM snapshot during the run
  ASSERT_EQ(Advance().state, RollbackState::kOk);  // orderly shutdown
  swtpm_.Stop();                                   // the machine is switched off
  swtpm_.Start();
  CopyFile(dir_.path() + "/snapshot", Db());  // snapshot restored

  const uint64_t device = DeviceValue();
  {
    auto store = Open();
    FileCounterRecord record(Db());
    RollbackGuard guard(*store, record);
    auto v = guard.CheckAndAdvance();
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    EXPECT_EQ(v->state, RollbackState::kRolledBack);
    EXPECT_EQ(v->database_value, restart.advanced_to);
    EXPECT_EQ(v->device_value, device);
    EXPECT_THAT(v->explanation, HasSubstr("ROLLBACK"));

    auto accepted = guard.AcceptRollback("admin@example.com");
    ASSERT_TRUE(accepted.ok()) << accepted.status().ToString();
    EXPECT_EQ(accepted->description, "rollback accepted from " +
                                         std::to_string(*restart.advanced_to) + " to " +
                                         std::to_string(device) + " by admin@example.com");
  }
  RollbackVerdict clean = Advance();
  EXPECT_EQ(clean.state, RollbackState::kOk) << clean.explanation;
  EXPECT_EQ(clean.advanced_to, device + 1);
  EXPECT_EQ(DeviceValue(), device + 1);
}

TEST_F(TrustTpmTest, PowerCutBetweenSaveAndIncrementIsNotARollback) {
  Provision();
  ASSERT_EQ(Advance().state, RollbackState::kOk);
  const uint64_t device = DeviceValue();
  {
    auto store = Open();
    FileCounterRecord record(Db());
    record.after_save = [this] { swtpm_.KillHard(); };  // the power goes right after the save
    RollbackGuard guard(*store, record);
    auto v = guard.CheckAndAdvance();
    EXPECT_EQ(hsm::HsmErrorOf(v.status()), hsm::HsmError::kDeviceGone) << v.status().ToString();
  }
  swtpm_.Start();
  EXPECT_EQ(DeviceValue(), device) << "the increment never reached the TPM";

  RollbackVerdict v = Advance();
  EXPECT_EQ(v.state, RollbackState::kOk) << v.explanation;
  EXPECT_EQ(v.database_value, device + 1);
  EXPECT_EQ(v.device_value, device);
  EXPECT_EQ(v.advanced_to, device + 1);
  EXPECT_EQ(Advance().state, RollbackState::kOk);
}

TEST_F(TrustTpmTest, TrustedTimeRunsOnTheTpmClock) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  TimeSources sources = RealSources(store.get());
  ASSERT_TRUE(static_cast<bool>(sources.tpm)) << "the TPM store has a trusted clock";
  // A wall clock stuck a week in the past: only the TPM clock can move trusted time.
  const TimePoint floor = RealClock().Now();
  sources.wall = [floor] { return floor - std::chrono::hours(24 * 7); };
  auto first = store->ReadClock();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = store->ReadClock();
  ASSERT_TRUE(second.ok());

  int jumps = 0;
  TrustedTimeOptions o;
  o.tpm_sample_interval = Duration(0);
  o.tpm_rate_tolerance_ppm = 0;
  TrustedTime t(sources, Floor{floor, *first}, o,
                {.on_jump = [&](const ClockJump&) { ++jumps; }, .on_fallback = {}});
  EXPECT_EQ(t.source(), TimeSource::kTpmClock);
  const TimePoint start = t.Now();
  EXPECT_GE(start, floor + Duration(static_cast<int64_t>(second->clock_ms - first->clock_ms)))
      << "the TPM time since the floor's block is credited";
  auto later = store->ReadClock();
  ASSERT_TRUE(later.ok());
  const TimePoint now = t.Now();
  EXPECT_GE(now, floor + Duration(static_cast<int64_t>(later->clock_ms - first->clock_ms)));
  EXPECT_EQ(jumps, 1) << "the wall clock a week behind is one backward jump";
}

TEST_F(TrustTpmTest, TpmPowerLossFallsBackToTheProcessClock) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  std::vector<std::string> fallbacks;
  TrustedTimeOptions o;
  o.tpm_sample_interval = Duration(0);
  TrustedTime t(
      RealSources(store.get()), AtFloor(RealClock().Now()), o,
      {.on_jump = {}, .on_fallback = [&](std::string_view r) { fallbacks.emplace_back(r); }});
  ASSERT_EQ(t.source(), TimeSource::kTpmClock);
  const TimePoint before = t.Now();

  swtpm_.KillHard();  // power lost
  // The next read fails: the TPM clock is no longer a measure of elapsed time.
  const TimePoint after = t.Now();
  EXPECT_GE(after, before);
  EXPECT_EQ(t.source(), TimeSource::kProcessMonotonic);
  ASSERT_EQ(fallbacks.size(), 1u);
  EXPECT_THAT(fallbacks[0], HasSubstr("hsm.device_gone"));
  EXPECT_EQ(t.fallback_reason(), fallbacks[0]);
  EXPECT_GE(t.Now(), after);
  store.reset();

  // Power back: a new start after the unclean TPM restart finds the clock reading unsafe.
  swtpm_.Start();
  auto reopened = Open();
  ASSERT_NE(reopened, nullptr);
  std::string reason;
  TrustedTime restarted(RealSources(reopened.get()), AtFloor(after), {},
                        {.on_jump = {}, .on_fallback = [&](std::string_view r) { reason = r; }});
  EXPECT_EQ(restarted.source(), TimeSource::kProcessMonotonic);
  EXPECT_THAT(reason, HasSubstr("not safe"));
  EXPECT_GE(restarted.Now(), after);
}

}  // namespace
}  // namespace tessera::trust
