// Failure handling against a real tesserad: a killed client process, a server restart,
// failover to the second server, network blips and lost leases.
#include <signal.h>

#include <gtest/gtest.h>

#include <mutex>

#include "base/system_clock.h"
#include "tests/integration/client/client_fixture.h"

namespace tessera::client::testing {
namespace {

// Collects lease events from the client's callback thread.
class EventLog {
 public:
  std::function<void(const LeaseEvent&)> Callback() {
    return [this](const LeaseEvent& event) {
      std::lock_guard lock(mu_);
      events_.push_back(event);
    };
  }
  std::vector<LeaseEvent> Events() {
    std::lock_guard lock(mu_);
    return events_;
  }
  bool Has(LeaseEvent::Kind kind) {
    std::lock_guard lock(mu_);
    for (const auto& e : events_) {
      if (e.kind == kind) return true;
    }
    return false;
  }

 private:
  std::mutex mu_;
  std::vector<LeaseEvent> events_;
};

TEST(ClientResilienceTest, SeatOfAKilledClientProcessReturnsAfterTheTtl) {
  tessera::testing::TempDir dir("client-sigkill");
  FeatureSpec cad;
  cad.seats = 1;
  cad.lease_ttl_ms = 1500;
  cad.heartbeat_interval_ms = 300;
  auto server = StartServer(dir.path(), {cad});
  ASSERT_NE(server, nullptr);
  const std::string address = "127.0.0.1:" + std::to_string(server->port());

  ChildProcess victim({BuildPath("client/tessera-client"), "--server", address, "checkout", "cad",
                       "--version", "2.0"},
                      {}, dir.path());
  ASSERT_TRUE(victim.started());
  ASSERT_TRUE(WaitUntil([&] { return victim.Stdout().find("granted lease") != std::string::npos; }))
      << victim.Stderr();

  auto observer = Client::Create(LocalOptions({server->port()}));
  ASSERT_TRUE(observer.ok());
  EXPECT_EQ(InUse(**observer, "cad"), 1);
  // Held well beyond its TTL while the victim lives: its renewals work.
  const Duration until = MonotonicNow() + Duration(3 * cad.lease_ttl_ms);
  ASSERT_TRUE(WaitUntil([&] { return MonotonicNow() > until; }));
  EXPECT_EQ(InUse(**observer, "cad"), 1);

  victim.Signal(SIGKILL);
  EXPECT_EQ(victim.Wait(), 128 + SIGKILL);
  EXPECT_TRUE(WaitUntil([&] { return InUse(**observer, "cad") == 0; }))
      << "the seat never came back";
  auto taken = (*observer)->Checkout(Request("cad"));
  ASSERT_TRUE(taken.ok());
  EXPECT_TRUE(taken->granted());
}

TEST(ClientResilienceTest, CliReleasesItsSeatOnSigterm) {
  tessera::testing::TempDir dir("client-sigterm");
  auto server = StartServer(dir.path(), {FeatureSpec{}});
  ASSERT_NE(server, nullptr);
  const std::string address = "127.0.0.1:" + std::to_string(server->port());
  ChildProcess cli({BuildPath("client/tessera-client"), "checkout", "cad", "--version", "2.0"},
                   {"TESSERA_SERVERS=" + address}, dir.path());
  ASSERT_TRUE(WaitUntil([&] { return cli.Stdout().find("granted lease") != std::string::npos; }))
      << cli.Stderr();
  auto observer = Client::Create(LocalOptions({server->port()}));
  ASSERT_TRUE(observer.ok());
  EXPECT_EQ(InUse(**observer, "cad"), 1);
  cli.Signal(SIGTERM);
  EXPECT_EQ(cli.Wait(), 0) << cli.Stderr();
  EXPECT_NE(cli.Stdout().find("checked in"), std::string::npos);
  EXPECT_EQ(InUse(**observer, "cad"), 0);  // right away, not after the TTL
}

TEST(ClientResilienceTest, ServerRestartResumesTheSameLeaseWithoutASecondSeat) {
  tessera::testing::TempDir dir("client-restart");
  FeatureSpec cad;
  cad.seats = 2;
  cad.lease_ttl_ms = 3000;
  cad.heartbeat_interval_ms = 500;
  auto server = StartServer(dir.path(), {cad});
  ASSERT_NE(server, nullptr);
  EventLog events;
  ClientOptions options = LocalOptions({server->port()});
  options.on_lease_event = events.Callback();
  auto client = Client::Create(options);
  ASSERT_TRUE(client.ok());
  auto outcome = (*client)->Checkout(Request("cad"));
  ASSERT_TRUE(outcome.ok() && outcome->granted());
  const std::string lease_id = outcome->lease().lease_id;

  server->Kill();
  ASSERT_TRUE(server->Restart().ok());
  ASSERT_TRUE(WaitUntil([&] { return events.Has(LeaseEvent::Kind::kResumed); })) << server->Log();

  auto status = (*client)->GetStatus("cad");
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  ASSERT_EQ(status->features.size(), 1u);
  EXPECT_EQ(status->features[0].in_use, 1u);  // one seat, not two
  ASSERT_EQ(status->my_leases.size(), 1u);
  EXPECT_EQ(status->my_leases[0].lease_id, lease_id);
  auto held = (*client)->Leases();
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].lease_id, lease_id);
  for (const auto& e : events.Events()) EXPECT_NE(e.kind, LeaseEvent::Kind::kLost);

