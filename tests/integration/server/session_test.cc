// Hello and version negotiation, checkout, heartbeat, checkin, status, queueing and
// pipelining against a real tesserad over TCP.
#include <gtest/gtest.h>

#include <regex>

#include "tests/integration/server/server_test_util.h"

namespace tessera::testing {
namespace {

namespace v1 = tessera::v1;

TEST_F(ServerTest, HelloNegotiatesVersionOne) {
  StartServer();
  RawClient c;
  ASSERT_TRUE(c.Connect(server_->port()).ok());
  auto reply = c.Hello("c1", "alice", "ws1", 1, 7);
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  ASSERT_TRUE(reply->has_hello_reply()) << reply->DebugString();
  EXPECT_EQ(reply->hello_reply().version(), 1u);
  EXPECT_EQ(reply->hello_reply().max_frame_bytes(), 1u << 20);
  EXPECT_GT(reply->hello_reply().max_in_flight(), 0u);
  EXPECT_EQ(reply->hello_reply().server_id(), "tesserad");
  EXPECT_FALSE(reply->hello_reply().server_version().empty());
}

TEST_F(ServerTest, NoCommonVersionIsRefusedAndClosed) {
  StartServer();
  for (auto [lo, hi] : {std::pair{2u, 5u}, std::pair{0u, 0u}, std::pair{3u, 1u}}) {
    RawClient c;
    ASSERT_TRUE(c.Connect(server_->port()).ok());
    auto reply = c.Hello("c1", "alice", "ws1", lo, hi);
    ASSERT_TRUE(reply.ok()) << reply.status().ToString();
    ASSERT_TRUE(reply->has_error()) << reply->DebugString();
    EXPECT_EQ(reply->error().code(), v1::UNSUPPORTED_VERSION);
    EXPECT_TRUE(c.WaitClosed());
  }
}

TEST_F(ServerTest, CheckoutHeartbeatCheckin) {
  StartServer();
  auto c = Client("c1");
  auto a = c->Checkout("cad", "2.0");
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(a->checkout_reply().has_granted()) << a->DebugString();
  const v1::Lease& lease = a->checkout_reply().granted();
  EXPECT_TRUE(std::regex_match(lease.lease_id(), std::regex("[0-9a-f]{16}"))) << lease.lease_id();
  EXPECT_EQ(lease.feature(), "cad");
  EXPECT_EQ(lease.count(), 1u);
  EXPECT_EQ(lease.heartbeat_interval_ms(), 20000u);
  EXPECT_GT(lease.expires_at_ms(), lease.issued_at_ms());

  auto b = c->Checkout("cad", "2.0");
  ASSERT_TRUE(b->checkout_reply().has_granted()) << b->DebugString();
  std::string id_a = lease.lease_id();
  std::string id_b = b->checkout_reply().granted().lease_id();
  EXPECT_NE(id_a, id_b);

  // One heartbeat renews many leases; each result stands alone.
  auto hb = c->Heartbeat({id_a, id_b, "ffffffffffffffff", "not-a-lease"});
  ASSERT_TRUE(hb.ok());
  ASSERT_TRUE(hb->has_heartbeat_reply()) << hb->DebugString();
  const auto& results = hb->heartbeat_reply().results();
  ASSERT_EQ(results.size(), 4);
  EXPECT_TRUE(results[0].renewed());
  EXPECT_TRUE(results[1].renewed());
  EXPECT_GE(results[0].expires_at_ms(), lease.expires_at_ms());
  EXPECT_FALSE(results[2].renewed());
  EXPECT_EQ(results[2].lost(), v1::LEASE_UNKNOWN);
  EXPECT_EQ(results[3].lost(), v1::LEASE_UNKNOWN);

  auto in = c->Checkin(id_a);
  ASSERT_TRUE(in->checkin_reply().released()) << in->DebugString();
  auto again = c->Checkin(id_a);
  EXPECT_FALSE(again->checkin_reply().released());
  EXPECT_EQ(again->checkin_reply().lost(), v1::LEASE_RELEASED);
  auto hb2 = c->Heartbeat({id_a});
  EXPECT_EQ(hb2->heartbeat_reply().results(0).lost(), v1::LEASE_RELEASED);
}

TEST_F(ServerTest, AnotherClientsLeaseIsUnknown) {
  StartServer();
  auto c1 = Client("c1");
  auto c2 = Client("c2", "bob");
  auto a = c1->Checkout("cad", "1.0");
  ASSERT_TRUE(a->checkout_reply().has_granted());
  std::string id = a->checkout_reply().granted().lease_id();
  EXPECT_EQ(c2->Heartbeat({id})->heartbeat_reply().results(0).lost(), v1::LEASE_UNKNOWN);
  EXPECT_FALSE(c2->Checkin(id)->checkin_reply().released());
  EXPECT_TRUE(c1->Checkin(id)->checkin_reply().released());
}

TEST_F(ServerTest, StatusShowsFeaturesAndMyLeases) {
  StartServer();
  auto c = Client("c1");
  auto a = c->Checkout("cad", "3.0");
  ASSERT_TRUE(a->checkout_reply().has_granted());
  auto st = c->StatusQuery();
  ASSERT_TRUE(st->has_status_reply()) << st->DebugString();
  const auto& s = st->status_reply();
  ASSERT_EQ(s.features_size(), 1);
  EXPECT_EQ(s.features(0).name(), "cad");
  EXPECT_EQ(s.features(0).model(), "concurrent");
  EXPECT_EQ(s.features(0).seats(), 2u);
  EXPECT_EQ(s.features(0).in_use(), 1u);
  ASSERT_EQ(s.my_leases_size(), 1);
  EXPECT_EQ(s.my_leases(0).lease_id(), a->checkout_reply().granted().lease_id());
  EXPECT_FALSE(s.draining());
  EXPECT_GT(s.server_time_ms(), 0);
  EXPECT_EQ(c->StatusQuery("nope")->status_reply().features_size(), 0);
}

TEST_F(ServerTest, QueuedCheckoutIsAnsweredWhenASeatFrees) {
  StartServer();
  auto holder = Client("holder");
  auto l1 = holder->Checkout("cad", "1.0");
  auto l2 = holder->Checkout("cad", "1.0");
  ASSERT_TRUE(l2->checkout_reply().has_granted());

  auto waiter = Client("waiter", "bob");
  v1::Frame f;
  f.set_request_id(77);
  f.mutable_checkout()->set_feature("cad");
  f.mutable_checkout()->set_version("1.0");
  f.mutable_checkout()->set_queue_timeout_ms(30000);
  ASSERT_TRUE(waiter->Send(f).ok());
  auto notice = waiter->ReadBody(v1::Frame::kQueued);
  ASSERT_TRUE(notice.ok()) << notice.status().ToString();
  EXPECT_EQ(notice->request_id(), 77u);
  EXPECT_EQ(notice->queued().position(), 1u);

  // While queued, the same connection is still served (pipelining, out-of-order replies).
  auto st = waiter->StatusQuery("cad");
  ASSERT_TRUE(st->has_status_reply());
  EXPECT_EQ(st->status_reply().features(0).queued(), 1u);

  ASSERT_TRUE(
      holder->Checkin(l1->checkout_reply().granted().lease_id())->checkin_reply().released());
  auto granted = waiter->ReadReply(77);
  ASSERT_TRUE(granted.ok()) << granted.status().ToString();
  ASSERT_TRUE(granted->checkout_reply().has_granted()) << granted->DebugString();
}

TEST_F(ServerTest, QueueTimeoutAndCancel) {
  StartServer();
  auto holder = Client("holder");
  ASSERT_TRUE(holder->Checkout("cad", "1.0")->checkout_reply().has_granted());
  ASSERT_TRUE(holder->Checkout("cad", "1.0")->checkout_reply().has_granted());
  auto waiter = Client("waiter", "bob");

  v1::Frame timed;
  timed.set_request_id(5);
  timed.mutable_checkout()->set_feature("cad");
  timed.mutable_checkout()->set_version("1.0");
  timed.mutable_checkout()->set_queue_timeout_ms(300);
  ASSERT_TRUE(waiter->Send(timed).ok());
  auto r = waiter->ReadReply(5);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->checkout_reply().has_denied()) << r->DebugString();
  EXPECT_EQ(r->checkout_reply().denied().reason(), v1::QUEUE_TIMEOUT);

