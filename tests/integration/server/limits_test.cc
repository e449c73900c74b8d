// Connection limits: thousands of idle connections with bounded memory, slow peers cut by
// the read timeout, idle peers by the idle timeout, the max-connections cap, and a client
// that does not read its replies.
#include <sys/resource.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "tests/integration/server/server_test_util.h"

namespace tessera::testing {
namespace {

namespace v1 = tessera::v1;
using std::chrono::milliseconds;

std::string StatusFrameBytes(std::uint64_t id) {
  v1::Frame f;
  f.set_request_id(id);
  f.mutable_status();
  return *protocol::EncodeFrame(f);
}

void RaiseFileLimit(rlim_t want) {
  rlimit lim{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
  if (lim.rlim_cur < want) {
    lim.rlim_cur = std::min(want, lim.rlim_max);
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lim), 0);
  }
}

TEST_F(ServerTest, FiveThousandIdleConnectionsWithBoundedMemory) {
  constexpr int kConnections = 5000;
  // Generous: an idle connection costs a few KiB; sanitizer builds cost more.
  constexpr std::int64_t kMaxKiBPerConnection = 48;
  rlimit lim{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
  if (lim.rlim_max < kConnections + 500) {
    GTEST_SKIP() << "RLIMIT_NOFILE hard limit " << lim.rlim_max << " is too low";
  }
  RaiseFileLimit(kConnections + 500);
  StartServer(kBasicEntitlement, "", R"({"io_threads": 2})");
  auto probe = Client("probe");
  auto before = server_->RssKiB();
  ASSERT_TRUE(before.ok());

  std::vector<std::unique_ptr<RawClient>> idle;
  idle.reserve(kConnections);
  for (int i = 0; i < kConnections; ++i) {
    auto c = std::make_unique<RawClient>();
    ASSERT_TRUE(c->Connect(server_->port()).ok()) << i;
    auto hello = c->Hello("idle-" + std::to_string(i));
    ASSERT_TRUE(hello.ok() && hello->has_hello_reply()) << i << " " << hello.status().ToString();
    idle.push_back(std::move(c));
  }
  auto after = server_->RssKiB();
  ASSERT_TRUE(after.ok());
  std::int64_t per_connection = (*after - *before) / kConnections;
  std::cout << "tesserad RSS " << *before << " KiB -> " << *after << " KiB with " << kConnections
            << " idle connections: " << per_connection << " KiB each\n";
  EXPECT_LT(per_connection, kMaxKiBPerConnection);

  // Every connection is still served: a probe, and a sample of the idle ones.
  auto lease = probe->Checkout("cad", "1.0");
  ASSERT_TRUE(lease.ok());
  EXPECT_TRUE(lease->checkout_reply().has_granted());
  for (int i = 0; i < kConnections; i += 499) {
    auto st = idle[i]->StatusQuery();
    ASSERT_TRUE(st.ok()) << i << " " << st.status().ToString();
    EXPECT_TRUE(st->has_status_reply());
  }
}

TEST_F(ServerTest, SlowlorisIsCutByTheReadTimeout) {
  StartServer(kBasicEntitlement, "", R"({"read_timeout_ms": 400, "idle_timeout_ms": 600000})");
  auto healthy = Client("healthy");
  auto idle = Client("idle");  // said Hello, then silent: only the idle timeout applies

  // A partial frame, then silence.
  RawClient stalled;
  ASSERT_TRUE(stalled.Connect(server_->port()).ok());
  std::string frame = StatusFrameBytes(1);
  ASSERT_TRUE(stalled.SendBytes(frame.substr(0, 3)).ok());

  // A frame dribbled one byte at a time, slower than the timeout allows.
  RawClient dribbler;
  ASSERT_TRUE(dribbler.Connect(server_->port()).ok());
  v1::Frame hello;
  hello.set_request_id(1);
  hello.mutable_hello()->set_min_version(1);
  hello.mutable_hello()->set_max_version(1);
  hello.mutable_hello()->mutable_client()->set_client_id(std::string(200, 'd'));
  std::string slow = *protocol::EncodeFrame(hello);
  bool cut = false;
  for (std::size_t i = 0; i < slow.size(); ++i) {
    if (!dribbler.SendBytes(slow.substr(i, 1)).ok()) {
      cut = true;
      break;
    }
    // Others are served while the slow peers hold their connections.
    if (i % 20 == 0) {
      auto st = healthy->StatusQuery();
      ASSERT_TRUE(st.ok() && st->has_status_reply());
    }
    if (dribbler.WaitClosed(milliseconds(50))) {
      cut = true;
      break;
    }
  }
  EXPECT_TRUE(cut || dribbler.WaitClosed());
  EXPECT_TRUE(stalled.WaitClosed());
  EXPECT_TRUE(server_->WaitForLog("reason=read_timeout", std::chrono::seconds(10), 2));
  auto st = healthy->StatusQuery();
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(st->has_status_reply());
  auto st2 = idle->StatusQuery();
  ASSERT_TRUE(st2.ok()) << "an idle connection must not be cut by the read timeout";
  EXPECT_TRUE(st2->has_status_reply());
}

TEST_F(ServerTest, IdleConnectionIsCut) {
  StartServer(kBasicEntitlement, "", R"({"idle_timeout_ms": 300})");
  auto idle = Client("idle");
  EXPECT_TRUE(idle->WaitClosed());
  EXPECT_TRUE(server_->WaitForLog("reason=idle_timeout", std::chrono::seconds(10)));
}

TEST_F(ServerTest, MaxConnectionsCapHoldsBackNewPeers) {
  StartServer(kBasicEntitlement, "", R"({"max_connections": 3})");
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < 3; ++i) held.push_back(Client("held-" + std::to_string(i)));

  RawClient extra;
  ASSERT_TRUE(extra.Connect(server_->port()).ok());  // the kernel's backlog takes it
  v1::Frame hello;
  hello.set_request_id(1);
  hello.mutable_hello()->set_min_version(1);
  hello.mutable_hello()->set_max_version(1);
  hello.mutable_hello()->mutable_client()->set_client_id("extra");
  ASSERT_TRUE(extra.Send(hello).ok());
  auto none = extra.Read(milliseconds(500));
  EXPECT_EQ(none.status().code(), StatusCode::kDeadlineExceeded)
      << "a connection above the cap was served";

  held.pop_back();  // one leaves; the waiting peer is accepted
  auto reply = extra.Read();
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_TRUE(reply->has_hello_reply());
  for (auto& c : held) EXPECT_TRUE(c->StatusQuery()->has_status_reply());
}

TEST_F(ServerTest, ClientThatDoesNotReadIsCut) {
  StartServer(kBasicEntitlement, "",
              R"({"max_frame_bytes": 4096, "write_queue_bytes": 65536, "max_in_flight": 1000})");
  auto c = Client("sink");
  int small = 4096;
  ASSERT_EQ(setsockopt(c->fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
  // Pipeline status requests without reading a single reply.
  std::string batch;
  for (int i = 1; i <= 1000; ++i) batch += StatusFrameBytes(static_cast<std::uint64_t>(i));
  bool send_failed = false;
  for (int round = 0; round < 2000 && !send_failed; ++round) {
    send_failed = !c->SendBytes(batch).ok();
    if (server_->Log().find("write_queue_overflow") != std::string::npos) break;
  }
  EXPECT_TRUE(server_->WaitForLog("write_queue_overflow", std::chrono::seconds(30)));
  EXPECT_TRUE(server_->WaitForLog("reason=write_queue_overflow", std::chrono::seconds(30)));
  auto other = Client("other");
  EXPECT_TRUE(other->StatusQuery()->has_status_reply());
}

}  // namespace
}  // namespace tessera::testing
