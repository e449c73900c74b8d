// A seeded, reproducible randomized run: many clients, features and rules, invariants
// checked after every step, and the same inputs always giving the same event stream.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <set>

#include "engine_test_util.h"

namespace tessera::engine::testing {
namespace {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {  // splitmix64: the same sequence on every platform
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint64_t Below(uint64_t n) { return Next() % n; }
  bool Chance(int percent) { return Below(100) < static_cast<uint64_t>(percent); }

 private:
  uint64_t state_;
};

Feature Make(const std::string& name, LicenseModel model, uint32_t seats) {
  Feature f = Concurrent(name, seats);
  f.model = model;
  f.lease_ttl = Seconds(20);
  f.heartbeat_interval = Seconds(5);
  f.max_queue_length = 4;
  f.max_queue_timeout = Seconds(15);
  return f;
}

Entitlement World() {
  Entitlement e;
  e.pools = {TokenPool{"pool", 12, 4}};
  Feature c1 = Make("c1", LicenseModel::kConcurrent, 5);
  Feature c2 = Make("c2", LicenseModel::kConcurrent, 3);
  c2.enforcement = Enforcement::kSoft;
  c2.overdraft = 2;
  c2.linger = Seconds(3);
  Feature t1 = Make("t1", LicenseModel::kTokenPool, 0);
  t1.pool = "pool";
  t1.tokens_per_seat = 2;
  Feature t2 = Make("t2", LicenseModel::kTokenPool, 0);
  t2.pool = "pool";
  t2.tokens_per_seat = 3;
  t2.enforcement = Enforcement::kSoft;
  Feature n1 = Make("n1", LicenseModel::kNamedUser, 3);
  n1.named_user_min_period = Seconds(30);
  Feature m1 = Make("m1", LicenseModel::kMetered, 0);
  m1.metered_total = 400;
  Feature m2 = Make("m2", LicenseModel::kMetered, 4);
  m2.meter_mode = MeterMode::kPerUse;
  m2.metered_total = 300;
  m2.metered_overdraft = 10;
  Feature b1 = Make("b1", LicenseModel::kConcurrent, 4);
  b1.borrowable = true;
  b1.max_borrow = Seconds(120);
  b1.version_min = "2.0";
  b1.version_max = "2.10";
  Feature g1 = Make("g1", LicenseModel::kConcurrent, 3);
  g1.ends_at = kT0 + Seconds(40000);
  g1.grace = Seconds(5000);
  e.features = {c1, c2, t1, t2, n1, m1, m2, b1, g1};
  return e;
}

Rules WorldRules() {
  Rules r;
  r.user_groups["eng"] = {"u0", "u1", "u2", "u3"};
  r.user_groups["ops"] = {"u4", "u5"};
  r.host_groups["lab"] = {"h0", "h1"};
  r.reservations = {Reservation{"c1", 2, Matcher{MatchKind::kGroup, "eng"}},
                    Reservation{"b1", 1, Matcher{MatchKind::kHost, "h2"}}};
  r.maxima = {MaxRule{"c2", 2, Matcher{MatchKind::kUser, "*"}},
              MaxRule{"t1", 3, Matcher{MatchKind::kHostGroup, "lab"}}};
  r.deny = {AccessRule{"c1", Matcher{MatchKind::kUser, "u7"}}};
  r.allow = {AccessRule{"n1", Matcher{MatchKind::kGroup, "eng"}},
             AccessRule{"n1", Matcher{MatchKind::kGroup, "ops"}}};
  return r;
}

constexpr int kClients = 14;
const char* const kFeatures[] = {"c1", "c2", "t1", "t2", "n1", "m1", "m2", "b1", "g1", "zz"};
const char* const kVersions[] = {"2.0", "2.5", "2.10", "2.9.1", "1.0", "3.0", "x"};

class Simulation {
 public:
  Simulation(uint64_t seed, bool timer_calls_expire_due)
      : rng_(seed),
        timer_(timer_calls_expire_due),
        engine_(MakeEngine(World(), WorldRules(), 1000)),
        entitlement_(World()),
        rules_(WorldRules()),
        now_(kT0) {}

  // With check = false only the event stream is recorded (for the determinism replay).
  void Run(int steps, bool check = true) {
    for (int i = 0; i < steps && !::testing::Test::HasFailure(); ++i) {
      if (i == steps / 2) Reload();
      if (i % 10'000 == 9'999) RoundTrip();
      Step();
      engine_.ExpireDue(now_);  // bring the state to now_, as any call would
      Collect();
      if (check) CheckInvariants();
    }
  }

