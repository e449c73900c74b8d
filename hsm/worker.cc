#include "hsm/worker.h"

#include <utility>

#include "hsm/hsm_error.h"

namespace tessera::hsm {

Worker::Worker(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {
  thread_ = std::thread([this] { Loop(); });
}

Worker::~Worker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

Status Worker::RunStatus(std::function<Status()> fn) {
  auto task = std::make_shared<std::packaged_task<Status()>>(std::move(fn));
  std::future<Status> done = task->get_future();
  TESSERA_RETURN_IF_ERROR(Enqueue([task] { (*task)(); }));
  return done.get();
}

Status Worker::Enqueue(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return MakeHsmError(HsmError::kDeviceGone, "key store is shutting down");
    if (queue_.size() >= capacity_) {
      return MakeHsmError(HsmError::kBusy, "key store request queue is full");
    }
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
  return Status::Ok();
}

void Worker::Loop() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

}  // namespace tessera::hsm
