// A writer process killed with SIGKILL mid-stream loses no acknowledged unit, and the file
// it leaves passes the integrity check and holds a committed prefix.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <set>

#include "server/store/batch_writer.h"
#include "tests/unit/store/store_test_util.h"

namespace tessera::store {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace)

constexpr engine::LeaseId kUnits = 20000;

Unit GrantUnit(engine::LeaseId id) {
  engine::Lease l = SampleLease(id);
  engine::Event e;
  e.kind = engine::EventKind::kGranted;
  e.lease_id = id;
  e.lease = l;
  return UnitFromEvents({e});
}

// The child: submits every unit without waiting and writes each acknowledged id to `fd`.
[[noreturn]] void WriterProcess(const std::string& path, int fd) {
  Result<std::unique_ptr<Store>> store = Store::Open(path);
  if (!store.ok()) _exit(3);
  // Small batches: many commits, so the kill lands mid-stream.
  BatchWriter writer(std::move(store).value(), BatchWriter::Options{.max_units_per_batch = 64});
  for (engine::LeaseId id = 1; id <= kUnits; ++id) {
    writer.Submit(GrantUnit(id), [fd, id](const Status& s, uint64_t) {
      if (!s.ok()) _exit(4);
      if (::write(fd, &id, sizeof id) != sizeof id) _exit(5);
    });
  }
  writer.Stop();
  _exit(0);
}

// Kills and reaps the child however the test ends.
class ChildGuard {
 public:
  explicit ChildGuard(pid_t pid) : pid_(pid) {}
  ~ChildGuard() { Kill(); }
  ChildGuard(const ChildGuard&) = delete;
  ChildGuard& operator=(const ChildGuard&) = delete;
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_;
};

TEST(StoreCrashTest, KilledWriterLosesNoAcknowledgedUnit) {
  TempDir dir;
  std::string path = dir.File("t.db");
  { ASSERT_NE(OpenOrDie(path), nullptr); }  // migrations done before the child starts
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    WriterProcess(path, fds[1]);
  }
  ChildGuard child(pid);
  ::close(fds[1]);
  std::set<engine::LeaseId> acked;
  engine::LeaseId id = 0;
  // Kill it once some batches are acknowledged, mid-stream.
  while (acked.size() < 500 && ::read(fds[0], &id, sizeof id) == sizeof id) acked.insert(id);
  child.Kill();
  while (::read(fds[0], &id, sizeof id) == sizeof id) acked.insert(id);  // already in the pipe
  ::close(fds[0]);
  ASSERT_GE(acked.size(), 500u);

  ASSERT_TRUE(CheckIntegrity(path).ok());
  std::unique_ptr<Store> store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);
  Result<engine::EngineState> state = store->LoadState();
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  std::set<engine::LeaseId> stored;
  for (const engine::Lease& l : state->leases) stored.insert(l.id);
  for (engine::LeaseId a : acked) EXPECT_TRUE(stored.contains(a)) << "acknowledged lease " << a;
  // Units commit in order: what is stored is a prefix 1..m.
  ASSERT_FALSE(stored.empty());
  EXPECT_EQ(*stored.rbegin(), stored.size());
  EXPECT_EQ(state->next_lease_id, stored.size() + 1);
  RecordProperty("acknowledged", static_cast<int>(acked.size()));
  RecordProperty("stored", static_cast<int>(stored.size()));
}

}  // namespace
}  // namespace tessera::store
