// The group commit (DESIGN.md §5 "batch"; docs/STORE.md "Batch pipeline").
//
// Callers submit Units with a completion callback. One writer thread owns the Store. Units
// submitted while a batch is being committed form the next batch: one transaction per
// batch. A unit's callback runs, on the writer thread, only after its batch's COMMIT
// returned (OK: durable) or with the error that failed the batch.
//
// After a failed batch the store no longer mirrors the engine (the engine already applied
// the calls). The writer then refuses every unit with kUnavailable until a unit carrying
// StateChanges::replace (the engine's full ExportState()) commits; writable() is false
// meanwhile. The events of failed batches are kept (up to Options::max_event_backlog) and
// written with that resynchronising batch, so the log keeps every event in order.
//
// Thread safety: Submit, writable, last_error, stats, RunOnWriter and Flush may be called
// from any thread. Callbacks must not block on the writer (no Flush/RunOnWriter inside).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <variant>
#include <vector>

#include "base/status.h"
#include "server/store/state_changes.h"
#include "server/store/store.h"

namespace tessera::store {

class BatchWriter {
 public:
  // `batch` is the committed batch number (0 when the unit failed).
  using Callback = std::function<void(const Status& status, uint64_t batch)>;

  struct Options {
    size_t max_units_per_batch = 4096;
    size_t max_event_backlog = 100'000;  // events of failed batches kept for the resync
  };

  struct Stats {
    uint64_t batches_committed = 0;
    uint64_t units_committed = 0;
    uint64_t batches_failed = 0;
    uint64_t units_failed = 0;    // includes units refused while awaiting a resync
    size_t largest_batch = 0;     // most units committed in one batch
    uint64_t events_dropped = 0;  // failed-batch events beyond the backlog limit
  };

  // REQUIRES: store != nullptr. Starts the writer thread.
  explicit BatchWriter(std::unique_ptr<Store> store, Options options);
  explicit BatchWriter(std::unique_ptr<Store> store) : BatchWriter(std::move(store), Options{}) {}
  // Stop().
  ~BatchWriter();
  BatchWriter(const BatchWriter&) = delete;
  BatchWriter& operator=(const BatchWriter&) = delete;

  // Queues `unit`; `done` runs exactly once. After Stop, `done` runs at once on the calling
  // thread with kUnavailable.
  void Submit(Unit unit, Callback done);

  // False while the store cannot write: read-only database, or a failed batch not yet
  // followed by a successful resync. The server grants nothing while false.
  bool writable() const { return writable_.load(std::memory_order_acquire); }
  // The error of the last failed batch (OK when none, or after a successful resync).
  Status last_error() const;
  Stats stats() const;

  // Runs `task` on the writer thread after every unit submitted before it, between
  // batches, and returns its Status (for IntegrityCheck, admin reads, tests).
  // kUnavailable after Stop.
  Status RunOnWriter(std::function<Status(Store&)> task);
  // Waits until every unit submitted before it has been committed or failed.
  Status Flush();

  // Commits what is queued, then ends the writer thread. Idempotent; call it from one
  // thread (the owner), never from a callback.
  void Stop();

 private:
  struct Pending {
    Unit unit;
    Callback done;
  };
  struct Task {
    std::function<Status(Store&)> fn;
    std::promise<Status> result;
  };
  using Item = std::variant<Pending, Task>;

  void Run();
  void CommitBatch(std::vector<Pending>& batch);
  void Fail(std::vector<Pending>& batch, const Status& status, bool keep_events);

  std::unique_ptr<Store> store_;
  const Options options_;
  std::atomic<bool> writable_{false};

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;  // guarded by mu_
  bool stopping_ = false;   // guarded by mu_
  Stats stats_;             // guarded by mu_
  Status last_error_;       // guarded by mu_

  // Writer thread only.
  bool needs_resync_ = false;
  std::vector<engine::Event> backlog_;

  std::thread thread_;  // last: starts after everything above is initialised
};

}  // namespace tessera::store
