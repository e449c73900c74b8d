// Faults: disk full, read-only database, corrupt file. Each is a typed error, committed data
// stays intact, the writer stops granting (writable() false) and resumes after the fault
// clears and a full-state resync commits.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>

#include "server/store/batch_writer.h"
#include "tests/unit/store/store_test_util.h"

namespace tessera::store {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace)

// An engine with some leases, persisted through `writer`; returns the engine.
engine::Engine SeedLeases(BatchWriter& writer, int n) {
  engine::Engine engine = MakeEngine({Concurrent("cad", 100)});
  EXPECT_TRUE(SubmitAndWait(writer, FullStateUnit(engine.ExportState())).ok());
  for (int i = 0; i < n; ++i) {
    (void)engine.Checkout(Req(Client("c" + std::to_string(i)), "cad"), kT0);
  }
  EXPECT_TRUE(SubmitAndWait(writer, UnitFromEvents(engine.TakeEvents())).ok());
  return engine;
}

void OverwriteBytes(const std::string& path, off_t offset, size_t n, char byte) {
  int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  std::string junk(n, byte);
  ASSERT_EQ(::pwrite(fd, junk.data(), n, offset), static_cast<ssize_t>(n));
  ::fsync(fd);
  ::close(fd);
}

TEST(StoreFaultTest, DiskFullIsResourceExhaustedAndWritingResumesAfterResync) {
  TempDir dir;
  std::string path = dir.File("t.db");
  BatchWriter writer(OpenOrDie(path));
  engine::Engine engine = SeedLeases(writer, 5);
  engine::EngineState before = engine.ExportState();

  // The file may not grow beyond its current pages: SQLITE_FULL on the next large batch.
  ASSERT_TRUE(writer
                  .RunOnWriter([](Store& s) {
                    TESSERA_ASSIGN_OR_RETURN(uint64_t pages, s.PageCount());
                    return s.SetMaxPageCount(pages);
                  })
                  .ok());
  (void)engine.Checkout(Req(Client("big"), "cad"), kT0 + Seconds(1));
  Unit grant = UnitFromEvents(engine.TakeEvents());
  grant.events[0].detail = std::string(256 * 1024, 'x');  // needs new pages
  Status full = SubmitAndWait(writer, std::move(grant));
  EXPECT_EQ(full.code(), StatusCode::kResourceExhausted) << full.ToString();
  EXPECT_NE(full.message().find(path), std::string::npos) << full.ToString();
  EXPECT_FALSE(writer.writable());
  EXPECT_EQ(writer.last_error().code(), StatusCode::kResourceExhausted);

  // Until a resync, every unit is refused, even a small one that would fit.
  (void)engine.Heartbeat(1, "c0", kT0 + Seconds(2));
  Status refused = SubmitAndWait(writer, UnitFromEvents(engine.TakeEvents()));
  EXPECT_EQ(refused.code(), StatusCode::kUnavailable) << refused.ToString();
  // Committed data is intact.
  EXPECT_EQ(*LoadStateFrom(path), before);
  EXPECT_TRUE(CheckIntegrity(path).ok());

  // The fault clears; the server resynchronises with the engine's full state.
  ASSERT_TRUE(writer.RunOnWriter([](Store& s) { return s.SetMaxPageCount(1u << 30); }).ok());
  EXPECT_FALSE(writer.writable());
  ASSERT_TRUE(SubmitAndWait(writer, FullStateUnit(engine.ExportState())).ok());
  EXPECT_TRUE(writer.writable());
  EXPECT_TRUE(writer.last_error().ok());
  EXPECT_EQ(*LoadStateFrom(path), engine.ExportState());
  // The failed units' events reached the log with the resync, in order.
  Result<std::unique_ptr<Store>> reader = Store::Open(path, {.read_only = true});
  ASSERT_TRUE(reader.ok());
  Result<std::vector<StoredEvent>> events = (*reader)->ReadEvents(0, 1000);
  ASSERT_TRUE(events.ok());
  ASSERT_GE(events->size(), 2u);
  EXPECT_EQ(events->back().event.kind, engine::EventKind::kRenewed);
  EXPECT_EQ((*events)[events->size() - 2].event.client.client_id, "big");
  // And normal units commit again.
  (void)engine.Checkin(1, "c0", 0, kT0 + Seconds(3));
  EXPECT_TRUE(SubmitAndWait(writer, UnitFromEvents(engine.TakeEvents())).ok());
  EXPECT_EQ(*LoadStateFrom(path), engine.ExportState());
}

