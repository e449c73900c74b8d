// The Store on real SQLite files: migrations, reopening, schema refusal, round trips and
// the event log.
#include "server/store/store.h"

#include <gtest/gtest.h>

#include "server/store/schema.h"
#include "tests/unit/store/store_test_util.h"

namespace tessera::store {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace)

engine::EngineState SampleState() {
  engine::EngineState s;
  s.next_lease_id = 42;
  for (engine::LeaseId id : {3, 7, 10, 41}) s.leases.push_back(SampleLease(id));
  s.bindings.push_back({"cad", "bob", "ws-2", kT0, kT0 + std::chrono::hours(24), false});
  s.bindings.push_back({"cad", "alice", "ws-1", kT0 + Seconds(5), kT0 + Seconds(90), true});
  s.metered_consumed = {{"runs", 17}, {"hours", UINT64_MAX - 1}};
  return s;
}

TEST(StoreTest, MigrationsFromEmptyCreateTheSchemaInWalMode) {
  TempDir dir;
  std::unique_ptr<Store> store = OpenOrDie(dir.File("t.db"));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->schema_version(), LatestSchemaVersion());
  EXPECT_FALSE(store->read_only());
  Result<engine::EngineState> state = store->LoadState();
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_EQ(*state, engine::EngineState{});

  RawDb raw(dir.File("t.db"));
  EXPECT_EQ(raw.Int("PRAGMA user_version"), LatestSchemaVersion());
  EXPECT_EQ(raw.Text("PRAGMA journal_mode"), "wal");
  for (const char* table : {"meta", "entitlements", "rules", "leases", "named_user_bindings",
                            "metered_counters", "batches", "events", "event_leases"}) {
    EXPECT_EQ(raw.Int("SELECT count(*) FROM sqlite_master WHERE type='table' AND name=?", table), 1)
        << table;
  }
}

TEST(StoreTest, MigrationsAreNumberedInOrder) {
  int expected = 1;
  for (const Migration& m : Migrations()) EXPECT_EQ(m.version, expected++);
  EXPECT_EQ(LatestSchemaVersion(), expected - 1);
}

TEST(StoreTest, RefusesADatabaseFromANewerVersion) {
  TempDir dir;
  std::string path = dir.File("future.db");
  { ASSERT_NE(OpenOrDie(path), nullptr); }
  {
    RawDb raw(path);
    raw.Exec("PRAGMA user_version=" + std::to_string(LatestSchemaVersion() + 1));
  }
  Result<std::unique_ptr<Store>> store = Store::Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find(path), std::string::npos) << store.status().ToString();
  EXPECT_NE(store.status().message().find("newer"), std::string::npos);
  // Refusal changes nothing.
  RawDb raw(path);
  EXPECT_EQ(raw.Int("PRAGMA user_version"), LatestSchemaVersion() + 1);
}

TEST(StoreTest, EngineStateRoundTripsThroughAFullStateBatch) {
  TempDir dir;
  std::unique_ptr<Store> store = OpenOrDie(dir.File("t.db"));
  ASSERT_NE(store, nullptr);
  Unit unit = FullStateUnit(SampleState());
  Result<uint64_t> batch = store->CommitBatch({&unit});
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  EXPECT_EQ(*batch, 1u);
  Result<engine::EngineState> loaded = store->LoadState();
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(*loaded, SampleState());

  // A second full state replaces the first entirely.
  engine::EngineState smaller;
  smaller.next_lease_id = 50;
  smaller.leases.push_back(SampleLease(44));
  Unit second = FullStateUnit(smaller);
  ASSERT_TRUE(store->CommitBatch({&second}).ok());
  EXPECT_EQ(*store->LoadState(), smaller);
}

TEST(StoreTest, ReopenKeepsStateFilesAndEvents) {
  TempDir dir;
  std::string path = dir.File("t.db");
  {
    std::unique_ptr<Store> store = OpenOrDie(path);
    ASSERT_NE(store, nullptr);
    Unit unit = FullStateUnit(SampleState());
    unit.entitlement = LicenseFile{std::string("ent\0bytes", 9), kT0 + Seconds(1)};
    unit.rules = LicenseFile{"RESERVE 1 cad USER alice", kT0 + Seconds(2)};
    Unit marker = MarkerUnit("first");
    ASSERT_TRUE(store->CommitBatch({&unit, &marker}).ok());
  }
  std::unique_ptr<Store> store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(*store->LoadState(), SampleState());
  Result<std::optional<LicenseFile>> ent = store->LoadEntitlement();
  ASSERT_TRUE(ent.ok() && ent->has_value());
  EXPECT_EQ(**ent, (LicenseFile{std::string("ent\0bytes", 9), kT0 + Seconds(1)}));
  EXPECT_EQ(store->LoadRules()->value().content, "RESERVE 1 cad USER alice");
  Result<std::vector<StoredEvent>> events = store->ReadEvents(0, 100);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].event.detail, "first");
  EXPECT_EQ((*events)[0].event.reason, engine::DenialReason::kNoSeats);
  EXPECT_EQ((*events)[0].batch, 1u);
  EXPECT_EQ(*store->LastBatch(), 1u);
}

