// Hostile and broken input: each offending connection gets a typed ErrorReply (where one is
// possible) and is closed, while a healthy client keeps being served before, during, after.
#include <gtest/gtest.h>

#include <random>

#include "tests/integration/server/server_test_util.h"

namespace tessera::testing {
namespace {

namespace v1 = tessera::v1;

std::string Prefix(std::uint32_t n) {
  unsigned char b[4];
  protocol::PutLengthPrefix(n, b);
  return std::string(reinterpret_cast<char*>(b), 4);
}

std::string Encoded(const v1::Frame& f) { return *protocol::EncodeFrame(f); }

v1::Frame HelloFrame() {
  v1::Frame f;
  f.set_request_id(1);
  f.mutable_hello()->set_min_version(1);
  f.mutable_hello()->set_max_version(1);
  f.mutable_hello()->mutable_client()->set_client_id("bad");
  return f;
}

class MalformedTest : public ServerTest {
 protected:
  void SetUp() override {
    StartServer();
    healthy_ = Client("healthy");
    ExpectHealthy();
  }

  // The healthy client checks out and returns a seat.
  void ExpectHealthy() {
    auto r = healthy_->Checkout("cad", "1.0");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_TRUE(r->checkout_reply().has_granted()) << r->DebugString();
    auto in = healthy_->Checkin(r->checkout_reply().granted().lease_id());
    ASSERT_TRUE(in.ok());
    EXPECT_TRUE(in->checkin_reply().released());
  }

  // Sends `bytes` on a fresh connection and expects ErrorReply{code} then a close.
  void ExpectErrorAndClose(const std::string& bytes, v1::ErrorCode code) {
    RawClient bad;
    ASSERT_TRUE(bad.Connect(server_->port()).ok());
    ASSERT_TRUE(bad.SendBytes(bytes).ok());
    ExpectHealthy();  // served while the bad peer is connected
    auto r = bad.ReadBody(v1::Frame::kError);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->error().code(), code) << r->DebugString();
    EXPECT_FALSE(r->error().message().empty());
    EXPECT_TRUE(bad.WaitClosed());
    ExpectHealthy();
  }

  std::unique_ptr<RawClient> healthy_;
};

TEST_F(MalformedTest, RequestBeforeHello) {
  v1::Frame f;
  f.set_request_id(4);
  f.mutable_status();
  ExpectErrorAndClose(Encoded(f), v1::HELLO_REQUIRED);
}

TEST_F(MalformedTest, UnknownVersion) {
  v1::Frame f = HelloFrame();
  f.mutable_hello()->set_min_version(9);
  f.mutable_hello()->set_max_version(12);
  ExpectErrorAndClose(Encoded(f), v1::UNSUPPORTED_VERSION);
}

TEST_F(MalformedTest, UnknownMessageTypeBeforeHello) {
  std::string payload = "\x08\x05\x98\x06\x01";  // request_id 5, unknown field 99
  ExpectErrorAndClose(Prefix(static_cast<std::uint32_t>(payload.size())) + payload,
                      v1::UNKNOWN_MESSAGE);
}

TEST_F(MalformedTest, UnknownMessageTypeAfterHello) {
  std::string payload = "\x08\x05\x98\x06\x01";
  ExpectErrorAndClose(
      Encoded(HelloFrame()) + Prefix(static_cast<std::uint32_t>(payload.size())) + payload,
      v1::UNKNOWN_MESSAGE);
}

TEST_F(MalformedTest, ServerToClientBodyFromClient) {
  v1::Frame f;
  f.set_request_id(2);
  f.mutable_status_reply();
  ExpectErrorAndClose(Encoded(HelloFrame()) + Encoded(f), v1::UNKNOWN_MESSAGE);
}

TEST_F(MalformedTest, OversizeLengthPrefix) {
  ExpectErrorAndClose(Prefix(0x7fffffff), v1::FRAME_TOO_LARGE);
  ExpectErrorAndClose(Encoded(HelloFrame()) + Prefix((1u << 20) + 1), v1::FRAME_TOO_LARGE);
}

TEST_F(MalformedTest, ZeroLengthFrame) { ExpectErrorAndClose(Prefix(0), v1::MALFORMED_FRAME); }

TEST_F(MalformedTest, GarbagePayload) {
  ExpectErrorAndClose(Prefix(6) + "\xff\xff\xff\xff\xff\xff", v1::MALFORMED_FRAME);
}

TEST_F(MalformedTest, RandomBytes) {
  std::mt19937 rng(1234);
  for (int round = 0; round < 20; ++round) {
    // A complete frame of random payload, so the server must judge it: it fails to decode,
    // or decodes to something that is not a Hello. Either way the peer gets a typed
    // ErrorReply and is cut, while everyone else is served.
    std::string junk(60, '\0');
    for (char& ch : junk) ch = static_cast<char>(rng());
    RawClient bad;
    ASSERT_TRUE(bad.Connect(server_->port()).ok());
    ASSERT_TRUE(bad.SendBytes(Prefix(static_cast<std::uint32_t>(junk.size())) + junk).ok());
    auto r = bad.ReadBody(v1::Frame::kError);
    ASSERT_TRUE(r.ok()) << "round " << round << ": " << r.status().ToString();
    EXPECT_NE(r->error().code(), v1::ERROR_CODE_UNSPECIFIED) << r->DebugString();
    EXPECT_TRUE(bad.WaitClosed()) << "round " << round;
  }
  ExpectHealthy();
  auto s = healthy_->StatusQuery();
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->has_status_reply());
}

TEST_F(MalformedTest, TruncatedFrameThenClose) {
  std::string frame = Encoded(HelloFrame());
  {
    RawClient bad;
    ASSERT_TRUE(bad.Connect(server_->port()).ok());
    ASSERT_TRUE(bad.SendBytes(frame.substr(0, frame.size() / 2)).ok());
    ExpectHealthy();
    bad.Close();
  }
  ExpectHealthy();
  EXPECT_TRUE(server_->WaitForLog("reason=peer_closed", std::chrono::seconds(10)));
}

}  // namespace
}  // namespace tessera::testing