  v1::Frame longer = timed;
  longer.set_request_id(6);
  longer.mutable_checkout()->set_queue_timeout_ms(60000);
  ASSERT_TRUE(waiter->Send(longer).ok());
  ASSERT_TRUE(waiter->ReadBody(v1::Frame::kQueued).ok());
  v1::Frame cancel;
  cancel.mutable_cancel_queue()->set_checkout_request_id(6);
  auto c = waiter->Call(cancel);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->cancel_queue_reply().cancelled()) << c->DebugString();
  auto denied = waiter->ReadReply(6);
  ASSERT_TRUE(denied.ok());
  EXPECT_EQ(denied->checkout_reply().denied().reason(), v1::QUEUE_CANCELLED);
}

TEST_F(ServerTest, PipelinedRequestsAreAllAnswered) {
  StartServer();
  auto c = Client("c1");
  std::string batch;
  for (std::uint64_t id = 100; id < 140; ++id) {
    v1::Frame f;
    f.set_request_id(id);
    f.mutable_status();
    batch += *protocol::EncodeFrame(f);
  }
  ASSERT_TRUE(c->SendBytes(batch).ok());
  for (std::uint64_t id = 100; id < 140; ++id) {
    auto r = c->ReadReply(id);
    ASSERT_TRUE(r.ok()) << id << " " << r.status().ToString();
    EXPECT_TRUE(r->has_status_reply());
  }
}

