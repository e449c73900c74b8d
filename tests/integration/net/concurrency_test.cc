// Many clients pipelining requests to a tesserad running several I/O threads. Every reply
// must answer its own request: a read buffer shared between connections, or a reply routed
// to the wrong request, shows up as a wrong nonce, a decode error or a closed connection.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/raw_client.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tesserad_process.h"

namespace tessera::testing {
namespace {

namespace v1 = tessera::v1;

constexpr int kClients = 48;
constexpr int kRounds = 40;
constexpr int kPipelined = 4;

// Runs one client: each round pipelines kPipelined checkouts, then checks each reply carries
// its own nonce, then checks all the leases in. Returns an empty string or what went wrong.
std::string RunClient(std::uint16_t port, int index) {
  RawClient c;
  if (Status s = c.Connect(port); !s.ok()) return "connect: " + s.ToString();
  const std::string client_id = "net-" + std::to_string(index);
  auto hello = c.Hello(client_id, "user" + std::to_string(index), "host");
  if (!hello.ok() || !hello->has_hello_reply()) return "hello failed";
  std::uint64_t next_id = 1;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::pair<std::uint64_t, std::string>> sent;
    for (int k = 0; k < kPipelined; ++k) {
      v1::Frame f;
      f.set_request_id(next_id++);
      auto* co = f.mutable_checkout();
      co->set_feature("cad");
      co->set_version("2.0");
      co->set_nonce(client_id + "/" + std::to_string(round) + "/" + std::to_string(k));
      if (Status s = c.Send(f); !s.ok()) return "send: " + s.ToString();
      sent.emplace_back(f.request_id(), co->nonce());
    }
    std::vector<std::string> leases;
    for (const auto& [id, nonce] : sent) {
      auto reply = c.ReadReply(id);
      if (!reply.ok()) return "reply " + std::to_string(id) + ": " + reply.status().ToString();
      if (!reply->has_checkout_reply() || !reply->checkout_reply().has_granted()) {
        return "not granted: " + reply->ShortDebugString();
      }
      if (reply->checkout_reply().granted().nonce() != nonce) {
        return "reply carries another request's nonce: " + reply->ShortDebugString();
      }
      leases.push_back(reply->checkout_reply().granted().lease_id());
    }
    for (const auto& lease_id : leases) {
      v1::Frame f;
      f.set_request_id(next_id++);
      f.mutable_checkin()->set_lease_id(lease_id);
      auto reply = c.Call(f);
      if (!reply.ok() || !reply->has_checkin_reply() || !reply->checkin_reply().released()) {
        return "checkin of " + lease_id + " failed";
      }
    }
  }
  return "";
}

TEST(NetConcurrencyTest, PipelinedClientsOnSeveralIoThreadsEachGetTheirOwnReplies) {
  TempDir dir("net-concurrency");
  TesseradOptions options;
  options.entitlement_json = R"({"features": [{"name": "cad", "model": "concurrent",
      "version_min": "1.0", "version_max": "3.0", "seats": 1000, "lease_ttl_ms": 60000,
      "heartbeat_interval_ms": 20000}]})";
  options.config_json = R"({"io_threads": 4})";
  TesseradProcess server(dir.path(), options);
  ASSERT_TRUE(server.Start().ok()) << server.Log();

  std::vector<std::string> failures(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] { failures[i] = RunClient(server.port(), i); });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kClients; ++i) EXPECT_EQ(failures[i], "") << "client " << i;

  // Every seat came back.
  RawClient probe;
  ASSERT_TRUE(probe.Connect(server.port()).ok());
  ASSERT_TRUE(probe.Hello("probe")->has_hello_reply());
  v1::Frame status;
  status.mutable_status()->set_feature("cad");
  auto reply = probe.Call(status);
  ASSERT_TRUE(reply.ok() && reply->has_status_reply()) << reply.status().ToString();
  ASSERT_EQ(reply->status_reply().features_size(), 1);
  EXPECT_EQ(reply->status_reply().features(0).in_use(), 0u);
}

}  // namespace
}  // namespace tessera::testing
