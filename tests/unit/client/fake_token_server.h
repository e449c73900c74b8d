// An in-process tessera.v1 server for the SDK's token tests: a real TCP listener on
// 127.0.0.1 port 0 speaking the framing of protocol/framing.h, granting every checkout with a
// token its TokenFactory builds in the mode the test chose, renewing every heartbeat (with a
// fresh token for the leases in token_lease_ids) and recording what the client sent.
//
// Thread safety: the setters and observers may be called from the test thread while client
// connections are served on the server's own threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/time.h"
#include "tests/unit/client/token_factory.h"

namespace tessera::v1 {
class Frame;
}  // namespace tessera::v1

namespace tessera::client::testing {

struct HeartbeatSeen {
  std::vector<std::string> lease_ids;
  std::vector<std::string> token_lease_ids;
};

class FakeTokenServer {
 public:
  // Leases last `ttl` and ask for a heartbeat every `heartbeat_interval`.
  FakeTokenServer(TokenFactory& tokens, Duration ttl, Duration heartbeat_interval);
  ~FakeTokenServer();  // closes the listener and every connection, joins the threads
  FakeTokenServer(const FakeTokenServer&) = delete;
  FakeTokenServer& operator=(const FakeTokenServer&) = delete;

  uint16_t port() const { return port_; }

  void set_grant_mode(TokenMode mode);
  void set_renewal_mode(TokenMode mode);
  // Forgets a lease, as a restarted server would: its next renewal answers LEASE_UNKNOWN and
  // the client resumes it with a checkout (whose token is made in the grant mode).
  void Forget(const std::string& lease_id);
  // Lets a lease lapse but keeps it, as an engine keeps a lingering seat: its next renewal
  // answers LEASE_EXPIRED and the resume re-grants it as it was (the first checkout's nonce).
  void Lapse(const std::string& lease_id);

  std::vector<std::string> checkins() const;      // lease ids, in arrival order
  std::vector<HeartbeatSeen> heartbeats() const;  // in arrival order
  std::vector<std::string> granted() const;       // lease ids, in grant order
  size_t renewal_tokens_sent() const;

 private:
  struct Held {
    std::string feature;
    std::string nonce;
    TimePoint issued_at;
    bool lapsed = false;
  };

  void AcceptLoop();
  void Serve(int fd);
  // Answers one request frame; false: no answer.
  bool Answer(const v1::Frame& in, v1::Frame* out);

  TokenFactory& tokens_;
  const Duration ttl_;
  const Duration heartbeat_interval_;
  int listener_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};

  mutable std::mutex mu_;
  TokenMode grant_mode_ = TokenMode::kGenuine;
  TokenMode renewal_mode_ = TokenMode::kGenuine;
  uint64_t next_lease_ = 1;
  std::map<std::string, Held> leases_;
  std::vector<std::string> checkins_;
  std::vector<HeartbeatSeen> heartbeats_;
  std::vector<std::string> granted_;
  size_t renewal_tokens_ = 0;
  std::vector<int> connections_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

}  // namespace tessera::client::testing
