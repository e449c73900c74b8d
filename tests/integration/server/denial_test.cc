// Every engine denial reason reaches a raw client as a typed CheckoutReply.denied, each
// driven by a purpose-built entitlement or rules file.
#include <gtest/gtest.h>

#include "tests/integration/server/server_test_util.h"

namespace tessera::testing {
namespace {

namespace v1 = tessera::v1;

class DenialTest : public ServerTest {
 protected:
  // Checks out as `user` and expects a denial with `reason`.
  void ExpectDenied(RawClient& c, const v1::CheckoutRequest& req, v1::DenialReason reason) {
    auto r = c.Checkout(req);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_TRUE(r->has_checkout_reply()) << r->DebugString();
    ASSERT_TRUE(r->checkout_reply().has_denied()) << r->DebugString();
    EXPECT_EQ(r->checkout_reply().denied().reason(), reason)
        << v1::DenialReason_Name(r->checkout_reply().denied().reason()) << ": "
        << r->checkout_reply().denied().detail();
  }
  static v1::CheckoutRequest Req(const std::string& feature, const std::string& version = "1.0") {
    v1::CheckoutRequest r;
    r.set_feature(feature);
    r.set_version(version);
    return r;
  }
};

TEST_F(DenialTest, NoSuchFeature) {
  StartServer();
  auto c = Client("c1");
  ExpectDenied(*c, Req("nope"), v1::NO_SUCH_FEATURE);
}

TEST_F(DenialTest, NoSeats) {
  StartServer(R"({"features": [{"name": "one", "seats": 1}]})");
  auto c = Client("c1");
  ASSERT_TRUE(c->Checkout(Req("one"))->checkout_reply().has_granted());
  ExpectDenied(*c, Req("one"), v1::NO_SEATS);
}

TEST_F(DenialTest, VersionOutOfRange) {
  StartServer();
  auto c = Client("c1");
  ExpectDenied(*c, Req("cad", "3.1"), v1::VERSION_OUT_OF_RANGE);
}

TEST_F(DenialTest, NotStarted) {
  StartServer(R"({"features": [{"name": "later", "seats": 1,
                                 "starts_at": "2099-01-01T00:00:00Z"}]})");
  auto c = Client("c1");
  ExpectDenied(*c, Req("later"), v1::NOT_STARTED);
}

TEST_F(DenialTest, Expired) {
  StartServer(R"({"features": [{"name": "old", "seats": 1,
                                 "ends_at": "2001-01-01T00:00:00Z"}]})");
  auto c = Client("c1");
  ExpectDenied(*c, Req("old"), v1::EXPIRED);
}

TEST_F(DenialTest, DeniedByRule) {
  StartServer(kBasicEntitlement, R"({"deny": [{"feature": "cad", "user": "mallory"}]})");
  auto c = Client("c1", "mallory");
  ExpectDenied(*c, Req("cad"), v1::DENIED_BY_RULE);
  auto ok = Client("c2", "alice");
  EXPECT_TRUE(ok->Checkout(Req("cad"))->checkout_reply().has_granted());
}

TEST_F(DenialTest, OverUserMaximum) {
  StartServer(kBasicEntitlement, R"({"maxima": [{"feature": "cad", "max": 1, "user": "*"}]})");
  auto c = Client("c1", "alice");
  ASSERT_TRUE(c->Checkout(Req("cad"))->checkout_reply().has_granted());
  ExpectDenied(*c, Req("cad"), v1::OVER_USER_MAXIMUM);
}

TEST_F(DenialTest, OverGroupMaximum) {
  StartServer(kBasicEntitlement, R"({"user_groups": {"design": ["alice", "bob"]},
      "maxima": [{"feature": "cad", "max": 1, "group": "design"}]})");
  auto a = Client("c1", "alice");
  ASSERT_TRUE(a->Checkout(Req("cad"))->checkout_reply().has_granted());
  auto b = Client("c2", "bob");
  ExpectDenied(*b, Req("cad"), v1::OVER_GROUP_MAXIMUM);
}

TEST_F(DenialTest, QueueTimeout) {
  StartServer(R"({"features": [{"name": "one", "seats": 1, "max_queue_length": 2}]})");
  auto a = Client("c1");
  ASSERT_TRUE(a->Checkout(Req("one"))->checkout_reply().has_granted());
  auto b = Client("c2", "bob");
  v1::CheckoutRequest r = Req("one");
  r.set_queue_timeout_ms(200);
  ExpectDenied(*b, r, v1::QUEUE_TIMEOUT);
}