  // And it keeps being renewed on the new server.
  const Duration until = MonotonicNow() + Duration(2 * cad.lease_ttl_ms);
  ASSERT_TRUE(WaitUntil([&] { return MonotonicNow() > until; }));
  EXPECT_EQ(InUse(**client, "cad"), 1);
  auto checkin = (*client)->Checkin(lease_id);
  ASSERT_TRUE(checkin.ok());
  EXPECT_TRUE(checkin->released);
}

TEST(ClientResilienceTest, FailsOverToTheSecondServerWhenTheFirstIsDown) {
  tessera::testing::TempDir dir("client-failover");
  std::filesystem::create_directories(dir.File("one"));
  std::filesystem::create_directories(dir.File("two"));
  auto first = StartServer(dir.File("one"), {FeatureSpec{}});
  auto second = StartServer(dir.File("two"), {FeatureSpec{}});
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  const uint16_t dead_port = first->port();
  first->Kill();  // its port is now closed

  auto client = Client::Create(LocalOptions({dead_port, second->port()}));
  ASSERT_TRUE(client.ok());
  auto outcome = (*client)->Checkout(Request("cad"));
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_TRUE(outcome->granted());
  EXPECT_EQ((*client)->ConnectedServer(), "127.0.0.1:" + std::to_string(second->port()));
}

TEST(ClientResilienceTest, DrainingServerHandsTheLeaseOverToTheNextServer) {
  tessera::testing::TempDir dir("client-drain");
  auto first = StartServer(dir.File("one"), {FeatureSpec{}}, R"({"drain_grace_ms": 500})");
  auto second = StartServer(dir.File("two"), {FeatureSpec{}});
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  EventLog events;
  ClientOptions options = LocalOptions({first->port(), second->port()});
  options.on_lease_event = events.Callback();
  auto client = Client::Create(options);
  ASSERT_TRUE(client.ok());
  auto outcome = (*client)->Checkout(Request("cad"));
  ASSERT_TRUE(outcome.ok() && outcome->granted());
  const std::string lease_id = outcome->lease().lease_id;
  EXPECT_EQ((*client)->ConnectedServer(), "127.0.0.1:" + std::to_string(first->port()));

  ASSERT_TRUE(first->Signal(SIGTERM).ok());  // drains, then exits
  ASSERT_TRUE(WaitUntil([&] { return events.Has(LeaseEvent::Kind::kResumed); })) << first->Log();
  EXPECT_EQ((*client)->ConnectedServer(), "127.0.0.1:" + std::to_string(second->port()));
  auto held = (*client)->Leases();
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].lease_id, lease_id);
  auto observer = Client::Create(LocalOptions({second->port()}));
  ASSERT_TRUE(observer.ok());
  EXPECT_EQ(InUse(**observer, "cad"), 1);
}