  // Halfway: a reload that adds seats and removes a feature (its leases are revoked).
  void Reload() {
    Entitlement next = World();
    next.features[0].seats = 6;  // c1
    next.features[7].seats = 5;  // b1
    next.features.pop_back();    // g1
    ASSERT_TRUE(engine_.SetEntitlement(next, now_).ok());
    entitlement_ = next;
  }

  // Export and restore in place: the state survives exactly (waiters are dropped).
  void RoundTrip() {
    EngineState before = engine_.ExportState();
    ASSERT_TRUE(engine_.RestoreState(before).ok());
    EXPECT_EQ(engine_.ExportState(), before);
    waiting_.clear();
    tickets_.clear();
  }

  // One digest per event, in order: cheap to keep for 100,000 steps, exact to compare.
  const std::vector<uint64_t>& log() const { return log_; }
  const std::map<EventKind, int>& kinds() const { return kinds_; }

 private:
  ClientInfo ClientNo(uint64_t i) const {
    return ClientInfo{"client-" + std::to_string(i), "u" + std::to_string(i % 8),
                      "h" + std::to_string(i % 4)};
  }

  void Step() {
    TimePoint next = now_ + Duration(static_cast<int64_t>(rng_.Below(1500)));
    if (timer_) {  // what the server's timer does: ExpireDue at every deadline
      while (engine_.NextDeadline() && *engine_.NextDeadline() <= next) {
        engine_.ExpireDue(*engine_.NextDeadline());
      }
    }
    now_ = next;
    uint64_t op = rng_.Below(100);
    if (op < 45) {
      DoCheckout();
    } else if (op < 70) {
      DoHeartbeat();
    } else if (op < 88) {
      DoCheckin();
    } else if (op < 92) {
      DoCancel();
    } else if (op < 94) {
      DoRevoke();
    } else {
      engine_.ExpireDue(now_);
    }
  }

  void DoCheckout() {
    uint64_t c = rng_.Below(kClients);
    CheckoutRequest r;
    r.client = ClientNo(c);
    r.feature = kFeatures[rng_.Below(rng_.Chance(97) ? 9 : 10)];
    r.version = kVersions[rng_.Chance(90) ? rng_.Below(4) : rng_.Below(7)];
    r.count = 1 + static_cast<uint32_t>(rng_.Below(rng_.Chance(80) ? 1 : 3));
    if (rng_.Chance(40)) r.queue_timeout = Seconds(1 + static_cast<int64_t>(rng_.Below(20)));
    if (r.feature == "b1" && rng_.Chance(30)) {
      r.borrow_duration = Seconds(static_cast<int64_t>(rng_.Below(150)));
    }
    if (r.feature[0] == 'm') r.metered_units = 1 + rng_.Below(4);
    if (rng_.Chance(30)) r.nonce = "n" + std::to_string(rng_.Below(5));
    if (rng_.Chance(10)) r.resume_lease_id = ResumeCandidate(c);
    std::optional<Lease> resumed;
    if (r.resume_lease_id) resumed = engine_.FindLease(*r.resume_lease_id, now_);
    bool own = resumed && resumed->client == r.client && resumed->feature == r.feature;
    uint32_t before = own ? Held(r.feature) : 0;
    CheckoutOutcome o = engine_.Checkout(r, now_);
    if (const Queued* q = std::get_if<Queued>(&o)) tickets_.push_back(q->ticket);
    if (const Granted* g = std::get_if<Granted>(&o)) {
      EXPECT_EQ(g->lease.client, r.client);
      EXPECT_GT(g->lease.expires_at, now_);
    }
    if (own && DenialOf(o) != DenialReason::kInvalidRequest) {
      EXPECT_TRUE(std::holds_alternative<Granted>(o)) << std::get<Denied>(o).detail;
      EXPECT_EQ(Held(r.feature), before) << "a resume took a second seat";
    } else if (resumed) {
      EXPECT_TRUE(DenialOf(o) == DenialReason::kLeaseNotResumable ||
                  DenialOf(o) == DenialReason::kInvalidRequest);
    }
  }

  LeaseId ResumeCandidate(uint64_t c) {
    if (rng_.Chance(50)) return 1 + rng_.Below(3000);
    std::vector<Lease> mine = engine_.LeasesOf(ClientNo(c).client_id, now_);
    if (mine.empty()) return 1 + rng_.Below(3000);
    return mine[rng_.Below(mine.size())].id;
  }

  // A lease the event stream says is live (it may have expired since).
  std::optional<Lease> RandomLease() {
    if (live_.empty()) return std::nullopt;
    auto it = live_.begin();
    std::advance(it, static_cast<ptrdiff_t>(rng_.Below(live_.size())));
    return it->second;
  }