TEST_F(DenialTest, MeteredExhausted) {
  StartServer(R"({"features": [{"name": "runs", "model": "metered", "metered_total": 2}]})");
  auto c = Client("c1");
  v1::CheckoutRequest r = Req("runs");
  r.set_metered_units(2);
  ASSERT_TRUE(c->Checkout(r)->checkout_reply().has_granted());
  ExpectDenied(*c, Req("runs"), v1::METERED_EXHAUSTED);
}

TEST_F(DenialTest, BorrowNotAllowed) {
  StartServer();
  auto c = Client("c1");
  v1::CheckoutRequest r = Req("cad");
  r.set_borrow_duration_ms(3'600'000);
  ExpectDenied(*c, r, v1::BORROW_NOT_ALLOWED);
}

TEST_F(DenialTest, InvalidRequest) {
  StartServer();
  auto c = Client("c1");
  ExpectDenied(*c, Req("cad", "one.two"), v1::INVALID_REQUEST);
  v1::CheckoutRequest big_nonce = Req("cad");
  big_nonce.set_nonce(std::string(65, 'n'));
  ExpectDenied(*c, big_nonce, v1::INVALID_REQUEST);
}

TEST_F(DenialTest, QueueCancelled) {
  StartServer(R"({"features": [{"name": "one", "seats": 1, "max_queue_length": 2}]})");
  auto a = Client("c1");
  ASSERT_TRUE(a->Checkout(Req("one"))->checkout_reply().has_granted());
  auto b = Client("c2", "bob");
  v1::Frame f;
  f.set_request_id(50);
  *f.mutable_checkout() = Req("one");
  f.mutable_checkout()->set_queue_timeout_ms(60000);
  ASSERT_TRUE(b->Send(f).ok());
  ASSERT_TRUE(b->ReadBody(v1::Frame::kQueued).ok());
  v1::Frame cancel;
  cancel.mutable_cancel_queue()->set_checkout_request_id(50);
  ASSERT_TRUE(b->Call(cancel)->cancel_queue_reply().cancelled());
  auto r = b->ReadReply(50);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->checkout_reply().denied().reason(), v1::QUEUE_CANCELLED);
}

TEST_F(DenialTest, LeaseNotResumable) {
  StartServer();
  auto owner = Client("c1");
  auto lease = owner->Checkout(Req("cad"));
  ASSERT_TRUE(lease->checkout_reply().has_granted());
  auto other = Client("c2", "bob");
  v1::CheckoutRequest r = Req("cad");
  r.set_resume_lease_id(lease->checkout_reply().granted().lease_id());
  ExpectDenied(*other, r, v1::LEASE_NOT_RESUMABLE);
  r.set_resume_lease_id("garbage");
  ExpectDenied(*other, r, v1::LEASE_NOT_RESUMABLE);
  // The owner may resume its own lease (same id).
  auto resumed = owner->Checkout([&] {
    v1::CheckoutRequest own = Req("cad");
    own.set_resume_lease_id(lease->checkout_reply().granted().lease_id());
    return own;
  }());
  ASSERT_TRUE(resumed->checkout_reply().has_granted()) << resumed->DebugString();
  EXPECT_EQ(resumed->checkout_reply().granted().lease_id(),
            lease->checkout_reply().granted().lease_id());
}

TEST_F(DenialTest, ServerDraining) {
  StartServer(kBasicEntitlement, "", R"({"drain_grace_ms": 5000})");
  auto c = Client("c1");
  ASSERT_TRUE(server_->Signal(SIGTERM).ok());
  auto push = c->ReadBody(v1::Frame::kServerDraining);
  ASSERT_TRUE(push.ok()) << push.status().ToString();
  ExpectDenied(*c, Req("cad"), v1::SERVER_DRAINING);
}

TEST_F(DenialTest, QueuedCheckoutIsAnsweredServerDraining) {
  StartServer(R"({"features": [{"name": "one", "seats": 1, "max_queue_length": 2}]})", "",
              R"({"drain_grace_ms": 5000})");
  auto a = Client("c1");
  ASSERT_TRUE(a->Checkout(Req("one"))->checkout_reply().has_granted());
  auto b = Client("c2", "bob");
  v1::Frame f;
  f.set_request_id(9);
  *f.mutable_checkout() = Req("one");
  f.mutable_checkout()->set_queue_timeout_ms(60000);
  ASSERT_TRUE(b->Send(f).ok());
  ASSERT_TRUE(b->ReadBody(v1::Frame::kQueued).ok());
  ASSERT_TRUE(server_->Signal(SIGTERM).ok());
  auto r = b->ReadReply(9);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->checkout_reply().denied().reason(), v1::SERVER_DRAINING);
}

// UNAVAILABLE (store not writable, rollback detected) needs the persistent store, which
// tesserad does not have yet; no file can provoke it.

}  // namespace
}  // namespace tessera::testing
