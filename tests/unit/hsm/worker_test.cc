#include "hsm/worker.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "hsm/hsm_error.h"

namespace tessera::hsm {
namespace {

TEST(WorkerTest, RunsTasksOnOneThreadInOrder) {
  Worker worker(8);
  std::thread::id worker_thread;
  ASSERT_TRUE(worker
                  .RunStatus([&] {
                    worker_thread = std::this_thread::get_id();
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_NE(worker_thread, std::this_thread::get_id());
  std::vector<int> order;
  for (int i = 0; i < 5; ++i) {
    auto r = worker.Run<int>([&, i]() -> Result<int> {
      EXPECT_EQ(std::this_thread::get_id(), worker_thread);
      order.push_back(i);
      return i * 2;
    });
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, i * 2);
  }
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(WorkerTest, ErrorsPassThrough) {
  Worker worker(1);
  auto r = worker.Run<int>([]() -> Result<int> { return Internal("boom"); });
  EXPECT_EQ(r.status(), Internal("boom"));
}

TEST(WorkerTest, FullQueueIsRefusedNotQueued) {
  Worker worker(1);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::promise<void> started;
  // Occupies the worker thread.
  auto blocker = std::async(std::launch::async, [&] {
    return worker.RunStatus([&] {
      started.set_value();
      gate.wait();
      return Status::Ok();
    });
  });
  started.get_future().wait();
  // Two more requests: one takes the single queue slot, the other must be refused at once
  // (and so is the only one that can finish while the worker is held).
  auto a =
      std::async(std::launch::async, [&] { return worker.RunStatus([] { return Status::Ok(); }); });
  auto b =
      std::async(std::launch::async, [&] { return worker.RunStatus([] { return Status::Ok(); }); });
  auto ready = [](std::future<Status>& f) {
    return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  };
  while (!ready(a) && !ready(b)) std::this_thread::yield();
  std::future<Status>& refused = ready(a) ? a : b;
  std::future<Status>& waiting = ready(a) ? b : a;
  EXPECT_EQ(HsmErrorOf(refused.get()), HsmError::kBusy);
  release.set_value();
  EXPECT_TRUE(blocker.get().ok());
  EXPECT_TRUE(waiting.get().ok());
}

}  // namespace
}  // namespace tessera::hsm
