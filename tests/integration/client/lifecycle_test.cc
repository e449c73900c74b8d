// Checkout, background renewal, checkin and typed denials against a real tesserad.
#include <gtest/gtest.h>

#include "base/system_clock.h"
#include "tests/integration/client/client_fixture.h"
#include "tests/support/tls_files.h"

namespace tessera::client::testing {
namespace {

TEST(ClientLifecycleTest, CheckoutRenewsAcrossSeveralTtlsThenChecksIn) {
  tessera::testing::TempDir dir("client-lifecycle");
  FeatureSpec cad;
  cad.seats = 2;
  cad.lease_ttl_ms = 800;
  cad.heartbeat_interval_ms = 200;
  auto server = StartServer(dir.path(), {cad});
  ASSERT_NE(server, nullptr);

  auto client = Client::Create(LocalOptions({server->port()}));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto outcome = (*client)->Checkout(Request("cad"));
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  ASSERT_TRUE(outcome->granted()) << DenialReasonName(outcome->denial().reason);
  const Lease lease = outcome->lease();
  EXPECT_FALSE(lease.lease_id.empty());
  EXPECT_EQ(lease.feature, "cad");
  EXPECT_EQ(lease.count, 1u);
  EXPECT_GT(lease.expires_at, lease.issued_at);

  // Let five TTLs pass: without renewals the server would have expired the lease.
  const Duration until = MonotonicNow() + Duration(5 * cad.lease_ttl_ms);
  ASSERT_TRUE(WaitUntil([&] { return MonotonicNow() > until; }));
  auto status = (*client)->GetStatus("cad");
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  ASSERT_EQ(status->features.size(), 1u);
  EXPECT_EQ(status->features[0].in_use, 1u);
  ASSERT_EQ(status->my_leases.size(), 1u);
  EXPECT_EQ(status->my_leases[0].lease_id, lease.lease_id);
  EXPECT_GT(status->my_leases[0].expires_at, lease.expires_at + Duration(3 * cad.lease_ttl_ms));
  auto held = (*client)->Leases();
  ASSERT_EQ(held.size(), 1u);
  EXPECT_GT(held[0].expires_at, lease.expires_at);

  auto checkin = (*client)->Checkin(lease.lease_id);
  ASSERT_TRUE(checkin.ok()) << checkin.status().ToString();
  EXPECT_TRUE(checkin->released);
  EXPECT_EQ(InUse(**client, "cad"), 0);
  EXPECT_TRUE((*client)->Leases().empty());

  // A second checkin of the same lease is a typed answer, not an error.
  auto again = (*client)->Checkin(lease.lease_id);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_FALSE(again->released);
}

TEST(ClientLifecycleTest, TypedDenialsReachTheApi) {
  tessera::testing::TempDir dir("client-denials");
  FeatureSpec cad;
  cad.seats = 1;
  cad.version_max = "3.0";
  auto server = StartServer(dir.path(), {cad});
  ASSERT_NE(server, nullptr);
  auto a = Client::Create(LocalOptions({server->port()}));
  auto b = Client::Create(LocalOptions({server->port()}));
  ASSERT_TRUE(a.ok() && b.ok());

  auto first = (*a)->Checkout(Request("cad"));
  ASSERT_TRUE(first.ok() && first->granted());

  auto full = (*b)->Checkout(Request("cad"));
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  ASSERT_FALSE(full->granted());
  EXPECT_EQ(full->denial().reason, DenialReason::kNoSeats);

  auto missing = (*b)->Checkout(Request("no-such-thing"));
  ASSERT_TRUE(missing.ok()) << missing.status().ToString();
  ASSERT_FALSE(missing->granted());
  EXPECT_EQ(missing->denial().reason, DenialReason::kNoSuchFeature);

  auto too_new = (*b)->Checkout(Request("cad", "7.0"));
  ASSERT_TRUE(too_new.ok()) << too_new.status().ToString();
  ASSERT_FALSE(too_new->granted());
  EXPECT_EQ(too_new->denial().reason, DenialReason::kVersionOutOfRange);
}

TEST(ClientLifecycleTest, QueuedCheckoutIsServedWhenASeatFrees) {
  tessera::testing::TempDir dir("client-queue");
  FeatureSpec cad;
  cad.seats = 1;
  cad.max_queue_length = 4;
  auto server = StartServer(dir.path(), {cad});
  ASSERT_NE(server, nullptr);
  auto a = Client::Create(LocalOptions({server->port()}));
  auto b = Client::Create(LocalOptions({server->port()}));
  ASSERT_TRUE(a.ok() && b.ok());
  auto first = (*a)->Checkout(Request("cad"));
  ASSERT_TRUE(first.ok() && first->granted());

  std::optional<Result<CheckoutOutcome>> waited;
  std::thread waiter([&] {
    CheckoutRequest request = Request("cad");
    request.queue_timeout = Seconds(30);
    waited = (*b)->Checkout(request);
  });
  // Once b is queued, free the seat.
  EXPECT_TRUE(WaitUntil([&] {
    auto s = (*a)->GetStatus("cad");
    return s.ok() && !s->features.empty() && s->features[0].queued == 1;
  }));
  ASSERT_TRUE((*a)->Checkin(first->lease().lease_id).ok());
  waiter.join();
  ASSERT_TRUE(waited.has_value() && waited->ok()) << waited->status().ToString();
  EXPECT_TRUE((*waited)->granted());
}

TEST(ClientLifecycleTest, DestroyingTheClientChecksItsLeasesIn) {
  tessera::testing::TempDir dir("client-close");
  FeatureSpec cad;
  cad.seats = 3;
  cad.lease_ttl_ms = 60'000;  // only a checkin can free the seats within the test
  cad.heartbeat_interval_ms = 20'000;
  auto server = StartServer(dir.path(), {cad});
  ASSERT_NE(server, nullptr);
  auto observer = Client::Create(LocalOptions({server->port()}));
  ASSERT_TRUE(observer.ok());
  {
    auto client = Client::Create(LocalOptions({server->port()}));
    ASSERT_TRUE(client.ok());
    ASSERT_TRUE((*client)->Checkout(Request("cad", "2.0", 2)).ok());
    EXPECT_EQ(InUse(**observer, "cad"), 2);
  }
  EXPECT_EQ(InUse(**observer, "cad"), 0);
}

TEST(ClientLifecycleTest, CheckoutOverTlsVerifiesTheServer) {
  tessera::testing::TempDir dir("client-tls");
  auto tls = tessera::testing::MakeSelfSignedCert(dir.path());
  ASSERT_TRUE(tls.ok()) << tls.status().ToString();
  auto server = StartServer(dir.File("server"), {FeatureSpec{}},
                            R"({"tls_cert_file": ")" + tls->cert.string() +
                                R"(", "tls_key_file": ")" + tls->key.string() + R"("})");
  ASSERT_NE(server, nullptr);

  ClientOptions options = LocalOptions({server->port()});
  options.tls.enabled = true;
  options.tls.ca_file = tls->cert.string();
  options.tls.server_name = "localhost";
  auto client = Client::Create(options);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto outcome = (*client)->Checkout(Request("cad"));
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  ASSERT_TRUE(outcome->granted());
  auto checkin = (*client)->Checkin(outcome->lease().lease_id);
  ASSERT_TRUE(checkin.ok());
  EXPECT_TRUE(checkin->released);

  // A certificate for another name is refused: no seat, a typed transport error.
  options.tls.server_name = "not-this-server.example";
  auto wrong = Client::Create(options);
  ASSERT_TRUE(wrong.ok());
  auto refused = (*wrong)->Checkout(Request("cad"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable) << refused.status().ToString();
}

}  // namespace
}  // namespace tessera::client::testing