  void TrackLive(const Event& e) {
    if (!e.lease) return;
    switch (e.kind) {
      case EventKind::kGranted:
      case EventKind::kDequeued:
      case EventKind::kRenewed:
      case EventKind::kReclaimed:
        live_[e.lease_id] = *e.lease;
        break;
      case EventKind::kReleased:
        if (!e.lease->lingering) live_.erase(e.lease_id);
        break;
      case EventKind::kExpired:
      case EventKind::kLingerEnded:
      case EventKind::kRevoked:
        live_.erase(e.lease_id);
        break;
      default:
        break;
    }
  }

  static uint64_t Digest(const Event& e) {
    uint64_t h = 1469598103934665603ull;
    auto mix = [&h](uint64_t v) { h = (h ^ v) * 1099511628211ull; };
    auto mix_text = [&mix](const std::string& t) {
      for (char c : t) mix(static_cast<unsigned char>(c));
      mix(0xFF);
    };
    mix(static_cast<uint64_t>(e.kind));
    mix(static_cast<uint64_t>(ToUnixMillis(e.at)));
    mix(e.lease_id);
    mix(e.ticket);
    mix_text(e.feature);
    mix_text(e.client.client_id);
    mix(e.count);
    mix(e.reason ? static_cast<uint64_t>(*e.reason) : 0);
    mix_text(e.detail);
    mix(e.position);
    mix(e.units);
    mix(static_cast<uint64_t>(e.metered_remaining));
    if (e.lease) {
      mix(static_cast<uint64_t>(ToUnixMillis(e.lease->expires_at)));
      mix(e.lease->overdraft * 1 + e.lease->borrowed * 2 + e.lease->in_grace * 4 +
          e.lease->lingering * 8);
      mix(e.lease->tokens);
      mix(e.lease->metered_units);
    }
    return h;
  }

  void DoHeartbeat() {
    std::optional<Lease> l = RandomLease();
    if (!l) return;
    if (rng_.Chance(5)) {
      auto o = engine_.Heartbeat(l->id, "intruder", now_);
      EXPECT_EQ(std::get<Lost>(o).reason, LossReason::kUnknown);
      return;
    }
    auto o = engine_.Heartbeat(l->id, l->client.client_id, now_);
    if (const Renewed* r = std::get_if<Renewed>(&o)) {
      EXPECT_GT(r->lease.expires_at, now_);
    }
  }

  void DoCheckin() {
    std::optional<Lease> l = RandomLease();
    if (!l) return;
    engine_.Checkin(l->id, l->client.client_id, rng_.Below(8), now_);
  }

  void DoCancel() {
    if (tickets_.empty()) return;
    size_t i = rng_.Below(tickets_.size());
    engine_.CancelQueued(tickets_[i], now_);
    tickets_.erase(tickets_.begin() + static_cast<ptrdiff_t>(i));
  }

  void DoRevoke() {
    if (std::optional<Lease> l = RandomLease()) engine_.Revoke(l->id, "random revoke", now_);
  }

  uint32_t Held(const std::string& feature) {
    std::optional<FeatureUsage> u = engine_.UsageOf(feature, now_);
    return u ? u->in_use : 0;
  }

  // Records events and checks strict FIFO service per feature.
  void Collect() {
    for (const Event& e : engine_.TakeEvents()) {
      log_.push_back(Digest(e));
      TrackLive(e);
      kinds_[e.kind]++;
      EXPECT_LE(e.at, now_);
      std::deque<QueueTicket>& q = waiting_[e.feature];
      switch (e.kind) {
        case EventKind::kQueued:
          q.push_back(e.ticket);
          EXPECT_EQ(e.position, q.size());
          break;
        case EventKind::kDequeued:
          ASSERT_FALSE(q.empty());
          EXPECT_EQ(q.front(), e.ticket) << "waiter served out of order";
          q.pop_front();
          break;
        case EventKind::kQueueTimeout:
        case EventKind::kQueueCancelled:
        case EventKind::kDenied:
          if (e.ticket != 0) std::erase(q, e.ticket);
          break;
        default:
          break;
      }
    }
  }