TEST(StoreTest, NoLicenseFilesBeforeTheFirstLoad) {
  TempDir dir;
  std::unique_ptr<Store> store = OpenOrDie(dir.File("t.db"));
  ASSERT_NE(store, nullptr);
  EXPECT_FALSE(store->LoadEntitlement()->has_value());
  EXPECT_FALSE(store->LoadRules()->has_value());
}

TEST(StoreTest, EventLogKeepsOrderAndCoalescesRenewalsPerBatch) {
  TempDir dir;
  std::unique_ptr<Store> store = OpenOrDie(dir.File("t.db"));
  ASSERT_NE(store, nullptr);
  engine::Engine engine = MakeEngine({Concurrent("cad", 5)});
  std::vector<Unit> units;
  auto call = [&](auto&& fn) {
    fn();
    units.push_back(UnitFromEvents(engine.TakeEvents()));
  };
  TimePoint t = kT0;
  engine::LeaseId a = 0;
  engine::LeaseId b = 0;
  call(
      [&] { a = std::get<engine::Granted>(engine.Checkout(Req(Client("a"), "cad"), t)).lease.id; });
  call(
      [&] { b = std::get<engine::Granted>(engine.Checkout(Req(Client("b"), "cad"), t)).lease.id; });
  for (int i = 1; i <= 3; ++i) {
    call([&] { (void)engine.Heartbeat(a, "a", t + Seconds(i)); });
  }
  call([&] { (void)engine.Heartbeat(b, "b", t + Seconds(4)); });
  call([&] { (void)engine.Heartbeat(a, "a", t + Seconds(5)); });
  call([&] { (void)engine.Checkin(a, "a", 0, t + Seconds(6)); });
  call([&] { (void)engine.Heartbeat(b, "b", t + Seconds(7)); });

  std::vector<const Unit*> first{&units[0], &units[1], &units[2]};
  std::vector<const Unit*> second;
  for (size_t i = 3; i < units.size(); ++i) second.push_back(&units[i]);
  ASSERT_TRUE(store->CommitBatch(first).ok());
  ASSERT_TRUE(store->CommitBatch(second).ok());

  Result<std::vector<StoredEvent>> events = store->ReadEvents(0, 100);
  ASSERT_TRUE(events.ok());
  std::vector<std::tuple<engine::EventKind, engine::LeaseId, uint32_t, uint64_t>> got;
  uint64_t last_seq = 0;
  for (const StoredEvent& e : *events) {
    EXPECT_GT(e.seq, last_seq);
    last_seq = e.seq;
    got.emplace_back(e.event.kind, e.event.lease_id, e.renewals, e.batch);
  }
  using K = engine::EventKind;
  // Batch 2: a's renewals at +2s, +3s, +5s fold into the one at +5s (b's renewal between
  // them concerns another lease); b's two renewals are separated by nothing of b's own but
  // a's checkin, so they fold too.
  std::vector<std::tuple<K, engine::LeaseId, uint32_t, uint64_t>> want{
      {K::kGranted, a, 1, 1}, {K::kGranted, b, 1, 1},  {K::kRenewed, a, 1, 1},
      {K::kRenewed, a, 3, 2}, {K::kReleased, a, 1, 2}, {K::kRenewed, b, 2, 2}};
  EXPECT_EQ(got, want);
  // The kept record carries the latest snapshot.
  EXPECT_EQ((*events)[3].event.lease->expires_at, t + Seconds(5) + Seconds(60));
  // The leases table holds the final state.
  Result<engine::EngineState> loaded = store->LoadState();
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(*loaded, engine.ExportState());
}

TEST(StoreTest, IntegrityCheckPassesOnAHealthyDatabase) {
  TempDir dir;
  std::unique_ptr<Store> store = OpenOrDie(dir.File("t.db"));
  ASSERT_NE(store, nullptr);
  Unit unit = FullStateUnit(SampleState());
  ASSERT_TRUE(store->CommitBatch({&unit}).ok());
  EXPECT_TRUE(store->IntegrityCheck().ok());
  EXPECT_TRUE(CheckIntegrity(dir.File("t.db")).ok());
}

}  // namespace
}  // namespace tessera::store
