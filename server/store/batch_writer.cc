#include "server/store/batch_writer.h"

#include <algorithm>
#include <utility>

namespace tessera::store {

BatchWriter::BatchWriter(std::unique_ptr<Store> store, Options options)
    : store_(std::move(store)), options_(options) {
  writable_.store(!store_->read_only(), std::memory_order_release);
  if (store_->read_only()) {
    last_error_ = PermissionDenied("database " + store_->path() + " is read-only");
  }
  thread_ = std::thread([this] { Run(); });
}

BatchWriter::~BatchWriter() { Stop(); }

void BatchWriter::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void BatchWriter::Submit(Unit unit, Callback done) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      queue_.emplace_back(Pending{std::move(unit), std::move(done)});
      cv_.notify_one();
      return;
    }
  }
  done(Unavailable("store writer is stopped"), 0);
}

Status BatchWriter::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

BatchWriter::Stats BatchWriter::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

Status BatchWriter::RunOnWriter(std::function<Status(Store&)> task) {
  std::future<Status> result;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Unavailable("store writer is stopped");
    Task t{std::move(task), {}};
    result = t.result.get_future();
    queue_.emplace_back(std::move(t));
  }
  cv_.notify_one();
  return result.get();
}

Status BatchWriter::Flush() {
  return RunOnWriter([](Store&) { return Status::Ok(); });
}

void BatchWriter::Run() {
  for (;;) {
    std::vector<Pending> batch;
    std::optional<Task> task;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      if (auto* t = std::get_if<Task>(&queue_.front())) {
        task.emplace(std::move(*t));
        queue_.pop_front();
      } else {
        // Everything queued while the previous batch committed joins this one.
        while (!queue_.empty() && batch.size() < options_.max_units_per_batch &&
               std::holds_alternative<Pending>(queue_.front())) {
          batch.push_back(std::move(std::get<Pending>(queue_.front())));
          queue_.pop_front();
        }
      }
    }
    if (task) {
      task->result.set_value(task->fn(*store_));
    } else {
      CommitBatch(batch);
    }
  }
}

void BatchWriter::CommitBatch(std::vector<Pending>& batch) {
  bool has_replace = std::any_of(batch.begin(), batch.end(),
                                 [](const Pending& p) { return p.unit.changes.replace; });
  if (needs_resync_ && !has_replace && !store_->read_only()) {
    Fail(
        batch,
        Unavailable("store " + store_->path() + " awaits a full-state resync after a failed batch"),
        /*keep_events=*/true);
    return;
  }
  // A resync also writes the events of the failed batches first, keeping the log in order.
  Unit backlog;
  std::vector<const Unit*> units;
  if (needs_resync_ && !backlog_.empty()) {
    backlog.events = std::move(backlog_);
    backlog_.clear();
    units.push_back(&backlog);
  }
  for (const Pending& p : batch) units.push_back(&p.unit);

  Result<uint64_t> committed = store_->CommitBatch(units);
  if (!committed.ok()) {
    backlog_ = std::move(backlog.events);
    needs_resync_ = true;
    writable_.store(false, std::memory_order_release);
    Fail(batch, committed.status(), /*keep_events=*/true);
    return;
  }
  needs_resync_ = false;
  writable_.store(!store_->read_only(), std::memory_order_release);
  {
    std::lock_guard lock(mu_);
    stats_.batches_committed++;
    stats_.units_committed += batch.size();
    stats_.largest_batch = std::max(stats_.largest_batch, batch.size());
    last_error_ = Status::Ok();
  }
  for (Pending& p : batch) p.done(Status::Ok(), *committed);
}

void BatchWriter::Fail(std::vector<Pending>& batch, const Status& status, bool keep_events) {
  uint64_t dropped = 0;
  if (keep_events && !store_->read_only()) {
    for (Pending& p : batch) {
      for (engine::Event& e : p.unit.events) {
        if (backlog_.size() < options_.max_event_backlog) {
          backlog_.push_back(std::move(e));
        } else {
          ++dropped;
        }
      }
    }
  }
  {
    std::lock_guard lock(mu_);
    stats_.batches_failed++;
    stats_.units_failed += batch.size();
    stats_.events_dropped += dropped;
    last_error_ = status;
  }
  for (Pending& p : batch) p.done(status, 0);
}

}  // namespace tessera::store
