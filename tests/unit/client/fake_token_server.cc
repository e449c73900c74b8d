#include "tests/unit/client/fake_token_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>
#include <utility>

#include "base/system_clock.h"
#include "protocol/framing.h"
#include "tessera/v1/tessera.pb.h"

namespace tessera::client::testing {

FakeTokenServer::FakeTokenServer(TokenFactory& tokens, Duration ttl, Duration heartbeat_interval)
    : tokens_(tokens), ttl_(ttl), heartbeat_interval_(heartbeat_interval) {
  listener_ = socket(AF_INET, SOCK_STREAM, 0);
  if (listener_ < 0) throw std::runtime_error("socket failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(listener_, 16) != 0 ||
      getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    close(listener_);
    throw std::runtime_error("cannot listen on 127.0.0.1:0");
  }
  port_ = ntohs(address.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

FakeTokenServer::~FakeTokenServer() {
  stop_ = true;
  shutdown(listener_, SHUT_RDWR);
  acceptor_.join();
  close(listener_);
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    for (int fd : connections_) shutdown(fd, SHUT_RDWR);
    threads = std::move(threads_);
  }
  for (auto& t : threads) t.join();
}

void FakeTokenServer::set_grant_mode(TokenMode mode) {
  std::lock_guard lock(mu_);
  grant_mode_ = mode;
}

void FakeTokenServer::set_renewal_mode(TokenMode mode) {
  std::lock_guard lock(mu_);
  renewal_mode_ = mode;
}

void FakeTokenServer::Forget(const std::string& lease_id) {
  std::lock_guard lock(mu_);
  leases_.erase(lease_id);
}

void FakeTokenServer::Lapse(const std::string& lease_id) {
  std::lock_guard lock(mu_);
  auto it = leases_.find(lease_id);
  if (it != leases_.end()) it->second.lapsed = true;
}

std::vector<std::string> FakeTokenServer::checkins() const {
  std::lock_guard lock(mu_);
  return checkins_;
}

std::vector<HeartbeatSeen> FakeTokenServer::heartbeats() const {
  std::lock_guard lock(mu_);
  return heartbeats_;
}

std::vector<std::string> FakeTokenServer::granted() const {
  std::lock_guard lock(mu_);
  return granted_;
}

size_t FakeTokenServer::renewal_tokens_sent() const {
  std::lock_guard lock(mu_);
  return renewal_tokens_;
}

void FakeTokenServer::AcceptLoop() {
  while (!stop_) {
    const int fd = accept(listener_, nullptr, nullptr);
    if (fd < 0) return;  // the listener was shut down
    std::lock_guard lock(mu_);
    if (stop_) {
      close(fd);
      return;
    }
    connections_.push_back(fd);
    threads_.emplace_back([this, fd] { Serve(fd); });
  }
}

void FakeTokenServer::Serve(int fd) {
  protocol::FrameDecoder decoder;
  char buffer[16384];
  for (;;) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    std::string_view input(buffer, static_cast<size_t>(n));
    bool failed = false;
    while (!input.empty()) {
      v1::Frame frame;
      const auto outcome = decoder.Decode(input, &frame);
      if (outcome == protocol::FrameDecoder::Outcome::kError) {
        failed = true;
        break;
      }
      if (outcome != protocol::FrameDecoder::Outcome::kFrame) continue;
      v1::Frame out;
      if (!Answer(frame, &out)) continue;
      auto bytes = protocol::EncodeFrame(out);
      if (!bytes.ok() || send(fd, bytes->data(), bytes->size(), MSG_NOSIGNAL) < 0) failed = true;
    }
    if (failed) break;
  }
  shutdown(fd, SHUT_RDWR);
  std::lock_guard lock(mu_);
  // The fd is closed here and nowhere else; the destructor only shuts down open ones.
  std::erase(connections_, fd);
  close(fd);
}

bool FakeTokenServer::Answer(const v1::Frame& in, v1::Frame* out) {
  out->set_request_id(in.request_id());
  const TimePoint now = RealClock().Now();
  std::lock_guard lock(mu_);
  if (in.has_hello()) {
    auto* hello = out->mutable_hello_reply();
    hello->set_version(protocol::kProtocolVersion);
    hello->set_server_id("fake-token-server");
    hello->set_appliance_id(tokens_.appliance_id());
    hello->set_max_frame_bytes(protocol::kDefaultMaxFrameBytes);
    hello->set_max_in_flight(64);
  } else if (in.has_checkout()) {
    const auto& req = in.checkout();
    std::string id = req.resume_lease_id();
    if (id.empty()) id = "L-" + std::to_string(next_lease_++);
    auto known = leases_.find(id);
    if (known != leases_.end() && !req.resume_lease_id().empty()) {
      known->second.lapsed = false;  // re-granted as it was, first nonce and all
    } else {
      leases_[id] = Held{req.feature(), req.nonce(), now};
    }
    const std::string nonce = leases_[id].nonce;
    granted_.push_back(id);
    auto* lease = out->mutable_checkout_reply()->mutable_granted();
    lease->set_lease_id(id);
    lease->set_feature(req.feature());
    lease->set_version(req.version());
    lease->set_count(1);
    lease->set_issued_at_ms(ToUnixMillis(now));
    lease->set_expires_at_ms(ToUnixMillis(now + ttl_));
    lease->set_heartbeat_interval_ms(static_cast<uint32_t>(heartbeat_interval_.count()));
    lease->set_nonce(nonce);
    lease->set_token(
        tokens_.Make(grant_mode_, TokenFacts{id, req.feature(), nonce, now, now + ttl_}));
  } else if (in.has_heartbeat()) {
    const auto& req = in.heartbeat();
    HeartbeatSeen seen;
    seen.lease_ids.assign(req.lease_ids().begin(), req.lease_ids().end());
    seen.token_lease_ids.assign(req.token_lease_ids().begin(), req.token_lease_ids().end());
    heartbeats_.push_back(seen);
    for (const auto& id : req.lease_ids()) {
      auto* result = out->mutable_heartbeat_reply()->add_results();
      result->set_lease_id(id);
      auto it = leases_.find(id);
      if (it == leases_.end() || it->second.lapsed) {
        result->set_lost(it == leases_.end() ? v1::LEASE_UNKNOWN : v1::LEASE_EXPIRED);
        continue;
      }
      result->set_renewed(true);
      result->set_expires_at_ms(ToUnixMillis(now + ttl_));
      for (const auto& wanted : req.token_lease_ids()) {
        if (wanted != id) continue;
        TokenFacts facts{id, it->second.feature, it->second.nonce, now, now + ttl_, true};
        result->set_token(tokens_.Make(renewal_mode_, facts));
        ++renewal_tokens_;
      }
    }
  } else if (in.has_checkin()) {
    checkins_.push_back(in.checkin().lease_id());
    out->mutable_checkin_reply()->set_released(leases_.erase(in.checkin().lease_id()) > 0);
    if (!out->checkin_reply().released()) out->mutable_checkin_reply()->set_lost(v1::LEASE_UNKNOWN);
  } else if (in.has_status()) {
    out->mutable_status_reply()->set_appliance_id(tokens_.appliance_id());
  } else {
    return false;
  }
  return true;
}

}  // namespace tessera::client::testing
