// SIGKILL tesserad at random moments while client threads check out, heartbeat and check
// in; after each restart every lease a client was told it holds is still known to the
// server (or has expired), seats in use never exceed the entitlement and the database
// passes PRAGMA integrity_check. docs/STORE.md "Crash harness".
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "server/store/store.h"
#include "tests/support/raw_client.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tesserad_process.h"

namespace tessera::testing {
namespace {

namespace v1 = tessera::v1;

constexpr std::uint32_t kSeats = 4;
constexpr int kClients = 8;
constexpr const char* kEntitlement = R"({"features": [
    {"name": "seat", "seats": 4, "lease_ttl_ms": 4000, "heartbeat_interval_ms": 1000}]})";

std::uint64_t EnvOr(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

// What one client was told: lease id -> expires_at_ms. Leases whose checkin was sent
// without an answer are dropped (they may or may not be released).
struct Told {
  std::mutex mu;
  std::map<std::string, std::int64_t> leases;  // guarded by mu
  std::uint64_t grants = 0;                    // guarded by mu
};

// One client's load loop until `stop`: hold at most one lease, heartbeat it, check it in at
// random; every answered change is recorded in `told`.
void ClientLoop(std::uint16_t port, const std::string& id, std::uint64_t seed, Told& told,
                const std::atomic<bool>& stop) {
  std::mt19937_64 rng(seed);
  RawClient c;
  if (!c.Connect(port).ok() || !c.Hello(id).ok()) return;
  while (!stop.load()) {
    std::string held;
    {
      std::lock_guard lock(told.mu);
      if (!told.leases.empty()) held = told.leases.begin()->first;
    }
    if (held.empty()) {
      v1::CheckoutRequest req;
      req.set_feature("seat");
      req.set_version("1.0");
      auto r = c.Checkout(req);
      if (!r.ok()) return;  // the server died
      if (r->checkout_reply().has_granted()) {
        std::lock_guard lock(told.mu);
        told.leases[r->checkout_reply().granted().lease_id()] =
            r->checkout_reply().granted().expires_at_ms();
        ++told.grants;
      }
    } else if (rng() % 16 == 0) {
      {
        std::lock_guard lock(told.mu);
        told.leases.erase(held);  // from the moment it is sent, the outcome is uncertain
      }
      if (!c.Checkin(held).ok()) return;
    } else {
      auto r = c.Heartbeat({held});
      if (!r.ok()) return;
      const auto& res = r->heartbeat_reply().results(0);
      std::lock_guard lock(told.mu);
      if (res.renewed()) {
        told.leases[held] = res.expires_at_ms();
      } else {
        told.leases.erase(held);
      }
    }
  }
}

// After a restart: every told lease is known with at least the told expiry, or has expired.
void CheckClient(std::uint16_t port, const std::string& id, Told& told, std::size_t* held) {
  RawClient c;
  ASSERT_TRUE(c.Connect(port).ok());
  ASSERT_TRUE(c.Hello(id).ok());
  auto r = c.StatusQuery("seat");
  ASSERT_TRUE(r.ok() && r->has_status_reply());
  const auto& status = r->status_reply();
  std::map<std::string, std::int64_t> known;
  for (const auto& l : status.my_leases()) known[l.lease_id()] = l.expires_at_ms();
  std::lock_guard lock(told.mu);
  for (auto it = told.leases.begin(); it != told.leases.end();) {
    auto k = known.find(it->first);
    if (k == known.end()) {
      EXPECT_LE(it->second, status.server_time_ms())
          << id << " was told it holds " << it->first << " until " << it->second;
      it = told.leases.erase(it);
      continue;
    }
    EXPECT_GE(k->second, it->second) << id << " lease " << it->first << " lost expiry";
    ++it;
  }
  *held += told.leases.size();
  ASSERT_EQ(status.features_size(), 1);
  EXPECT_LE(status.features(0).in_use(), kSeats);
}

TEST(CrashTest, KilledUnderLoadKeepsEveryToldLease) {
  const std::uint64_t cycles = EnvOr("TESSERA_CRASH_CYCLES", 20);
  const std::uint64_t seed = EnvOr("TESSERA_CRASH_SEED", std::random_device{}());
  std::cout << "crash harness: seed " << seed << ", " << cycles << " cycles "
            << "(rerun with TESSERA_CRASH_SEED=" << seed << ")\n";
  std::mt19937_64 rng(seed);
  TempDir dir("crash");
  TesseradOptions options;
  options.entitlement_json = kEntitlement;
  options.keep_database = true;
  TesseradProcess server(dir.path(), options);
  ASSERT_TRUE(server.Start().ok());
  std::vector<Told> told(kClients);
  std::size_t verified = 0;  // told leases found held after a restart, over all cycles
  for (std::uint64_t cycle = 0; cycle < cycles; ++cycle) {
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int i = 0; i < kClients; ++i) {
      threads.emplace_back(ClientLoop, server.port(), "client-" + std::to_string(i), rng(),
                           std::ref(told[static_cast<std::size_t>(i)]), std::cref(stop));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 300));
    server.Kill();
    stop = true;
    for (auto& t : threads) t.join();

    Status integrity = store::CheckIntegrity(server.db_path().string());
    ASSERT_TRUE(integrity.ok()) << "cycle " << cycle << ": " << integrity.ToString();
    Status restarted = server.Restart();
    ASSERT_TRUE(restarted.ok()) << "cycle " << cycle << ": " << restarted.ToString();
    std::size_t held = 0;
    for (int i = 0; i < kClients; ++i) {
      CheckClient(server.port(), "client-" + std::to_string(i), told[static_cast<std::size_t>(i)],
                  &held);
    }
    EXPECT_LE(held, kSeats) << "cycle " << cycle << ": more seats told than entitled";
    verified += held;
    if (HasFailure()) {
      std::cout << "failed in cycle " << cycle << " (seed " << seed << ")\n";
      return;
    }
  }
  std::uint64_t grants = 0;
  for (auto& t : told) grants += t.grants;
  std::cout << "crash harness: " << grants << " grants, " << verified
            << " told leases verified after restarts\n";
  EXPECT_GT(grants, 0u);
  EXPECT_GT(verified, 0u);  // the checks above had something to check
  auto stopped = server.Stop();
  ASSERT_TRUE(stopped.ok());
  EXPECT_EQ(*stopped, 0);
  EXPECT_TRUE(store::CheckIntegrity(server.db_path().string()).ok());
}

}  // namespace
}  // namespace tessera::testing