  void CheckInvariants() {
    EngineState s = engine_.ExportState();
    std::map<std::string, uint64_t> held, others_c1, non_h2_b1;
    uint64_t pool_tokens = 0;
    for (const Lease& l : s.leases) {
      const Feature* f = entitlement_.FindFeature(l.feature);
      ASSERT_NE(f, nullptr);
      EXPECT_GT(l.expires_at, now_) << "lease " << l.id << " visible past its expiry";
      if (f->ends_at) {
        EXPECT_LE(l.expires_at, *f->ends_at + f->grace);
      }
      if (l.overdraft) {
        EXPECT_EQ(f->enforcement, Enforcement::kSoft);
      }
      held[l.feature] += l.count;
      pool_tokens += l.tokens;
      if (l.feature == "c1" && !rules_.Matches(rules_.reservations[0].who, l.client)) {
        others_c1["c1"] += l.count;
      }
      if (l.feature == "b1" && l.client.host != "h2") non_h2_b1["b1"] += l.count;
    }
    held["n1"] = 0;
    for (const NamedUserBinding& b : s.bindings) held[b.feature] += 1;
    for (const Feature& f : entitlement_.features) {
      if (f.model != LicenseModel::kConcurrent && f.model != LicenseModel::kNamedUser &&
          f.seats == 0) {
        continue;
      }
      uint64_t cap = f.seats + (f.enforcement == Enforcement::kSoft ? f.overdraft : 0);
      EXPECT_LE(held[f.name], cap) << f.name;
    }
    EXPECT_LE(pool_tokens, 12u + 4u);
    EXPECT_LE(others_c1["c1"], entitlement_.FindFeature("c1")->seats - 2)
        << "reserved c1 seats went to others";
    EXPECT_LE(non_h2_b1["b1"], entitlement_.FindFeature("b1")->seats - 1)
        << "reserved b1 seat went to others";
    auto consumed = [&](const char* name) {
      auto it = s.metered_consumed.find(name);
      return it == s.metered_consumed.end() ? uint64_t{0} : it->second;
    };
    EXPECT_LE(consumed("m1"), 400u) << "m1 went below zero";
    EXPECT_LE(consumed("m2"), 310u) << "m2 went below its overdraft";
    if (engine_.NextDeadline()) {
      EXPECT_GT(*engine_.NextDeadline(), now_);
    }
    // The engine's own counters agree with the leases and bindings (every 16th step, to keep
    // the sanitizer build quick; the limits above are checked at every step).
    if (++checks_ % 16 != 0) return;
    for (const FeatureUsage& u : engine_.Usage(now_)) {
      EXPECT_EQ(u.in_use, held[u.name]) << u.name;
      if (!u.pool.empty()) {
        EXPECT_EQ(u.pool_tokens_in_use, pool_tokens) << u.name;
      }
    }
  }

  Rng rng_;
  bool timer_;
  Engine engine_;
  Entitlement entitlement_;
  Rules rules_;
  TimePoint now_;
  std::vector<QueueTicket> tickets_;
  std::map<std::string, std::deque<QueueTicket>> waiting_;
  std::map<LeaseId, Lease> live_;
  uint64_t checks_ = 0;
  std::vector<uint64_t> log_;
  std::map<EventKind, int> kinds_;
};

TEST(RandomizedTest, InvariantsHoldAndTheEventStreamIsReproducible) {
  constexpr int kSteps = 100'000;
  Simulation first(20261203, /*timer_calls_expire_due=*/false);
  first.Run(kSteps);
  ASSERT_FALSE(HasFailure());
  Simulation second(20261203, false);
  second.Run(kSteps, /*check=*/false);
  ASSERT_EQ(first.log().size(), second.log().size());
  EXPECT_TRUE(first.log() == second.log());
  EXPECT_GT(first.log().size(), static_cast<size_t>(kSteps));
  // The run exercised every kind of event.
  for (EventKind k :
       {EventKind::kGranted, EventKind::kRenewed, EventKind::kReleased, EventKind::kLingerEnded,
        EventKind::kReclaimed, EventKind::kExpired, EventKind::kDenied, EventKind::kQueued,
        EventKind::kDequeued, EventKind::kQueueTimeout, EventKind::kQueueCancelled,
        EventKind::kRevoked, EventKind::kOverdraftUsed, EventKind::kMeteredConsumed}) {
    EXPECT_GT(first.kinds().count(k), 0u) << EventKindName(k);
  }
}

TEST(RandomizedTest, WhenExpireDueRunsDoesNotChangeTheOutcome) {
  Simulation lazy(7, /*timer_calls_expire_due=*/false);
  lazy.Run(20'000);
  Simulation timed(7, /*timer_calls_expire_due=*/true);
  timed.Run(20'000, /*check=*/false);
  ASSERT_EQ(lazy.log().size(), timed.log().size());
  EXPECT_TRUE(lazy.log() == timed.log());
}

}  // namespace
}  // namespace tessera::engine::testing
