// Concurrent seats, version ranges, dates, multi-count, validation, and the denial reasons
// that come before capacity.
#include <gtest/gtest.h>

#include "engine_test_util.h"

namespace tessera::engine::testing {
namespace {

TEST(CheckoutTest, GrantsUpToSeatsThenDeniesNoSeats) {
  Engine engine = MakeEngine({Concurrent("cad", 2)});
  const Lease a = LeaseOf(engine.Checkout(Req(Client("a"), "cad"), kT0));
  const Lease b = LeaseOf(engine.Checkout(Req(Client("b"), "cad"), kT0));
  EXPECT_NE(a.id, b.id);
  EXPECT_EQ(a.expires_at, kT0 + Seconds(60));
  EXPECT_EQ(a.heartbeat_interval, Seconds(20));
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("c"), "cad"), kT0)), DenialReason::kNoSeats);
  std::vector<Event> events = engine.TakeEvents();
  EXPECT_EQ(Kinds(events),
            (std::vector{EventKind::kGranted, EventKind::kGranted, EventKind::kDenied}));
  EXPECT_EQ(events[2].reason, DenialReason::kNoSeats);
  EXPECT_EQ(events[2].client.client_id, "c");
  EXPECT_EQ(engine.UsageOf("cad", kT0)->in_use, 2u);
}

TEST(CheckoutTest, LeaseIdsStartAtTheConfiguredValue) {
  Entitlement e;
  e.features = {Concurrent("cad", 2)};
  Engine engine = MakeEngine(e, {}, 5000);
  EXPECT_EQ(LeaseOf(engine.Checkout(Req(Client("a"), "cad"), kT0)).id, 5000u);
  EXPECT_EQ(LeaseOf(engine.Checkout(Req(Client("b"), "cad"), kT0)).id, 5001u);
}

TEST(CheckoutTest, MultiCountIsAllOrNothing) {
  Engine engine = MakeEngine({Concurrent("cad", 5)});
  EXPECT_EQ(LeaseOf(engine.Checkout(Req(Client("a"), "cad", 3), kT0)).count, 3u);
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("b"), "cad", 3), kT0)), DenialReason::kNoSeats);
  EXPECT_EQ(engine.UsageOf("cad", kT0)->in_use, 3u);
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("b"), "cad", 2), kT0)));
  EXPECT_EQ(engine.UsageOf("cad", kT0)->in_use, 5u);
}

TEST(CheckoutTest, VersionRangeIsInclusiveAndNumeric) {
  Feature f = Concurrent("cad", 10);
  f.version_min = "2.9";
  f.version_max = "2.10";
  Engine engine = MakeEngine({f});
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("a"), "cad", 1, "2.9"), kT0)));
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("b"), "cad", 1, "2.10"), kT0)));
  EXPECT_TRUE(IsGranted(engine.Checkout(Req(Client("c"), "cad", 1, "2.9.5"), kT0)));
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("d"), "cad", 1, "2.8"), kT0)),
            DenialReason::kVersionOutOfRange);
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("e"), "cad", 1, "2.11"), kT0)),
            DenialReason::kVersionOutOfRange);
}

TEST(CheckoutTest, UnknownFeatureIsNoSuchFeature) {
  Engine engine = MakeEngine({Concurrent("cad", 1)});
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("a"), "cam"), kT0)), DenialReason::kNoSuchFeature);
}

TEST(CheckoutTest, MalformedRequestsAreInvalid) {
  Engine engine = MakeEngine({Concurrent("cad", 1)});
  std::vector<CheckoutRequest> bad(8, Req(Client("a"), "cad"));
  bad[0].client.client_id = "";
  bad[1].count = 0;
  bad[2].version = "two";
  bad[3].nonce = std::string(65, 'n');
  bad[4].resume_lease_id = 0;
  bad[5].metered_units = 0;
  bad[6].metered_units = kMaxMeteredUnitsPerCheckout + 1;
  bad[7].metered_units = UINT64_MAX;
  for (const CheckoutRequest& r : bad) {
    EXPECT_EQ(DenialOf(engine.Checkout(r, kT0)), DenialReason::kInvalidRequest);
  }
  EXPECT_EQ(engine.UsageOf("cad", kT0)->in_use, 0u);
}

