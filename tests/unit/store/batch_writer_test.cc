// The group commit: many submitters, one writer thread, callbacks after COMMIT.
#include "server/store/batch_writer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "tests/unit/store/store_test_util.h"

namespace tessera::store {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace)

// Holds the writer thread inside a task until Release(), so that everything submitted
// meanwhile is queued and must form the next batch (no timing involved).
class WriterGate {
 public:
  explicit WriterGate(BatchWriter& writer) {
    std::future<void> entered = entered_.get_future();
    runner_ = std::thread([this, &writer] {
      Status s = writer.RunOnWriter([this](Store&) {
        entered_.set_value();
        release_.get_future().wait();
        return Status::Ok();
      });
      EXPECT_TRUE(s.ok());
    });
    entered.wait();
  }
  ~WriterGate() { Release(); }
  void Release() {
    if (!runner_.joinable()) return;
    release_.set_value();
    runner_.join();
  }

 private:
  std::promise<void> entered_;
  std::promise<void> release_;
  std::thread runner_;
};

TEST(BatchWriterTest, ConcurrentSubmittersFormBatchesAndEveryCallbackFiresOnceAfterCommit) {
  TempDir dir;
  std::string path = dir.File("t.db");
  BatchWriter writer(OpenOrDie(path));
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  constexpr int kUnits = kThreads * kPerThread;
  std::vector<std::atomic<int>> fired(kUnits);
  std::atomic<int> not_durable{0};
  std::atomic<int> errors{0};
  // Callbacks run on the writer thread only, so this reader connection is used by one thread.
  RawDb reader(path, SQLITE_OPEN_READONLY);

  auto submit_all = [&](int first_unit) {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread / 2; ++i) {
          int id = first_unit + t * (kPerThread / 2) + i;
          std::string marker = "unit-" + std::to_string(id);
          writer.Submit(MarkerUnit(marker), [&, id, marker](const Status& s, uint64_t batch) {
            fired[static_cast<size_t>(id)]++;
            if (!s.ok() || batch == 0) errors++;
            // Committed before the callback: a separate connection already sees the event.
            if (reader.Int("SELECT count(*) FROM events WHERE detail = ?", marker) != 1) {
              not_durable++;
            }
          });
        }
      });
    }
    for (std::thread& th : threads) th.join();
  };

  {
    WriterGate gate(writer);
    submit_all(0);  // all queued behind the gate
  }
  submit_all(kUnits / 2);  // free-running
  ASSERT_TRUE(writer.Flush().ok());

  for (int i = 0; i < kUnits; ++i) EXPECT_EQ(fired[static_cast<size_t>(i)].load(), 1) << i;
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(not_durable.load(), 0);
  BatchWriter::Stats stats = writer.stats();
  EXPECT_EQ(stats.units_committed, static_cast<uint64_t>(kUnits));
  // The gated half went into one batch.
  EXPECT_GE(stats.largest_batch, static_cast<size_t>(kUnits / 2));
  EXPECT_LT(stats.batches_committed, static_cast<uint64_t>(kUnits));
  EXPECT_EQ(reader.Int("SELECT count(*) FROM batches"),
            static_cast<int64_t>(stats.batches_committed));
  EXPECT_EQ(reader.Int("SELECT count(*) FROM events"), kUnits);
  EXPECT_TRUE(writer.writable());
}

TEST(BatchWriterTest, RespectsTheBatchSizeLimit) {
  TempDir dir;
  BatchWriter writer(OpenOrDie(dir.File("t.db")), BatchWriter::Options{.max_units_per_batch = 8});
  std::atomic<int> ok{0};
  {
    WriterGate gate(writer);
    for (int i = 0; i < 20; ++i) {
      writer.Submit(MarkerUnit("m"), [&](const Status& s, uint64_t) { ok += s.ok() ? 1 : 0; });
    }
  }
  ASSERT_TRUE(writer.Flush().ok());
  EXPECT_EQ(ok.load(), 20);
  EXPECT_EQ(writer.stats().largest_batch, 8u);
  EXPECT_EQ(writer.stats().batches_committed, 3u);
}

TEST(BatchWriterTest, StopCommitsWhatIsQueuedThenRefuses) {
  TempDir dir;
  std::string path = dir.File("t.db");
  std::atomic<int> ok{0};
  BatchWriter writer(OpenOrDie(path));
  for (int i = 0; i < 10; ++i) {
    writer.Submit(MarkerUnit("m"), [&](const Status& s, uint64_t) { ok += s.ok() ? 1 : 0; });
  }
  writer.Stop();
  EXPECT_EQ(ok.load(), 10);
  Status after;
  writer.Submit(MarkerUnit("late"), [&](const Status& s, uint64_t) { after = s; });
  EXPECT_EQ(after.code(), StatusCode::kUnavailable);
  EXPECT_EQ(writer.RunOnWriter([](Store&) { return Status::Ok(); }).code(),
            StatusCode::kUnavailable);
  RawDb raw(path, SQLITE_OPEN_READONLY);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM events"), 10);
}

TEST(BatchWriterTest, UnitsOfOneBatchApplyInSubmissionOrder) {
  TempDir dir;
  BatchWriter writer(OpenOrDie(dir.File("t.db")));
  engine::Lease lease = SampleLease(5);
  lease.lingering = false;
  engine::Event granted;
  granted.kind = engine::EventKind::kGranted;
  granted.lease_id = 5;
  granted.lease = lease;
  engine::Event renewed = granted;
  renewed.kind = engine::EventKind::kRenewed;
  renewed.lease->expires_at += Seconds(100);
  engine::Event expired = granted;
  expired.kind = engine::EventKind::kExpired;
  {
    WriterGate gate(writer);
    writer.Submit(UnitFromEvents({granted}), [](const Status&, uint64_t) {});
    writer.Submit(UnitFromEvents({renewed}), [](const Status&, uint64_t) {});
  }
  ASSERT_TRUE(writer.Flush().ok());
  engine::EngineState loaded;
  auto load = [&](Store& s) {
    Result<engine::EngineState> r = s.LoadState();
    if (r.ok()) loaded = *r;
    return r.status();
  };
  ASSERT_TRUE(writer.RunOnWriter(load).ok());
  ASSERT_EQ(loaded.leases.size(), 1u);
  EXPECT_EQ(loaded.leases[0], *renewed.lease);
  EXPECT_EQ(loaded.next_lease_id, 6u);
  {
    WriterGate gate(writer);
    writer.Submit(UnitFromEvents({renewed}), [](const Status&, uint64_t) {});
    writer.Submit(UnitFromEvents({expired}), [](const Status&, uint64_t) {});
  }
  ASSERT_TRUE(writer.RunOnWriter(load).ok());
  EXPECT_TRUE(loaded.leases.empty());
}

}  // namespace
}  // namespace tessera::store
