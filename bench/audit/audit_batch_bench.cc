// Group commit under a slow signer: starts the real tesserad with a soft: identity key whose
// every signature takes --delays ms (soft:FILE?sign-delay-ms=N, docs/HSM.md), drives it with
// C concurrent raw-protocol clients looping checkout -> checkin, and reports throughput,
// checkout latency (also in signer delays) and leases per audit block (= per signature).
//
//   build/bench/bench/audit/audit_batch_bench [--duration-s=10] [--warmup-s=2]
//       [--clients=1,16,128,512] [--delays=0,100] [--tesserad=PATH] [--keep]
//
// A benchmark, not a test: it asserts nothing, it prints numbers (docs/BENCH.md).
// Exit 0 after a complete run, 1 when tesserad or a client fails.
#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <latch>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/status.h"
#include "hsm/key_store.h"
#include "hsm/provision.h"
#include "tests/support/raw_client.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tesserad_process.h"

namespace tessera::bench {
namespace {

using testing::RawClient;
using testing::TempDir;
using testing::TesseradOptions;
using testing::TesseradProcess;
// Latency is measured on the steady clock directly: a load generator is not product code
// and needs sub-millisecond resolution (tessera::MonotonicNow() counts whole ms).
using SteadyClock = std::chrono::steady_clock;

constexpr const char* kFeature = "bench";
constexpr const char* kEntitlement = R"({
  "features": [
    {"name": "bench", "version_min": "1.0", "version_max": "9.0", "seats": 100000,
     "lease_ttl_ms": 600000, "heartbeat_interval_ms": 300000}
  ]
})";

struct Flags {
  int duration_s = 10;
  int warmup_s = 2;
  std::vector<int> clients{1, 16, 128, 512};
  std::vector<int> delays_ms{0, 100};
  std::string tesserad;  // empty: TesseradBinary()
  bool keep = false;
};

std::optional<std::vector<int>> ParseList(std::string_view s) {
  std::vector<int> out;
  while (!s.empty()) {
    const size_t comma = s.find(',');
    const std::string item(s.substr(0, comma));
    char* end = nullptr;
    const long v = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || v < 0 || v > 100000) return std::nullopt;
    out.push_back(static_cast<int>(v));
    s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
  }
  if (out.empty()) return std::nullopt;
  return out;
}

std::optional<Flags> ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&](std::string_view name) -> std::optional<std::string_view> {
      if (!a.starts_with(name) || a.size() <= name.size() || a[name.size()] != '=') return {};
      return a.substr(name.size() + 1);
    };
    if (auto v = value("--duration-s")) {
      auto l = ParseList(*v);
      if (!l || l->size() != 1 || (*l)[0] < 1) return std::nullopt;
      f.duration_s = (*l)[0];
    } else if (auto w = value("--warmup-s")) {
      auto l = ParseList(*w);
      if (!l || l->size() != 1) return std::nullopt;
      f.warmup_s = (*l)[0];
    } else if (auto c = value("--clients")) {
      auto l = ParseList(*c);
      if (!l || std::count(l->begin(), l->end(), 0) > 0) return std::nullopt;
      f.clients = *l;
    } else if (auto d = value("--delays")) {
      auto l = ParseList(*d);
      if (!l || std::count_if(l->begin(), l->end(), [](int x) { return x > 10000; }) > 0) {
        return std::nullopt;
      }
      f.delays_ms = *l;
    } else if (auto t = value("--tesserad")) {
      f.tesserad = std::string(*t);
    } else if (a == "--keep") {
      f.keep = true;
    } else {
      return std::nullopt;
    }
  }
  return f;
}

// Highest audit block sequence and leaf count so far (read-only; tesserad keeps writing).
struct ChainCount {
  int64_t blocks = 0;  // rows of audit_blocks
  int64_t leaves = 0;  // rows of audit_leaves
};

Result<ChainCount> CountChain(const std::string& db_path) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> guard(db, &sqlite3_close);
  if (rc != SQLITE_OK) return Internal("cannot open " + db_path);
  sqlite3_busy_timeout(db, 5000);
  ChainCount out;
  for (auto [sql, dest] : {std::pair{"SELECT COUNT(*) FROM audit_blocks", &out.blocks},
                           std::pair{"SELECT COUNT(*) FROM audit_leaves", &out.leaves}}) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) != SQLITE_OK) {
      return Internal(std::string("cannot prepare ") + sql + ": " + sqlite3_errmsg(db));
    }
    std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> st_guard(st, &sqlite3_finalize);
    if (sqlite3_step(st) != SQLITE_ROW) return Internal(std::string("cannot run ") + sql);
    *dest = sqlite3_column_int64(st, 0);
  }
  return out;
}

// Phases of one measurement; clients count the grants that complete in kMeasure.
enum Phase : int { kWarmup = 0, kMeasure = 1, kStop = 2 };

