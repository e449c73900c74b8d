// tessera-engine-demo: a short scripted scenario on a fake clock, printing the engine's
// event stream. Four clients share two seats of "cad": a grant, a denial, a queue, a
// heartbeat, an expiry that serves the waiter, a checkin.
#include <cstdio>
#include <string>
#include <variant>

#include "base/time.h"
#include "server/engine/engine.h"

namespace {

using namespace tessera;          // NOLINT(google-build-using-namespace)
using namespace tessera::engine;  // NOLINT(google-build-using-namespace)

Entitlement DemoEntitlement() {
  Feature cad;
  cad.name = "cad";
  cad.seats = 2;
  cad.version_min = "1.0";
  cad.version_max = "2.10";
  cad.lease_ttl = Seconds(60);
  cad.heartbeat_interval = Seconds(20);
  cad.max_queue_length = 5;
  cad.max_queue_timeout = Seconds(120);
  Entitlement e;
  e.features = {cad};
  return e;
}

CheckoutRequest Ask(const std::string& who, const std::string& version, int queue_s = 0) {
  CheckoutRequest r;
  r.client = ClientInfo{who + "-laptop", who, who + ".example.com"};
  r.feature = "cad";
  r.version = version;
  r.queue_timeout = Seconds(queue_s);
  return r;
}

void Print(const char* step, Engine& engine) {
  std::printf("-- %s\n", step);
  for (const Event& e : engine.TakeEvents()) std::printf("   %s\n", FormatEvent(e).c_str());
}

}  // namespace

int main() {
  FakeClock clock;
  Engine engine(EngineOptions{}, DemoEntitlement(), Rules{});

  auto alice = engine.Checkout(Ask("alice", "2.1"), clock.Now());
  Print("alice checks out cad 2.1", engine);
  engine.Checkout(Ask("bob", "2.10"), clock.Now());
  Print("bob checks out cad 2.10", engine);
  engine.Checkout(Ask("carol", "2.0", 90), clock.Now());
  Print("carol checks out and is willing to wait 90 s", engine);
  engine.Checkout(Ask("dave", "2.0"), clock.Now());
  Print("dave checks out without waiting", engine);
  engine.Checkout(Ask("dave", "3.0"), clock.Now());
  Print("dave asks for version 3.0", engine);

  LeaseId alice_id = std::get<Granted>(alice).lease.id;
  clock.Advance(Seconds(20));
  engine.Heartbeat(alice_id, "alice-laptop", clock.Now());
  Print("20 s: alice heartbeats (bob's client has gone quiet)", engine);

  clock.Advance(Seconds(45));
  engine.ExpireDue(clock.Now());
  Print("65 s: the server's timer fires; bob's lease expired at 60 s", engine);

  clock.Advance(Seconds(5));
  engine.Checkin(alice_id, "alice-laptop", 0, clock.Now());
  Print("70 s: alice checks in", engine);

  for (const FeatureUsage& u : engine.Usage(clock.Now())) {
    std::printf("status: %s %u/%u in use, %u queued\n", u.name.c_str(), u.in_use, u.seats,
                u.queued);
  }
  return 0;
}