TEST(CheckoutTest, NotStartedBeforeStartAndExpiredAfterEnd) {
  Feature f = Concurrent("cad", 1);
  f.starts_at = kT0 + Seconds(100);
  f.ends_at = kT0 + Seconds(200);
  Engine engine = MakeEngine({f});
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("a"), "cad"), kT0)), DenialReason::kNotStarted);
  const Lease l = LeaseOf(engine.Checkout(Req(Client("a"), "cad"), kT0 + Seconds(100)));
  EXPECT_FALSE(l.in_grace);
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("b"), "cad"), kT0 + Seconds(200))),
            DenialReason::kExpired);
}

TEST(CheckoutTest, GraceAllowsFlaggedCheckoutsAndCapsExpiry) {
  Feature f = Concurrent("cad", 5);
  f.ends_at = kT0 + Seconds(100);
  f.grace = Seconds(50);
  Engine engine = MakeEngine({f});
  // Before the end date a lease still never outlives end + grace.
  const Lease early = LeaseOf(engine.Checkout(Req(Client("a"), "cad"), kT0 + Seconds(99)));
  EXPECT_FALSE(early.in_grace);
  EXPECT_EQ(early.expires_at, kT0 + Seconds(150));
  const Lease grace = LeaseOf(engine.Checkout(Req(Client("b"), "cad"), kT0 + Seconds(100)));
  EXPECT_TRUE(grace.in_grace);
  EXPECT_EQ(grace.expires_at, kT0 + Seconds(150));
  EXPECT_TRUE(engine.UsageOf("cad", kT0 + Seconds(120))->in_grace);
  auto hb = engine.Heartbeat(grace.id, "b", kT0 + Seconds(140));
  EXPECT_EQ(std::get<Renewed>(hb).lease.expires_at, kT0 + Seconds(150));
  EXPECT_EQ(DenialOf(engine.Checkout(Req(Client("c"), "cad"), kT0 + Seconds(150))),
            DenialReason::kExpired);
  EXPECT_TRUE(engine.AllLeases(kT0 + Seconds(150)).empty());
}

TEST(CheckoutTest, DenialsAreEventsWithDetail) {
  Engine engine = MakeEngine({Concurrent("cad", 1)});
  auto o = engine.Checkout(Req(Client("a"), "cad", 1, "10.0"), kT0);
  ASSERT_TRUE(std::holds_alternative<Denied>(o));
  EXPECT_FALSE(std::get<Denied>(o).detail.empty());
  std::vector<Event> events = engine.TakeEvents();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, EventKind::kDenied);
  EXPECT_EQ(events[0].reason, DenialReason::kVersionOutOfRange);
  EXPECT_EQ(events[0].at, kT0);
  EXPECT_NE(FormatEvent(events[0]).find("version_out_of_range"), std::string::npos);
}

TEST(CheckoutTest, DenialReasonValuesMatchTheWire) {
  EXPECT_EQ(static_cast<int>(DenialReason::kNoSuchFeature), 1);
  EXPECT_EQ(static_cast<int>(DenialReason::kInvalidRequest), 12);
  EXPECT_EQ(static_cast<int>(DenialReason::kQueueCancelled), 15);
  EXPECT_EQ(static_cast<int>(DenialReason::kLeaseNotResumable), 16);
  EXPECT_EQ(DenialReasonName(DenialReason::kOverGroupMaximum), "over_group_maximum");
}

TEST(CheckoutTest, CreateRejectsInvalidEntitlement) {
  Entitlement e;
  e.features = {Concurrent("cad", 1), Concurrent("cad", 2)};
  EXPECT_FALSE(Engine::Create({}, e, {}).ok());
  e.features = {Concurrent("tok", 1)};
  e.features[0].model = LicenseModel::kTokenPool;
  e.features[0].pool = "missing";
  EXPECT_FALSE(Engine::Create({}, e, {}).ok());
  e.features = {Concurrent("cad", 1)};
  e.features[0].version_min = "3";
  e.features[0].version_max = "2";
  EXPECT_FALSE(Engine::Create({}, e, {}).ok());
}

}  // namespace
}  // namespace tessera::engine::testing
