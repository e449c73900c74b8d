// Random sequences of engine calls, persisted call by call through the BatchWriter, must
// leave LoadState() equal to the engine's ExportState(), and a restored engine must export
// the same state again.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "server/store/batch_writer.h"
#include "server/store/state_changes.h"
#include "tests/unit/store/store_test_util.h"

namespace tessera::store {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace)

engine::Entitlement MixedEntitlement(bool with_named_user) {
  engine::Entitlement e;
  engine::Feature cad = Concurrent("cad", 2);
  cad.linger = Seconds(30);
  cad.max_queue_length = 4;
  cad.borrowable = true;
  cad.max_borrow = std::chrono::hours(48);
  cad.enforcement = engine::Enforcement::kSoft;
  cad.overdraft = 1;
  e.features.push_back(cad);

  engine::Feature runs = Concurrent("runs", 0);
  runs.model = engine::LicenseModel::kMetered;
  runs.metered_total = 40;
  runs.metered_overdraft = 5;
  e.features.push_back(runs);

  engine::Feature hours = Concurrent("hours", 0);
  hours.model = engine::LicenseModel::kMetered;
  hours.meter_mode = engine::MeterMode::kPerUse;
  hours.metered_total = 100;
  e.features.push_back(hours);

  engine::Feature sim = Concurrent("sim", 0);
  sim.model = engine::LicenseModel::kTokenPool;
  sim.pool = "pool";
  sim.tokens_per_seat = 2;
  e.features.push_back(sim);
  e.pools.push_back({"pool", 6, 0});

  if (with_named_user) {
    engine::Feature viewer = Concurrent("viewer", 2);
    viewer.model = engine::LicenseModel::kNamedUser;
    viewer.named_user_min_period = Seconds(200);
    e.features.push_back(viewer);
  }
  return e;
}

class Driver {
 public:
  Driver(uint32_t seed, bool with_named_user, BatchWriter& writer)
      : rng_(seed), with_named_user_(with_named_user), writer_(writer) {
    Result<engine::Engine> e = engine::Engine::Create({}, MixedEntitlement(with_named_user), {});
    EXPECT_TRUE(e.ok());
    engine_.emplace(std::move(e).value());
    // Startup: the store takes the engine's initial state wholesale.
    Submit(FullStateUnit(engine_->ExportState()));
  }