TEST(StoreFaultTest, ReadOnlyOpenLoadsButRefusesWritesWithPermissionDenied) {
  TempDir dir;
  std::string path = dir.File("t.db");
  engine::EngineState committed;
  {
    BatchWriter writer(OpenOrDie(path));
    committed = SeedLeases(writer, 3).ExportState();
  }
  std::unique_ptr<Store> store = OpenOrDie(path, {.read_only = true});
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->read_only());
  EXPECT_EQ(*store->LoadState(), committed);
  BatchWriter writer(std::move(store));
  EXPECT_FALSE(writer.writable());
  EXPECT_EQ(writer.last_error().code(), StatusCode::kPermissionDenied);
  Status s = SubmitAndWait(writer, MarkerUnit("x"));
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << s.ToString();
  EXPECT_NE(s.message().find(path), std::string::npos);
  writer.Stop();
  EXPECT_EQ(*LoadStateFrom(path), committed);
}

// Makes `dir` read-only for this process only: a private mount namespace with a read-only
// bind mount of the directory over itself. Root ignores file modes, not mount flags.
// Returns false (test skipped) where namespaces are not available.
bool MakeDirectoryReadOnly(const std::string& dir) {
  if (::unshare(CLONE_NEWNS) != 0) return false;
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return false;
  if (::mount(dir.c_str(), dir.c_str(), nullptr, MS_BIND, nullptr) != 0) return false;
  return ::mount(nullptr, dir.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) == 0;
}

TEST(StoreFaultTest, ReadOnlyFileSystemIsATypedErrorAndKeepsData) {
  TempDir dir;
  std::string path = dir.File("t.db");
  engine::EngineState committed;
  {
    BatchWriter writer(OpenOrDie(path));
    committed = SeedLeases(writer, 3).ExportState();
  }
  if (!MakeDirectoryReadOnly(dir.path())) GTEST_SKIP() << "no private mount namespace here";
  // Unmounted however the test ends, so the temp dir can be removed.
  std::shared_ptr<void> unmount(nullptr, [&](void*) { ::umount(dir.path().c_str()); });
  // SQLite cannot create the WAL index (-shm) beside the file: Open refuses, naming the
  // file and the read-only file system. (A mount with open writable files cannot be
  // remounted read-only, so the open-time refusal is the case to handle.)
  Result<std::unique_ptr<Store>> opened = Store::Open(path);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kPermissionDenied) << opened.status().ToString();
  EXPECT_NE(opened.status().message().find(path), std::string::npos);
  EXPECT_NE(opened.status().message().find("read-only file system"), std::string::npos);
  unmount.reset();
  EXPECT_EQ(*LoadStateFrom(path), committed);
}

TEST(StoreFaultTest, CorruptHeaderIsDataLossNamingTheFile) {
  TempDir dir;
  std::string path = dir.File("t.db");
  {
    BatchWriter writer(OpenOrDie(path));
    SeedLeases(writer, 3);
  }
  OverwriteBytes(path, 0, 100, '\x5a');
  Result<std::unique_ptr<Store>> store = Store::Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kDataLoss) << store.status().ToString();
  EXPECT_NE(store.status().message().find(path), std::string::npos);
  Status check = CheckIntegrity(path);
  EXPECT_EQ(check.code(), StatusCode::kDataLoss) << check.ToString();
  EXPECT_NE(check.message().find(path), std::string::npos);
}

TEST(StoreFaultTest, CorruptPagesAreDataLossAtOpenAndInTheIntegrityCheck) {
  TempDir dir;
  std::string path = dir.File("t.db");
  {
    BatchWriter writer(OpenOrDie(path));
    SeedLeases(writer, 200);  // several pages of leases and events
  }
  int64_t page_size = 0;
  int64_t pages = 0;
  {
    RawDb raw(path, SQLITE_OPEN_READONLY);
    page_size = raw.Int("PRAGMA page_size");
    pages = raw.Int("PRAGMA page_count");
  }
  ASSERT_GT(pages, 4);
  // Garbage over every page but the first (the header stays valid).
  for (int64_t p = 1; p < pages; ++p) {
    OverwriteBytes(path, static_cast<off_t>(p * page_size), 64, '\x7f');
  }
  Result<std::unique_ptr<Store>> store = Store::Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kDataLoss) << store.status().ToString();
  EXPECT_NE(store.status().message().find(path), std::string::npos);
  EXPECT_EQ(CheckIntegrity(path).code(), StatusCode::kDataLoss);
}

}  // namespace
}  // namespace tessera::store
