// 1,000 clients, each with its own connection and network thread, checking out and in at
// once: the seats in use never exceed the entitlement.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "tests/integration/client/client_fixture.h"

namespace tessera::client::testing {
namespace {

constexpr int kClients = 1000;
constexpr int kDrivers = 50;
constexpr int kRounds = 3;
constexpr int kSeats = 40;

TEST(ClientConcurrencyTest, ThousandClientsNeverExceedTheSeats) {
  tessera::testing::TempDir dir("client-thousand");
  FeatureSpec cad;
  cad.seats = kSeats;
  cad.lease_ttl_ms = 30'000;
  cad.heartbeat_interval_ms = 10'000;
  auto server = StartServer(dir.path(), {cad});
  ASSERT_NE(server, nullptr);

  std::vector<std::unique_ptr<Client>> clients(kClients);
  std::atomic<int> holding{0};
  std::atomic<int> max_holding{0};
  std::atomic<int> granted{0};
  std::atomic<int> denied_no_seats{0};
  std::atomic<int> failures{0};
  std::atomic<int> bad_checkins{0};
  std::atomic<bool> done{false};
  std::atomic<int> max_in_use_seen{0};
  std::mutex errors_mu;
  std::vector<std::string> errors;
  auto note = [&](const std::string& what) {
    std::lock_guard lock(errors_mu);
    if (errors.size() < 10) errors.push_back(what);
  };

  std::vector<std::thread> drivers;
  for (int d = 0; d < kDrivers; ++d) {
    drivers.emplace_back([&, d] {
      for (int i = d; i < kClients; i += kDrivers) {
        ClientOptions options = LocalOptions({server->port()});
        options.request_timeout = Seconds(30);
        options.connect_timeout = Seconds(10);
        auto client = Client::Create(options);
        if (!client.ok()) {
          note("create: " + client.status().ToString());
          ++failures;
          continue;
        }
        clients[static_cast<size_t>(i)] = std::move(client).value();
      }
      for (int round = 0; round < kRounds; ++round) {
        for (int i = d; i < kClients; i += kDrivers) {
          Client* client = clients[static_cast<size_t>(i)].get();
          if (client == nullptr) continue;
          auto outcome = client->Checkout(Request("cad"));
          if (!outcome.ok()) {
            note("checkout: " + outcome.status().ToString());
            ++failures;
            continue;
          }
          if (!outcome->granted()) {
            if (outcome->denial().reason == DenialReason::kNoSeats)
              ++denied_no_seats;
            else
              ++failures;
            continue;
          }
          ++granted;
          const int now = ++holding;
          int seen = max_holding.load();
          while (now > seen && !max_holding.compare_exchange_weak(seen, now)) {
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
          --holding;
          auto checkin = client->Checkin(outcome->lease().lease_id);
          if (!checkin.ok() || !checkin->released) {
            note("checkin: " + (checkin.ok() ? std::string(LossReasonName(checkin->lost))
                                             : checkin.status().ToString()));
            ++bad_checkins;
          }
        }
      }
    });
  }
  // Meanwhile the server's own count is watched.
  std::thread watcher([&] {
    auto observer = Client::Create(LocalOptions({server->port()}));
    if (!observer.ok()) return;
    while (!done) {
      const int in_use = InUse(**observer, "cad");
      int seen = max_in_use_seen.load();
      while (in_use > seen && !max_in_use_seen.compare_exchange_weak(seen, in_use)) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  for (auto& t : drivers) t.join();
  done = true;
  watcher.join();

  int connected = 0;
  for (const auto& c : clients) connected += c != nullptr ? 1 : 0;
  EXPECT_EQ(connected, kClients);
  EXPECT_EQ(failures.load(), 0);
  for (const auto& e : errors) ADD_FAILURE() << e;
  EXPECT_EQ(bad_checkins.load(), 0);
  EXPECT_GT(granted.load(), 0);
  EXPECT_EQ(granted.load() + denied_no_seats.load(), kClients * kRounds);
  EXPECT_LE(max_holding.load(), kSeats);
  EXPECT_LE(max_in_use_seen.load(), kSeats);
  EXPECT_GT(max_in_use_seen.load(), 0);
  EXPECT_EQ(InUse(*clients[0], "cad"), 0);
  std::printf("granted=%d denied_no_seats=%d max_holding=%d max_in_use_seen=%d\n", granted.load(),
              denied_no_seats.load(), max_holding.load(), max_in_use_seen.load());
  // Close the clients from several threads at once, as they were made.
  std::vector<std::thread> closers;
  for (int d = 0; d < kDrivers; ++d) {
    closers.emplace_back([&, d] {
      for (int i = d; i < kClients; i += kDrivers) clients[static_cast<size_t>(i)].reset();
    });
  }
  for (auto& t : closers) t.join();
}

// One Client shared by many application threads at once: checkouts, check-ins, status and
// lease listings interleave; every call gets a well-formed answer and no seat leaks.
TEST(ClientConcurrencyTest, OneClientSharedByManyThreads) {
  constexpr int kThreads = 16;
  constexpr int kIterations = 40;
  constexpr int kSharedSeats = 6;
  tessera::testing::TempDir dir("client-shared");
  FeatureSpec cad;
  cad.seats = kSharedSeats;
  cad.lease_ttl_ms = 30'000;
  cad.heartbeat_interval_ms = 200;  // renewals run while the threads work
  auto server = StartServer(dir.path(), {cad});
  ASSERT_NE(server, nullptr);
  auto client = Client::Create(LocalOptions({server->port()}));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  Client& shared = **client;

  std::atomic<int> granted{0};
  std::atomic<int> no_seats{0};
  std::atomic<int> released{0};
  std::atomic<int> failures{0};
  std::atomic<size_t> max_held{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIterations; ++i) {
        auto outcome = shared.Checkout(Request("cad"));
        if (!outcome.ok()) {
          ++failures;
          continue;
        }
        if (!outcome->granted()) {
          if (outcome->denial().reason == DenialReason::kNoSeats)
            ++no_seats;
          else
            ++failures;
          continue;
        }
        ++granted;
        const size_t held = shared.Leases().size();
        size_t seen = max_held.load();
        while (held > seen && !max_held.compare_exchange_weak(seen, held)) {
        }
        if ((t + i) % 5 == 0 && !shared.GetStatus("cad").ok()) ++failures;
        auto in = shared.Checkin(outcome->lease().lease_id);
        if (in.ok() && in->released) {
          ++released;
        } else {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(granted.load(), 0);
  EXPECT_EQ(released.load(), granted.load());
  EXPECT_EQ(granted.load() + no_seats.load(), kThreads * kIterations);
  EXPECT_LE(max_held.load(), static_cast<size_t>(kSharedSeats));
  EXPECT_TRUE(shared.Leases().empty());
  EXPECT_EQ(InUse(shared, "cad"), 0);
}

}  // namespace
}  // namespace tessera::client::testing