  void Step() {
    now_ += Duration(Pick(0, 20'000));
    switch (Pick(0, 9)) {
      case 0:
      case 1:
      case 2:
        Checkout();
        break;
      case 3:
      case 4:
      case 5:
        WithLease([&](const engine::Lease& l) {
          (void)engine_->Heartbeat(l.id, l.client.client_id, now_);
        });
        break;
      case 6:
        WithLease([&](const engine::Lease& l) {
          (void)engine_->Checkin(l.id, l.client.client_id, Pick(0, 4), now_);
          last_released_ = l;
        });
        break;
      case 7:
        WithLease([&](const engine::Lease& l) { (void)engine_->Revoke(l.id, "admin", now_); });
        break;
      case 8:
        (void)engine_->CancelQueued(static_cast<engine::QueueTicket>(Pick(1, 20)), now_);
        break;
      default:
        engine_->ExpireDue(now_ + Duration(Pick(0, 60'000)));
        break;
    }
    Persist();
  }

  engine::Engine& engine() { return *engine_; }
  size_t failures() const { return failures_.load(); }
  const std::set<engine::EventKind>& seen() const { return seen_; }

 private:
  int64_t Pick(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }

  void Checkout() {
    static const char* kFeatures[] = {"cad", "runs", "hours", "sim", "viewer"};
    int64_t n = with_named_user_ ? 4 : 3;
    std::string client = "c" + std::to_string(Pick(1, 6));
    // Half of the checkouts go to "cad", so that it fills up and its queue is used.
    engine::CheckoutRequest r = Req(Client(client), kFeatures[Pick(0, 1) == 0 ? 0 : Pick(0, n)]);
    r.count = static_cast<uint32_t>(Pick(1, 2));
    r.nonce = "n" + std::to_string(Pick(0, 30));
    if (Pick(0, 2) == 0) r.queue_timeout = Seconds(Pick(1, 120));
    if (r.feature == "cad" && Pick(0, 5) == 0) r.borrow_duration = std::chrono::hours(Pick(1, 40));
    if (r.feature == "runs") r.metered_units = static_cast<uint64_t>(Pick(1, 6));
    // Resume an id the engine issued earlier (as a client does after a restart).
    if (!issued_.empty() && Pick(0, 6) == 0) {
      r.resume_lease_id =
          issued_[static_cast<size_t>(Pick(0, static_cast<int64_t>(issued_.size()) - 1))];
    }
    // The client that just checked in comes back (reclaims a lingering seat).
    if (last_released_ && Pick(0, 2) == 0) {
      r = Req(last_released_->client, last_released_->feature, last_released_->count);
      r.version = last_released_->version;
      last_released_.reset();
    }
    engine::CheckoutOutcome o = engine_->Checkout(r, now_);
    if (auto* g = std::get_if<engine::Granted>(&o)) issued_.push_back(g->lease.id);
  }

  template <typename F>
  void WithLease(F&& f) {
    std::vector<engine::Lease> leases = engine_->AllLeases(now_);
    Persist();  // AllLeases applies what is due, which may produce events
    if (leases.empty()) return;
    f(leases[static_cast<size_t>(Pick(0, static_cast<int64_t>(leases.size()) - 1))]);
  }

  void Persist() {
    std::vector<engine::Event> events = engine_->TakeEvents();
    for (const engine::Event& e : events) seen_.insert(e.kind);
    // Bindings are not in the events (a binding may even end without any event), so with
    // named-user features the caller attaches them from the engine after every call.
    if (events.empty() && !with_named_user_) return;
    Unit unit = UnitFromEvents(std::move(events));
    if (with_named_user_) unit.changes.bindings = engine_->ExportState().bindings;
    Submit(std::move(unit));
  }

  void Submit(Unit unit) {
    writer_.Submit(std::move(unit), [this](const Status& s, uint64_t) {
      if (!s.ok()) failures_++;
    });
  }

  std::mt19937 rng_;
  bool with_named_user_;
  BatchWriter& writer_;
  std::optional<engine::Engine> engine_;
  TimePoint now_ = kT0;
  std::vector<engine::LeaseId> issued_;
  std::optional<engine::Lease> last_released_;
  std::set<engine::EventKind> seen_;
  std::atomic<size_t> failures_{0};
};

class EngineSequenceTest : public ::testing::TestWithParam<std::tuple<uint32_t, bool>> {};

TEST_P(EngineSequenceTest, LoadStateEqualsExportStateAfterEveryFlush) {
  auto [seed, with_named_user] = GetParam();
  TempDir dir;
  std::string path = dir.File("t.db");
  BatchWriter writer(OpenOrDie(path));
  Driver driver(seed, with_named_user, writer);
  // Compared after every step, so a change that a later call would mask is still caught.
  for (int step = 0; step < 400; ++step) {
    driver.Step();
    ASSERT_TRUE(writer.Flush().ok());
    engine::EngineState loaded;
    ASSERT_TRUE(writer
                    .RunOnWriter([&](Store& s) {
                      Result<engine::EngineState> r = s.LoadState();
                      if (r.ok()) loaded = *r;
                      return r.status();
                    })
                    .ok());
    ASSERT_EQ(loaded, driver.engine().ExportState()) << "seed " << seed << " step " << step;
  }
  // The sequence exercised every event kind that changes durable state.
  using K = engine::EventKind;
  for (K kind : {K::kGranted, K::kRenewed, K::kReleased, K::kLingerEnded, K::kReclaimed,
                 K::kExpired, K::kRevoked, K::kDequeued, K::kMeteredConsumed}) {
    EXPECT_TRUE(driver.seen().contains(kind)) << engine::EventKindName(kind);
  }
  EXPECT_EQ(driver.failures(), 0u);
  EXPECT_GT(writer.stats().units_committed, 100u);
  writer.Stop();

  // A restart: a fresh engine restored from the file exports the same state.
  Result<engine::EngineState> from_file = LoadStateFrom(path);
  ASSERT_TRUE(from_file.ok()) << from_file.status().ToString();
  Result<engine::Engine> restarted =
      engine::Engine::Create({}, MixedEntitlement(with_named_user), {});
  ASSERT_TRUE(restarted.ok());
  ASSERT_TRUE(restarted->RestoreState(*from_file).ok());
  EXPECT_EQ(restarted->ExportState(), driver.engine().ExportState());
}

INSTANTIATE_TEST_SUITE_P(Seeds, EngineSequenceTest,
                         ::testing::Combine(::testing::Values(1u, 2u, 3u, 4u), ::testing::Bool()));

}  // namespace
}  // namespace tessera::store