TEST(ClientResilienceTest, NoReachableServerIsUnavailable) {
  tessera::testing::TempDir dir("client-unreachable");
  auto server = StartServer(dir.path(), {FeatureSpec{}});
  ASSERT_NE(server, nullptr);
  const uint16_t port = server->port();
  server->Kill();
  auto client = Client::Create(LocalOptions({port}));
  ASSERT_TRUE(client.ok());
  auto outcome = (*client)->Checkout(Request("cad"));
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.status().code(), StatusCode::kUnavailable);

  ChildProcess cli({BuildPath("client/tessera-client"), "--server",
                    "127.0.0.1:" + std::to_string(port), "status"},
                   {}, dir.path());
  EXPECT_EQ(cli.Wait(), 3) << cli.Stderr();
  EXPECT_NE(cli.Stderr().find("cannot reach any server"), std::string::npos) << cli.Stderr();
}

TEST(ClientResilienceTest, NetworkBlipKeepsTheLease) {
  tessera::testing::TempDir dir("client-blip");
  FeatureSpec cad;
  cad.seats = 1;
  cad.lease_ttl_ms = 4000;
  cad.heartbeat_interval_ms = 500;
  auto server = StartServer(dir.path(), {cad});
  ASSERT_NE(server, nullptr);
  TcpRelay relay(server->port());
  auto client = Client::Create(LocalOptions({relay.port()}));
  ASSERT_TRUE(client.ok());
  auto outcome = (*client)->Checkout(Request("cad"));
  ASSERT_TRUE(outcome.ok() && outcome->granted());
  const std::string lease_id = outcome->lease().lease_id;

  relay.Block();
  ASSERT_TRUE(WaitUntil([&] { return (*client)->ConnectedServer().empty(); }));
  relay.Unblock();
  ASSERT_TRUE(WaitUntil([&] { return !(*client)->ConnectedServer().empty(); }));
  EXPECT_GE(relay.accepted(), 2);

  auto observer = Client::Create(LocalOptions({server->port()}));
  ASSERT_TRUE(observer.ok());
  EXPECT_EQ(InUse(**observer, "cad"), 1);
  auto status = (*client)->GetStatus("cad");
  ASSERT_TRUE(status.ok());
  ASSERT_EQ(status->my_leases.size(), 1u);
  EXPECT_EQ(status->my_leases[0].lease_id, lease_id);
}

TEST(ClientResilienceTest, LossCallbackFiresWhenTheSeatIsGoneAfterARestart) {
  tessera::testing::TempDir dir("client-lost");
  FeatureSpec cad;
  cad.seats = 1;
  auto server = StartServer(dir.path(), {cad});
  ASSERT_NE(server, nullptr);
  TcpRelay relay(server->port());
  EventLog events;
  ClientOptions options = LocalOptions({relay.port()});
  options.on_lease_event = events.Callback();
  auto holder = Client::Create(options);
  ASSERT_TRUE(holder.ok());
  auto outcome = (*holder)->Checkout(Request("cad"));
  ASSERT_TRUE(outcome.ok() && outcome->granted());
  const std::string lease_id = outcome->lease().lease_id;

  // The holder cannot reach the server while it restarts (forgetting the lease) and another
  // client takes the only seat.
  relay.Block();
  server->Kill();
  ASSERT_TRUE(server->Restart().ok());
  auto other = Client::Create(LocalOptions({server->port()}));
  ASSERT_TRUE(other.ok());
  auto taken = (*other)->Checkout(Request("cad"));
  ASSERT_TRUE(taken.ok() && taken->granted());
  relay.Unblock();

  ASSERT_TRUE(WaitUntil([&] { return events.Has(LeaseEvent::Kind::kLost); }));
  const auto all = events.Events();
  const auto lost = std::find_if(all.begin(), all.end(), [](const LeaseEvent& e) {
    return e.kind == LeaseEvent::Kind::kLost;
  });
  ASSERT_NE(lost, all.end());
  EXPECT_EQ(lost->lease_id, lease_id);
  EXPECT_EQ(lost->feature, "cad");
  EXPECT_EQ(lost->denial, DenialReason::kNoSeats) << lost->detail;
  EXPECT_TRUE((*holder)->Leases().empty());
  EXPECT_EQ(InUse(**other, "cad"), 1);
}