TEST_F(ServerTest, RequestIdRules) {
  StartServer();
  auto c = Client("c1");
  v1::Frame zero;
  zero.mutable_status();
  zero.set_request_id(0);
  ASSERT_TRUE(c->Send(zero).ok());
  auto r = c->Read();
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_error());
  EXPECT_EQ(r->error().code(), v1::INVALID_ARGUMENT);
  // The connection is still usable.
  EXPECT_TRUE(c->StatusQuery()->has_status_reply());
  // A second Hello is refused, not fatal.
  auto again = c->Hello("c1");
  ASSERT_TRUE(again->has_error());
  EXPECT_EQ(again->error().code(), v1::INVALID_ARGUMENT);
  EXPECT_TRUE(c->StatusQuery()->has_status_reply());
}

TEST_F(ServerTest, TooManyInFlightIsRefused) {
  StartServer(kBasicEntitlement, "", R"({"max_in_flight": 2})");
  auto holder = Client("holder");
  ASSERT_TRUE(holder->Checkout("cad", "1.0")->checkout_reply().has_granted());
  ASSERT_TRUE(holder->Checkout("cad", "1.0")->checkout_reply().has_granted());
  auto c = Client("c2", "bob");
  // Two queued checkouts stay in flight; the third request is refused.
  for (std::uint64_t id : {1u, 2u}) {
    v1::Frame f;
    f.set_request_id(id);
    f.mutable_checkout()->set_feature("cad");
    f.mutable_checkout()->set_version("1.0");
    f.mutable_checkout()->set_queue_timeout_ms(60000);
    ASSERT_TRUE(c->Send(f).ok());
    ASSERT_TRUE(c->ReadBody(v1::Frame::kQueued).ok());
  }
  v1::Frame third;
  third.set_request_id(3);
  third.mutable_status();
  auto r = c->Call(third);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_error()) << r->DebugString();
  EXPECT_EQ(r->error().code(), v1::TOO_MANY_IN_FLIGHT);
}

TEST_F(ServerTest, LeaseIdsDifferAcrossRestarts) {
  StartServer();
  std::string first;
  {
    auto c = Client("c1");
    first = c->Checkout("cad", "1.0")->checkout_reply().granted().lease_id();
  }
  ASSERT_TRUE(server_->Stop().ok());
  ASSERT_TRUE(server_->Restart().ok());
  auto c = Client("c1");
  auto second = c->Checkout("cad", "1.0");
  ASSERT_TRUE(second->checkout_reply().has_granted()) << second->DebugString();
  EXPECT_NE(second->checkout_reply().granted().lease_id(), first);
}

}  // namespace
}  // namespace tessera::testing

namespace tessera::testing {
namespace {

TEST_F(ServerTest, ExpiryDriverEndsUnrenewedLeasesWithoutAnyRequest) {
  StartServer(R"({"features": [{"name": "cad", "seats": 1, "lease_ttl_ms": 400,
                                 "heartbeat_interval_ms": 100}]})");
  {
    auto gone = Client("gone");
    auto lease = gone->Checkout("cad", "1.0");
    ASSERT_TRUE(lease->checkout_reply().has_granted());
  }  // the client vanishes without checking in
  // No request reaches the server meanwhile: only the expiry driver can end the lease.
  EXPECT_TRUE(server_->WaitForLog("kind=expired", std::chrono::seconds(10)));
  auto next = Client("next", "bob");
  EXPECT_TRUE(next->Checkout("cad", "1.0")->checkout_reply().has_granted());
}

}  // namespace
}  // namespace tessera::testing

namespace tessera::testing {
namespace {

TEST_F(ServerTest, OneHeartbeatRenewsManyLeases) {
  StartServer(R"({"features": [{"name": "cad", "seats": 500}]})", "", R"({"max_in_flight": 512})");
  auto c = Client("fleet");
  // Pipeline 300 checkouts, then renew them all in one message.
  std::string batch;
  for (std::uint64_t id = 1; id <= 300; ++id) {
    tessera::v1::Frame f;
    f.set_request_id(id);
    f.mutable_checkout()->set_feature("cad");
    f.mutable_checkout()->set_version("1.0");
    batch += *protocol::EncodeFrame(f);
  }
  ASSERT_TRUE(c->SendBytes(batch).ok());
  std::vector<std::string> ids;
  for (std::uint64_t id = 1; id <= 300; ++id) {
    auto r = c->ReadReply(id);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_TRUE(r->checkout_reply().has_granted()) << r->DebugString();
    ids.push_back(r->checkout_reply().granted().lease_id());
  }
  auto hb = c->Heartbeat(ids);
  ASSERT_TRUE(hb.ok());
  ASSERT_EQ(hb->heartbeat_reply().results_size(), 300);
  for (int i = 0; i < 300; ++i) {
    EXPECT_EQ(hb->heartbeat_reply().results(i).lease_id(), ids[i]);
    EXPECT_TRUE(hb->heartbeat_reply().results(i).renewed());
  }
  EXPECT_EQ(c->StatusQuery("cad")->status_reply().features(0).in_use(), 300u);
}

}  // namespace
}  // namespace tessera::testing
