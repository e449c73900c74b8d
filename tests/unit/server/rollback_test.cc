// RollbackGuard with the software key store (counter file beside the key) and a "database"
// that is a counter record in a file, copied and restored like a backup.
#include "server/time/rollback.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "hsm/hsm_error.h"
#include "hsm/provision.h"
#include "tests/unit/server/counter_file.h"

namespace tessera::trust {
namespace {

using testing::CopyFile;
using testing::FaultyKeyStore;
using testing::FileCounterRecord;
using ::testing::HasSubstr;

class RollbackSoftTest : public ::testing::Test {
 protected:
  RollbackSoftTest() {
    dir_ = std::filesystem::temp_directory_path() /
           ("tessera-rollback-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  ~RollbackSoftTest() override { std::filesystem::remove_all(dir_); }

  std::string KeyUri() const { return "soft:" + (dir_ / "identity.pem").string(); }
  std::string Db() const { return (dir_ / "db.counter").string(); }

  // Opens the store as a fresh process would; provisions key and counter the first time.
  std::unique_ptr<hsm::KeyStore> OpenStore(bool provision = true) {
    auto store = hsm::OpenKeyStore(KeyUri(), {.allow_insecure = true});
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    if (!store.ok()) return nullptr;
    if (provision) {
      auto p = hsm::Provision(**store, {});
      EXPECT_TRUE(p.ok()) << p.status().ToString();
    }
    return std::move(store).value();
  }

  uint64_t DeviceValue(hsm::KeyStore& store) {
    auto v = store.ReadCounter();
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? *v : 0;
  }

  std::optional<uint64_t> RecordedValue() {
    FileCounterRecord record(Db());
    auto v = record.Load();
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? *v : std::nullopt;
  }

  // One daemon start: a new store and record, CheckAndAdvance.
  RollbackVerdict Start() {
    auto store = OpenStore();
    FileCounterRecord record(Db());
    RollbackGuard guard(*store, record);
    auto v = guard.CheckAndAdvance();
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? *v : RollbackVerdict{};
  }

  std::filesystem::path dir_;
};

TEST_F(RollbackSoftTest, FreshDatabaseIsOkAndAdvances) {
  auto store = OpenStore();
  const uint64_t c = DeviceValue(*store);
  FileCounterRecord record(Db());
  RollbackGuard guard(*store, record);
  auto v = guard.CheckAndAdvance();
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->state, RollbackState::kOk);
  EXPECT_TRUE(v->serving_allowed());
  EXPECT_FALSE(v->database_value.has_value());
  EXPECT_EQ(v->device_value, c);
  EXPECT_FALSE(v->hardware_counter) << "the soft counter is a file";
  EXPECT_EQ(v->advanced_to, c + 1);
  EXPECT_THAT(v->explanation, HasSubstr("new"));
  EXPECT_EQ(DeviceValue(*store), c + 1);
  EXPECT_EQ(RecordedValue(), c + 1);
}

TEST_F(RollbackSoftTest, NormalRestartsAreOk) {
  Start();
  for (int i = 0; i < 3; ++i) {
    RollbackVerdict v = Start();
    EXPECT_EQ(v.state, RollbackState::kOk) << v.explanation;
    EXPECT_EQ(v.database_value, v.device_value);
    EXPECT_EQ(v.advanced_to, *v.device_value + 1);
  }
}

TEST_F(RollbackSoftTest, CopyTakenDuringTheRunIsDetectedAfterOrderlyShutdown) {
  Start();
  // Running: a copy of the database is taken...
  CopyFile(Db(), (dir_ / "copy").string());
  // ...orderly shutdown advances the counter once more.
  {
    auto store = OpenStore();
    FileCounterRecord record(Db());
    RollbackGuard guard(*store, record);
    auto v = guard.CheckAndAdvance();
    ASSERT_TRUE(v.ok() && v->state == RollbackState::kOk);
  }
  auto store = OpenStore();
  const uint64_t device = DeviceValue(*store);
  CopyFile((dir_ / "copy").string(), Db());
  const uint64_t restored = *RecordedValue();

  FileCounterRecord record(Db());
  RollbackGuard guard(*store, record);
  auto v = guard.CheckAndAdvance();
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->state, RollbackState::kRolledBack);
  EXPECT_FALSE(v->serving_allowed());
  EXPECT_EQ(v->database_value, restored);
  EXPECT_EQ(v->device_value, device);
  EXPECT_EQ(restored + 1, device);
  EXPECT_FALSE(v->advanced_to.has_value());
  EXPECT_THAT(v->explanation, HasSubstr("older copy"));
  EXPECT_THAT(v->explanation, HasSubstr("docs/TRUST.md"));
  // Nothing changed: the evidence stays.
  EXPECT_EQ(DeviceValue(*store), device);
  EXPECT_EQ(RecordedValue(), restored);
  EXPECT_EQ(RollbackStateName(guard.Check()->state), "rolled_back");
}

TEST_F(RollbackSoftTest, CopyTakenBeforeAnAuditExportIsDetected) {
  Start();
  CopyFile(Db(), (dir_ / "before-export").string());
  RollbackVerdict exported = Start();  // the export's advance, same sequence
  ASSERT_TRUE(exported.advanced_to.has_value());
  CopyFile((dir_ / "before-export").string(), Db());
  EXPECT_EQ(Start().state, RollbackState::kRolledBack);
}

TEST_F(RollbackSoftTest, CrashBetweenSaveAndIncrementIsNotARollback) {
  Start();
  auto inner = OpenStore();
  const uint64_t c = DeviceValue(*inner);
  {
    FaultyKeyStore store(*inner);
    store.fail_increment = hsm::MakeHsmError(hsm::HsmError::kDeviceGone, "power cut");
    FileCounterRecord record(Db());
    RollbackGuard guard(store, record);
    auto v = guard.CheckAndAdvance();
    EXPECT_EQ(hsm::HsmErrorOf(v.status()), hsm::HsmError::kDeviceGone) << v.status().ToString();
    EXPECT_EQ(store.increments, 1);
  }
  EXPECT_EQ(RecordedValue(), c + 1) << "the intended value was recorded first";
  EXPECT_EQ(DeviceValue(*inner), c);

  RollbackVerdict v = Start();
  EXPECT_EQ(v.state, RollbackState::kOk) << v.explanation;
  EXPECT_EQ(v.database_value, c + 1);
  EXPECT_EQ(v.device_value, c);
  EXPECT_THAT(v.explanation, HasSubstr("One ahead"));
  EXPECT_EQ(v.advanced_to, c + 1);
  EXPECT_EQ(Start().state, RollbackState::kOk);
}

TEST_F(RollbackSoftTest, FailedSaveChangesNothing) {
  Start();
  auto store = OpenStore();
  const uint64_t c = DeviceValue(*store);
  std::filesystem::create_directories(Db() + ".tmp");  // the record cannot be written
  FileCounterRecord record(Db());
  RollbackGuard guard(*store, record);
  auto v = guard.CheckAndAdvance();
  EXPECT_FALSE(v.ok());
  EXPECT_EQ(DeviceValue(*store), c) << "never increment before the record is saved";
  std::filesystem::remove_all(Db() + ".tmp");
  EXPECT_EQ(Start().state, RollbackState::kOk);
}

TEST_F(RollbackSoftTest, AcceptRollbackThenCleanStart) {
  Start();
  CopyFile(Db(), (dir_ / "old").string());
  Start();
  Start();
  CopyFile((dir_ / "old").string(), Db());
  const uint64_t old_value = *RecordedValue();

  auto store = OpenStore();
  const uint64_t device = DeviceValue(*store);
  FileCounterRecord record(Db());
  RollbackGuard guard(*store, record);
  ASSERT_EQ(guard.CheckAndAdvance()->state, RollbackState::kRolledBack);

  EXPECT_EQ(guard.AcceptRollback("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(guard.AcceptRollback("bad\nactor").status().code(), StatusCode::kInvalidArgument);
  auto accepted = guard.AcceptRollback("alice");
  ASSERT_TRUE(accepted.ok()) << accepted.status().ToString();
  EXPECT_EQ(accepted->from, old_value);
  EXPECT_EQ(accepted->to, device);
  EXPECT_EQ(accepted->actor, "alice");
  EXPECT_EQ(accepted->description, "rollback accepted from " + std::to_string(old_value) + " to " +
                                       std::to_string(device) + " by alice");
  EXPECT_EQ(RecordedValue(), device);

  // Accepting again: nothing to accept.
  auto again = guard.AcceptRollback("alice");
  EXPECT_EQ(again.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(again.status().message(), HasSubstr("no rollback to accept (ok)"));

  RollbackVerdict v = Start();
  EXPECT_EQ(v.state, RollbackState::kOk) << v.explanation;
  EXPECT_EQ(v.advanced_to, device + 1);
}

TEST_F(RollbackSoftTest, DatabaseFarAheadMeansTheCounterWentBack) {
  Start();
  auto store = OpenStore();
  const uint64_t c = DeviceValue(*store);
  FileCounterRecord record(Db());
  ASSERT_TRUE(record.Save(c + 5).ok());
  RollbackGuard guard(*store, record);
  auto v = guard.CheckAndAdvance();
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->state, RollbackState::kCounterBehind);
  EXPECT_FALSE(v->serving_allowed());
  EXPECT_THAT(v->explanation, HasSubstr("--key-uri"));
  EXPECT_EQ(DeviceValue(*store), c);
  auto accepted = guard.AcceptRollback("bob");
  ASSERT_TRUE(accepted.ok());
  EXPECT_EQ(accepted->description, "rollback accepted from " + std::to_string(c + 5) + " to " +
                                       std::to_string(c) + " by bob");
  EXPECT_EQ(Start().state, RollbackState::kOk);
}

TEST_F(RollbackSoftTest, CounterNeverCreatedIsNoCounter) {
  auto store = OpenStore(/*provision=*/false);
  ASSERT_TRUE(store->CreateKey(false).ok());
  FileCounterRecord record(Db());
  RollbackGuard guard(*store, record);
  auto v = guard.CheckAndAdvance();
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->state, RollbackState::kNoCounter);
  EXPECT_TRUE(v->serving_allowed());
  EXPECT_THAT(v->explanation, HasSubstr("tessera provision"));
  EXPECT_FALSE(RecordedValue().has_value()) << "nothing recorded without a counter";
  EXPECT_EQ(guard.AcceptRollback("alice").status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(RollbackSoftTest, StoreWithoutCounterCapabilityIsNoCounter) {
  auto inner = OpenStore();
  FaultyKeyStore store(*inner);
  store.hide_counter = true;
  FileCounterRecord record(Db());
  RollbackGuard guard(store, record);
  auto v = guard.CheckAndAdvance();
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->state, RollbackState::kNoCounter);
  EXPECT_FALSE(v->device_value.has_value());
  EXPECT_THAT(v->explanation, HasSubstr("has no monotonic counter"));
  EXPECT_EQ(store.increments, 0);
}

TEST_F(RollbackSoftTest, DeviceFailureIsAnErrorNotAVerdict) {
  Start();
  auto inner = OpenStore();
  FaultyKeyStore store(*inner);
  store.fail_read = hsm::MakeHsmError(hsm::HsmError::kDeviceGone, "unplugged");
  FileCounterRecord record(Db());
  RollbackGuard guard(store, record);
  auto v = guard.CheckAndAdvance();
  EXPECT_EQ(hsm::HsmErrorOf(v.status()), hsm::HsmError::kDeviceGone);
  EXPECT_THAT(v.status().message(), HasSubstr("reading the monotonic counter"));
}

TEST_F(RollbackSoftTest, CorruptRecordIsAnError) {
  {
    std::ofstream out(Db());
    out << "garbage\n";
  }
  auto store = OpenStore();
  FileCounterRecord record(Db());
  RollbackGuard guard(*store, record);
  EXPECT_EQ(guard.Check().status().code(), StatusCode::kDataLoss);
}

}  // namespace
}  // namespace tessera::trust