TEST(ClientResilienceTest, RevokedCallbackFiresWhenAReloadRemovesTheFeature) {
  tessera::testing::TempDir dir("client-revoked");
  FeatureSpec cad;
  FeatureSpec cam;
  cam.name = "cam";
  auto server = StartServer(dir.path(), {cad, cam});
  ASSERT_NE(server, nullptr);
  EventLog events;
  ClientOptions options = LocalOptions({server->port()});
  options.on_lease_event = events.Callback();
  auto holder = Client::Create(options);
  ASSERT_TRUE(holder.ok());
  auto kept = (*holder)->Checkout(Request("cam"));
  ASSERT_TRUE(kept.ok() && kept->granted());
  auto outcome = (*holder)->Checkout(Request("cad"));
  ASSERT_TRUE(outcome.ok() && outcome->granted());
  const std::string lease_id = outcome->lease().lease_id;

  // The entitlement loses "cad": its lease is revoked and the server pushes LeaseRevoked.
  server->WriteEntitlement(EntitlementJson({cam}));
  ASSERT_TRUE(server->Signal(SIGHUP).ok());
  ASSERT_TRUE(WaitUntil([&] { return events.Has(LeaseEvent::Kind::kRevoked); })) << server->Log();
  const auto all = events.Events();
  const auto revoked = std::find_if(all.begin(), all.end(), [](const LeaseEvent& e) {
    return e.kind == LeaseEvent::Kind::kRevoked;
  });
  ASSERT_NE(revoked, all.end());
  EXPECT_EQ(revoked->lease_id, lease_id);
  EXPECT_EQ(revoked->feature, "cad");
  // The revoked lease is gone from the client; the other one is still held and renewed.
  ASSERT_TRUE(WaitUntil([&] { return (*holder)->Leases().size() == 1; }));
  EXPECT_EQ((*holder)->Leases().at(0).lease_id, kept->lease().lease_id);
  EXPECT_EQ(InUse(**holder, "cam"), 1);
}

TEST(ClientResilienceTest, CliExitsWithTheLeaseLostCode) {
  tessera::testing::TempDir dir("client-cli-lost");
  auto server = StartServer(dir.path(), {FeatureSpec{}});
  ASSERT_NE(server, nullptr);
  TcpRelay relay(server->port());
  ChildProcess cli(
      {BuildPath("client/tessera-client"), "--server", "127.0.0.1:" + std::to_string(relay.port()),
       "checkout", "cad", "--version", "2.0"},
      {}, dir.path());
  ASSERT_TRUE(WaitUntil([&] { return cli.Stdout().find("granted lease") != std::string::npos; }))
      << cli.Stderr();
  relay.Block();
  server->Kill();
  ASSERT_TRUE(server->Restart().ok());
  auto other = Client::Create(LocalOptions({server->port()}));
  ASSERT_TRUE(other.ok());
  auto taken = (*other)->Checkout(Request("cad"));
  ASSERT_TRUE(taken.ok() && taken->granted());
  relay.Unblock();
  EXPECT_EQ(cli.Wait(), 5) << cli.Stderr();
  EXPECT_NE(cli.Stderr().find("lost"), std::string::npos) << cli.Stderr();
}

TEST(ClientResilienceTest, CliDenialExitCodes) {
  tessera::testing::TempDir dir("client-cli-denied");
  auto server = StartServer(dir.path(), {FeatureSpec{}});
  ASSERT_NE(server, nullptr);
  const std::string address = "127.0.0.1:" + std::to_string(server->port());
  ChildProcess missing({BuildPath("client/tessera-client"), "--server", address, "checkout", "nope",
                        "--version", "2.0", "--hold-for", "1"},
                       {}, dir.path());
  EXPECT_EQ(missing.Wait(), 11) << missing.Stderr();
  EXPECT_NE(missing.Stderr().find("no_such_feature"), std::string::npos);
  ChildProcess held({BuildPath("client/tessera-client"), "--server", address, "checkout", "cad",
                     "--version", "2.0", "--hold-for", "0.2"},
                    {}, dir.path());
  EXPECT_EQ(held.Wait(), 0) << held.Stderr();
  EXPECT_NE(held.Stdout().find("checked in"), std::string::npos);
  ChildProcess usage({BuildPath("client/tessera-client"), "checkout"}, {}, dir.path());
  EXPECT_EQ(usage.Wait(), 2);
}

}  // namespace
}  // namespace tessera::client::testing
