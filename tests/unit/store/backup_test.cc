// Online backup under concurrent writes: every backup is a consistent snapshot.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "server/store/batch_writer.h"
#include "tests/unit/store/store_test_util.h"

namespace tessera::store {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace)

// A grant of lease `id` as its own unit, so every committed prefix holds leases 1..m.
Unit GrantUnit(engine::LeaseId id) {
  engine::Lease l = SampleLease(id);
  l.lingering = false;
  engine::Event e;
  e.kind = engine::EventKind::kGranted;
  e.at = l.issued_at;
  e.lease_id = id;
  e.feature = l.feature;
  e.client = l.client;
  e.lease = l;
  return UnitFromEvents({e});
}

TEST(StoreBackupTest, BackupsUnderConcurrentWritesAreConsistentSnapshots) {
  TempDir dir;
  std::string path = dir.File("live.db");
  BatchWriter writer(OpenOrDie(path));
  constexpr engine::LeaseId kUnits = 400;
  std::atomic<int> failures{0};
  std::thread producer([&] {
    for (engine::LeaseId id = 1; id <= kUnits; ++id) {
      writer.Submit(GrantUnit(id), [&](const Status& s, uint64_t) {
        if (!s.ok()) failures++;
      });
    }
  });
  for (int i = 0; i < 5; ++i) {
    std::string backup = dir.File("backup-" + std::to_string(i) + ".db");
    Status s = BackupDatabase(path, backup);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_TRUE(CheckIntegrity(backup).ok());
    Result<engine::EngineState> state = LoadStateFrom(backup);
    ASSERT_TRUE(state.ok()) << state.status().ToString();
    // A committed prefix: leases 1..m, next id m+1, and exactly m grant events.
    const size_t m = state->leases.size();
    for (size_t k = 0; k < m; ++k) EXPECT_EQ(state->leases[k].id, k + 1);
    EXPECT_EQ(state->next_lease_id, m == 0 ? 1u : m + 1);
    RawDb raw(backup, SQLITE_OPEN_READONLY);
    EXPECT_EQ(raw.Int("SELECT count(*) FROM events"), static_cast<int64_t>(m));
  }
  producer.join();
  ASSERT_TRUE(writer.Flush().ok());
  EXPECT_EQ(failures.load(), 0);

  std::string final_backup = dir.File("final.db");
  ASSERT_TRUE(BackupDatabase(path, final_backup).ok());
  engine::EngineState live;
  ASSERT_TRUE(writer
                  .RunOnWriter([&](Store& s) {
                    Result<engine::EngineState> r = s.LoadState();
                    if (r.ok()) live = *r;
                    return r.status();
                  })
                  .ok());
  EXPECT_EQ(live.leases.size(), kUnits);
  EXPECT_EQ(*LoadStateFrom(final_backup), live);
  // An existing target is never overwritten.
  EXPECT_EQ(BackupDatabase(path, final_backup).code(), StatusCode::kAlreadyExists);

  // Restore: a backup opened as a live store carries on from where it was taken.
  writer.Stop();
  std::unique_ptr<Store> restored = OpenOrDie(final_backup);
  ASSERT_NE(restored, nullptr);
  EXPECT_EQ(*restored->LoadState(), live);
  Unit next = GrantUnit(kUnits + 1);
  EXPECT_TRUE(restored->CommitBatch({&next}).ok());
}

}  // namespace
}  // namespace tessera::store
