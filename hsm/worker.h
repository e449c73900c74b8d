// A single worker thread that runs device requests one at a time, in arrival order.
//
// Hardware contexts (an ESAPI context, a PKCS#11 session) are not safe to share between
// threads; the backend creates and uses its context only inside tasks run here, so one
// thread owns it. The queue is bounded: a request arriving while `capacity` requests wait
// is refused at once with hsm.busy rather than piling up behind a slow device.
//
// Thread safety: Run may be called from any thread except the worker itself. The
// destructor runs the tasks already queued, then joins the thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "base/status.h"

namespace tessera::hsm {

class Worker {
 public:
  explicit Worker(size_t capacity);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Runs `fn` on the worker thread and returns its result.
  template <typename T>
  Result<T> Run(std::function<Result<T>()> fn) {
    auto task = std::make_shared<std::packaged_task<Result<T>()>>(std::move(fn));
    std::future<Result<T>> done = task->get_future();
    Status queued = Enqueue([task] { (*task)(); });
    if (!queued.ok()) return queued;
    return done.get();
  }

  Status RunStatus(std::function<Status()> fn);

 private:
  Status Enqueue(std::function<void()> task);
  void Loop();

  const size_t capacity_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::thread thread_;
};

}  // namespace tessera::hsm