struct ClientResult {
  std::vector<double> checkout_ms;  // measured grants' latencies
  int64_t grants = 0;               // measured grants
  int64_t tokenless = 0;            // measured grants without a lease token
  int64_t denials = 0;
  std::string error;  // first transport or protocol failure; the client stopped there
};

// One client's loop: checkout, then checkin of the granted lease, until kStop.
void RunClient(uint16_t port, const std::string& id, std::latch& ready,
               const std::atomic<int>& phase, ClientResult& out) {
  RawClient client;
  Status s = client.Connect(port);
  auto hello = s.ok() ? client.Hello(id, id, "bench-host") : Result<v1::Frame>(s);
  ready.count_down();
  if (!hello.ok() || !hello->has_hello_reply()) {
    out.error = hello.ok() ? "hello refused" : hello.status().ToString();
    return;
  }
  out.checkout_ms.reserve(4096);
  while (phase.load(std::memory_order_acquire) != kStop) {
    const auto t0 = SteadyClock::now();
    auto reply = client.Checkout(kFeature, "1.0");
    const auto t1 = SteadyClock::now();
    if (!reply.ok() || !reply->has_checkout_reply()) {
      out.error =
          reply.ok() ? "checkout answered " + reply->ShortDebugString() : reply.status().ToString();
      return;
    }
    if (!reply->checkout_reply().has_granted()) {
      ++out.denials;
      continue;
    }
    const v1::Lease& lease = reply->checkout_reply().granted();
    // Counted when it completed inside the window (so grants/s is unbiased at the edges).
    if (phase.load(std::memory_order_acquire) == kMeasure) {
      ++out.grants;
      if (lease.token().empty()) ++out.tokenless;
      out.checkout_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    auto checkin = client.Checkin(lease.lease_id());
    if (!checkin.ok() || !checkin->has_checkin_reply()) {
      out.error = checkin.ok() ? "checkin answered " + checkin->ShortDebugString()
                               : checkin.status().ToString();
      return;
    }
  }
}

struct Point {
  int delay_ms = 0;
  int clients = 0;
  double seconds = 0;
  int64_t grants = 0;
  int64_t tokenless = 0;
  int64_t denials = 0;
  int64_t blocks = 0;
  int64_t leaves = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
  double grants_per_s() const { return seconds > 0 ? static_cast<double>(grants) / seconds : 0; }
};

double Percentile(std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const size_t i = std::min(sorted.size() - 1, static_cast<size_t>(q * sorted.size()));
  return sorted[i];
}

// Runs `clients` clients against a running tesserad for warmup + duration.
Result<Point> Measure(const TesseradProcess& server, int clients, const Flags& flags) {
  std::vector<ClientResult> results(clients);
  std::latch ready(clients);
  std::atomic<int> phase{kWarmup};
  std::vector<std::thread> threads;
  threads.reserve(clients);
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back(RunClient, server.port(),
                         "c" + std::to_string(clients) + "-" + std::to_string(i), std::ref(ready),
                         std::cref(phase), std::ref(results[i]));
  }
  ready.wait();
  std::this_thread::sleep_for(std::chrono::seconds(flags.warmup_s));
  auto before = CountChain(server.db_path().string());
  const auto t0 = SteadyClock::now();
  phase.store(kMeasure, std::memory_order_release);
  std::this_thread::sleep_for(std::chrono::seconds(flags.duration_s));
  phase.store(kStop, std::memory_order_release);
  const auto t1 = SteadyClock::now();
  auto after = CountChain(server.db_path().string());
  for (auto& t : threads) t.join();
  if (!before.ok()) return before.status();
  if (!after.ok()) return after.status();

  Point p;
  p.clients = clients;
  p.seconds = std::chrono::duration<double>(t1 - t0).count();
  p.blocks = after->blocks - before->blocks;
  p.leaves = after->leaves - before->leaves;
  std::vector<double> all;
  for (auto& r : results) {
    if (!r.error.empty()) return Internal("client failed: " + r.error);
    p.grants += r.grants;
    p.tokenless += r.tokenless;
    p.denials += r.denials;
    all.insert(all.end(), r.checkout_ms.begin(), r.checkout_ms.end());
  }
  std::sort(all.begin(), all.end());
  p.p50_ms = Percentile(all, 0.50);
  p.p99_ms = Percentile(all, 0.99);
  p.max_ms = all.empty() ? 0 : all.back();
  return p;
}

// A provisioned soft identity key, created without delay (provisioning self-signs).
Result<std::string> ProvisionKey(const TempDir& dir) {
  const std::string pem = dir.File("identity.pem").string();
  TESSERA_ASSIGN_OR_RETURN(auto store, hsm::OpenKeyStore("soft:" + pem, {.allow_insecure = true}));
  TESSERA_ASSIGN_OR_RETURN(auto provisioned, hsm::Provision(*store, {}));
  (void)provisioned;
  return pem;
}

// One tesserad per signer delay; every client count runs against it in turn.
Status RunDelay(int delay_ms, const Flags& flags, std::vector<Point>& points) {
  TempDir dir("audit-bench");
  TESSERA_ASSIGN_OR_RETURN(std::string pem, ProvisionKey(dir));
  TesseradOptions options;
  options.entitlement_json = kEntitlement;
  options.binary = flags.tesserad;
  options.extra_args = {"--key-uri", "soft:" + pem + "?sign-delay-ms=" + std::to_string(delay_ms),
                        "--insecure-dev-keys"};
  TesseradProcess server(dir.File("d"), options);
  std::filesystem::create_directories(dir.File("d"));
  TESSERA_RETURN_IF_ERROR(server.Start());
  for (int clients : flags.clients) {
    std::fprintf(stderr, "delay %d ms, %d clients ...\n", delay_ms, clients);
    auto p = Measure(server, clients, flags);
    if (!p.ok()) {
      const std::string log = server.Log();
      return p.status().Annotate("tesserad log tail: " +
                                 log.substr(log.size() > 2000 ? log.size() - 2000 : 0));
    }
    p->delay_ms = delay_ms;
    points.push_back(*p);
  }
  auto stopped = server.Stop();
  if (flags.keep) {
    std::fprintf(stderr, "kept %s\n", dir.path().c_str());
    ::setenv("TESSERA_KEEP_TEMP", "1", 1);  // NOLINT(concurrency-mt-unsafe)
  }
  if (!stopped.ok()) return stopped.status();
  return Status::Ok();
}

void PrintTable(const std::vector<Point>& points) {
  std::printf(
      "| signer delay | clients | grants/s | checkout p50 ms | p99 ms | max ms | p50/delay | "
      "p99/delay | audit blocks | leases/signature | events/block | signer busy |\n"
      "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const Point& p : points) {
    const double blocks = static_cast<double>(std::max<int64_t>(p.blocks, 1));
    char p50d[16] = "-", p99d[16] = "-", busy[16] = "-";
    if (p.delay_ms > 0) {
      std::snprintf(p50d, sizeof p50d, "%.2f", p.p50_ms / p.delay_ms);
      std::snprintf(p99d, sizeof p99d, "%.2f", p.p99_ms / p.delay_ms);
      // Share of the wall time the (serial) signer spent in its delay.
      std::snprintf(busy, sizeof busy, "%.0f%%",
                    100.0 * static_cast<double>(p.blocks) * p.delay_ms / 1000.0 / p.seconds);
    }
    std::printf("| %d ms | %d | %.1f | %.2f | %.2f | %.2f | %s | %s | %lld | %.2f | %.2f | %s |\n",
                p.delay_ms, p.clients, p.grants_per_s(), p.p50_ms, p.p99_ms, p.max_ms, p50d, p99d,
                static_cast<long long>(p.blocks), static_cast<double>(p.grants) / blocks,
                static_cast<double>(p.leaves) / blocks, busy);
  }
  for (const Point& p : points) {
    if (p.tokenless > 0 || p.denials > 0) {
      std::printf("note: delay %d ms, %d clients: %lld grants without token, %lld denials\n",
                  p.delay_ms, p.clients, static_cast<long long>(p.tokenless),
                  static_cast<long long>(p.denials));
    }
  }
}

// Throughput at each client count relative to the first delay (the baseline).
void PrintRatios(const std::vector<Point>& points) {
  if (points.empty()) return;
  const int baseline = points.front().delay_ms;
  std::printf(
      "\n| clients | signer delay | grants/s vs %d ms | p99 / delay |\n|---:|---:|---:|---:|\n",
      baseline);
  for (const Point& p : points) {
    if (p.delay_ms == baseline) continue;
    for (const Point& b : points) {
      if (b.delay_ms != baseline || b.clients != p.clients) continue;
      const double ratio = b.grants_per_s() > 0 ? p.grants_per_s() / b.grants_per_s() : 0;
      std::printf(
          "| %d | %d ms | %.3f | %s |\n", p.clients, p.delay_ms, ratio,
          p.delay_ms > 0 ? std::to_string(p.p99_ms / p.delay_ms).substr(0, 5).c_str() : "-");
    }
  }
}

}  // namespace
}  // namespace tessera::bench

int main(int argc, char** argv) {
  using namespace tessera::bench;
  std::optional<Flags> flags = ParseFlags(argc, argv);
  if (!flags) {
    std::fprintf(stderr,
                 "usage: %s [--duration-s=10] [--warmup-s=2] [--clients=1,16,128,512] "
                 "[--delays=0,100] [--tesserad=PATH] [--keep]\n",
                 argv[0]);
    return 2;
  }
  std::vector<Point> points;
  for (int delay : flags->delays_ms) {
    tessera::Status s = RunDelay(delay, *flags, points);
    if (!s.ok()) {
      std::fprintf(stderr, "delay %d ms: %s\n", delay, s.ToString().c_str());
      return 1;
    }
  }
  std::printf("duration %d s per point after %d s warmup\n\n", flags->duration_s, flags->warmup_s);
  PrintTable(points);
  PrintRatios(points);
  return 0;
}
