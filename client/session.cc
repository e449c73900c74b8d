#include "client/session.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <future>
#include <utility>

#include "base/system_clock.h"
#include "client/token_check.h"
#include "client/wire.h"
#include "protocol/framing.h"

namespace tessera::client {
namespace {

using tessera::v1::Frame;

constexpr Duration kHeartbeatRetryDelay{500};
constexpr Duration kMaxIdleWake{1000};
constexpr Duration kFirstBackoff{100};
constexpr Duration kStableConnection{5000};
constexpr size_t kNonceBytes = 16;

Status StatusFromErrorReply(const tessera::v1::ErrorReply& error) {
  const std::string message =
      "server error " + tessera::v1::ErrorCode_Name(error.code()) + ": " + error.message();
  switch (error.code()) {
    case tessera::v1::TOO_MANY_IN_FLIGHT:
      return ResourceExhausted(message);
    case tessera::v1::INVALID_ARGUMENT:
      return InvalidArgument(message);
    default:
      return Internal(message);
  }
}

bool IsFatalError(tessera::v1::ErrorCode code) {
  return code != tessera::v1::TOO_MANY_IN_FLIGHT && code != tessera::v1::INVALID_ARGUMENT;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// EventDispatcher

EventDispatcher::EventDispatcher(std::function<void(const LeaseEvent&)> callback)
    : callback_(std::move(callback)), thread_([this] { Run(); }) {}

EventDispatcher::~EventDispatcher() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void EventDispatcher::Post(LeaseEvent event) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(event));
  }
  cv_.notify_all();
}

void EventDispatcher::Run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stop_ and nothing left
    LeaseEvent event = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    try {
      callback_(event);
    } catch (...) {
      // An application callback that throws must not take the client down with it.
    }
    lock.lock();
  }
}

// ---------------------------------------------------------------------------------------
// Lifetime

Session::Session(ClientOptions options, std::vector<ServerAddress> servers)
    : options_(std::move(options)),
      servers_(std::move(servers)),
      work_(asio::make_work_guard(io_)),
      wake_(io_),
      backoff_(io_) {}

Result<std::unique_ptr<Session>> Session::Start(ClientOptions options,
                                                std::vector<ServerAddress> servers) {
  std::unique_ptr<Session> session(new Session(std::move(options), std::move(servers)));
  if (session->options_.tls.enabled) {
    session->tls_.emplace(asio::ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(session->tls_->native_handle(), TLS1_3_VERSION);
    session->tls_->set_verify_mode(asio::ssl::verify_peer);
    ErrorCode error;
    if (session->options_.tls.ca_file.empty()) {
      session->tls_->set_default_verify_paths(error);
    } else {
      session->tls_->load_verify_file(session->options_.tls.ca_file, error);
    }
    if (error) {
      return InvalidArgument("cannot load TLS CA file \"" + session->options_.tls.ca_file +
                             "\": " + error.message());
    }
  }
  if (session->options_.on_lease_event) {
    session->events_ = std::make_unique<EventDispatcher>(session->options_.on_lease_event);
  }
  Session* s = session.get();
  asio::co_spawn(s->io_, s->ConnectLoop(), asio::detached);
  asio::co_spawn(s->io_, s->Maintenance(), asio::detached);
  s->thread_ = std::thread([s] { s->io_.run(); });
  return session;
}

Session::~Session() {
  if (!thread_.joinable()) return;  // Start failed before the network thread ran
  if (options_.checkin_on_close) CheckinAllForClose();
  asio::post(io_, [this] { Shutdown(); });
  thread_.join();
  events_.reset();  // delivers events already queued
}

void Session::Shutdown() {
  stopping_ = true;
  if (connection_) connection_->Close();
  connection_.reset();
  std::vector<uint64_t> ids;
  for (const auto& [id, pending] : pending_) ids.push_back(id);
  for (uint64_t id : ids) Complete(id, Unavailable("the client is closing"));
  wake_.cancel();
  backoff_.cancel();
  work_.reset();
  io_.stop();  // coroutine frames still suspended are destroyed with io_
}

void Session::CheckinAllForClose() {
  std::vector<Lease> held = Leases();
  std::vector<std::future<void>> answers;
  for (const Lease& lease : held) {
    if (lease.borrowed) continue;  // a borrow lives on offline until it ends
    answers.push_back(
        std::async(std::launch::async, [this, id = lease.lease_id] { (void)Checkin(id, 0); }));
  }
  for (auto& answer : answers) answer.wait();
}

// ---------------------------------------------------------------------------------------
// Calls from application threads

template <typename T>
Result<T> Session::Call(std::function<void(std::function<void(Result<T>)>)> on_io) {
  if (stopping_) return Unavailable("the client is closing");
  auto promise = std::make_shared<std::promise<Result<T>>>();
  auto answer = promise->get_future();
  asio::post(io_, [this, on_io = std::move(on_io), promise] {
    std::function<void(Result<T>)> done = [promise](Result<T> result) {
      promise->set_value(std::move(result));
    };
    if (stopping_) {
      done(Unavailable("the client is closing"));
      return;
    }
    on_io(std::move(done));
  });
  // The network thread answers every call; only a client being torn down stops it first.
  while (answer.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready) {
    if (io_.stopped()) return Unavailable("the client is closing");
  }
  return answer.get();
}

Result<CheckoutOutcome> Session::Checkout(const CheckoutRequest& request) {
  if (request.feature.empty()) return InvalidArgument("checkout needs a feature name");
  if (request.count == 0) return InvalidArgument("checkout count must be at least 1");
  if (request.queue_timeout < Duration(0) || request.borrow_duration < Duration(0)) {
    return InvalidArgument("queue timeout and borrow duration must not be negative");
  }
  if (request.queue_timeout.count() > UINT32_MAX) {
    return InvalidArgument("queue timeout above 49 days");
  }
  return Call<CheckoutOutcome>([this, request](std::function<void(Result<CheckoutOutcome>)> done) {
    Pending pending;
    std::string nonce = wire::RandomBytes(kNonceBytes);
    wire::ToProto(request, nonce, pending.frame.mutable_checkout());
    pending.deadline = MonotonicNow() + options_.request_timeout + request.queue_timeout;
    pending.is_checkout = true;
    // Converted on the network thread, so the lease is in the table before the caller has it.
    pending.done = [this, done = std::move(done), nonce = std::move(nonce),
                    feature = request.feature](Result<Frame> answer) {
      done(OnCheckoutAnswer(std::move(answer), nonce, feature));
    };
    Submit(std::move(pending));
  });
}

Result<CheckoutOutcome> Session::OnCheckoutAnswer(Result<Frame> answer, const std::string& nonce,
                                                  const std::string& feature) {
  if (!answer.ok()) return answer.status();
  if (!answer->has_checkout_reply()) return Internal("the server answered a checkout oddly");
  const auto& reply = answer->checkout_reply();
  if (reply.has_granted()) {
    Lease lease = wire::FromProto(reply.granted());
    if (lease.lease_id.empty()) return Internal("the server granted a lease without an id");
    if (Status verified = VerifyToken(&lease, nonce, feature); !verified.ok()) {
      // The grant is not proven: the application must not run on it, and the seat goes back.
      CheckinQuietly(lease.lease_id);
      return verified;
    }
    table_.Add(lease, MonotonicNow(), nonce);
    Kick();
    return CheckoutOutcome(std::move(lease));
  }
  if (reply.has_denied()) {
    return CheckoutOutcome(
        Denial{wire::FromProto(reply.denied().reason()), reply.denied().detail()});
  }
  return Internal("the server answered a checkout with neither a lease nor a denial");
}

Result<CheckinOutcome> Session::Checkin(std::string_view lease_id, uint64_t metered_units_used) {
  if (lease_id.empty()) return InvalidArgument("checkin needs a lease id");
  return Call<CheckinOutcome>([this, id = std::string(lease_id), metered_units_used](
                                  std::function<void(Result<CheckinOutcome>)> done) {
    table_.Remove(id);  // never renewed again, whatever the answer
    resuming_ids_.erase(id);
    Pending pending;
    pending.frame.mutable_checkin()->set_lease_id(id);
    pending.frame.mutable_checkin()->set_metered_units_used(metered_units_used);
    pending.deadline = MonotonicNow() + options_.request_timeout;
    pending.retry_on_reconnect = true;
    pending.done = [done = std::move(done)](Result<Frame> answer) {
      if (!answer.ok()) return done(answer.status());
      if (!answer->has_checkin_reply())
        return done(Internal("the server answered a checkin oddly"));
      CheckinOutcome outcome;
      outcome.released = answer->checkin_reply().released();
      outcome.lost = wire::FromProto(answer->checkin_reply().lost());
      done(outcome);
    };
    Submit(std::move(pending));
  });
}

Result<ServerStatus> Session::GetStatus(std::string_view feature) {
  return Call<ServerStatus>(
      [this, feature = std::string(feature)](std::function<void(Result<ServerStatus>)> done) {
        Pending pending;
        pending.frame.mutable_status()->set_feature(feature);
        pending.deadline = MonotonicNow() + options_.request_timeout;
        pending.retry_on_reconnect = true;
        pending.done = [this, done = std::move(done)](Result<Frame> answer) {
          if (!answer.ok()) return done(answer.status());
          if (!answer->has_status_reply()) {
            return done(Internal("the server answered a status request oddly"));
          }
          const auto& reply = answer->status_reply();
          ServerStatus status;
          if (connection_) {
            status.server = connection_->server();
            status.server_id = connection_->server_id;
          }
          for (const auto& f : reply.features()) status.features.push_back(wire::FromProto(f));
          for (const auto& l : reply.my_leases()) status.my_leases.push_back(wire::FromProto(l));
          status.draining = reply.draining();
          status.server_time = FromUnixMillis(reply.server_time_ms());
          status.appliance_id = reply.appliance_id();
          status.insecure_keys = reply.insecure_keys();
          done(std::move(status));
        };
        Submit(std::move(pending));
      });
}

Status Session::WaitConnected(Duration timeout) {
  std::unique_lock lock(state_mu_);
  if (connected_cv_.wait_for(lock, timeout, [this] { return !connected_server_.empty(); })) {
    return Status::Ok();
  }
  return DeadlineExceeded("not connected to any server within " + std::to_string(timeout.count()) +
                          " ms");
}

std::vector<Lease> Session::Leases() {
  if (stopping_) return {};
  auto promise = std::make_shared<std::promise<std::vector<Lease>>>();
  auto answer = promise->get_future();
  asio::post(io_, [this, promise] { promise->set_value(table_.Snapshot()); });
  while (answer.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready) {
    if (io_.stopped()) return {};
  }
  return answer.get();
}

std::string Session::ConnectedServer() const {
  std::lock_guard lock(state_mu_);
  return connected_server_;
}

// ---------------------------------------------------------------------------------------
// Requests on the network thread

void Session::Submit(Pending pending) {
  if (stopping_) {
    pending.done(Unavailable("the client is closing"));
    return;
  }
  const uint64_t id = next_request_id_++;
  pending.frame.set_request_id(id);
  Pending& stored = pending_.emplace(id, std::move(pending)).first->second;
  const bool may_send = !resuming_ || stored.internal;
  const bool room =
      connection_ && (connection_->max_in_flight == 0 || in_flight_ < connection_->max_in_flight);
  if (connection_ && may_send && room) SendPending(id, stored);
  Kick();
}

void Session::SendPending(uint64_t id, Pending& pending) {
  Status sent = connection_->Send(pending.frame);
  if (!sent.ok()) {
    Complete(id, sent);
    return;
  }
  pending.sent = true;
  ++in_flight_;
}

void Session::FlushUnsent() {
  std::vector<uint64_t> ids;
  for (const auto& [id, pending] : pending_) {
    if (!pending.sent && (!resuming_ || pending.internal)) ids.push_back(id);
  }
  for (uint64_t id : ids) {
    if (!connection_) return;
    if (connection_->max_in_flight != 0 && in_flight_ >= connection_->max_in_flight) return;
    auto it = pending_.find(id);
    if (it != pending_.end() && !it->second.sent) SendPending(id, it->second);
  }
}

void Session::FailUnsent(const Status& status) {
  std::vector<uint64_t> ids;
  for (const auto& [id, pending] : pending_) {
    if (!pending.sent) ids.push_back(id);
  }
  for (uint64_t id : ids) Complete(id, status);
}

void Session::Complete(uint64_t id, Result<Frame> result) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  Pending pending = std::move(it->second);
  pending_.erase(it);
  if (pending.sent && in_flight_ > 0) --in_flight_;
  if (result.ok() && result->has_error()) result = StatusFromErrorReply(result->error());
  pending.done(std::move(result));
  if (pending.sent) FlushUnsent();
}

void Session::ExpireDeadlines(Duration now) {
  std::vector<uint64_t> ids;
  for (const auto& [id, pending] : pending_) {
    if (pending.deadline <= now) ids.push_back(id);
  }
  for (uint64_t id : ids) {
    const Pending& pending = pending_.at(id);
    // A grant may still arrive for it: remember to give that seat straight back.
    if (pending.sent && pending.is_checkout) abandoned_checkouts_.insert(id);
    const std::string where =
        connection_ ? "from " + connection_->server() : "(no server reachable yet)";
    Complete(id, DeadlineExceeded("no answer " + where + " within the request timeout"));
  }
}

void Session::OnLateReply(uint64_t id, const Frame& frame) {
  if (abandoned_checkouts_.erase(id) == 0) return;
  if (!frame.has_checkout_reply() || !frame.checkout_reply().has_granted()) return;
  CheckinQuietly(frame.checkout_reply().granted().lease_id());
}

void Session::CheckinQuietly(const std::string& lease_id) {
  if (lease_id.empty()) return;
  Pending pending;
  pending.frame.mutable_checkin()->set_lease_id(lease_id);
  pending.deadline = MonotonicNow() + options_.request_timeout;
  pending.internal = true;
  pending.done = [](const Result<Frame>&) {};
  Submit(std::move(pending));
}

Status Session::VerifyToken(Lease* lease, std::string_view nonce, std::string_view feature) const {
  if (!VerifiesTokens()) return Status::Ok();
  TokenExpectation expect;
  expect.nonce = nonce;
  expect.feature = feature;
  expect.lease_id = lease->lease_id;
  expect.count = lease->count;
  const std::string token = lease->token;
  return VerifyLeaseTokenInto(token, options_.vendor_root_public_key, expect, RealClock().Now(),
                              lease);
}

void Session::Kick() { wake_.cancel(); }

asio::awaitable<void> Session::Maintenance() {
  while (!stopping_) {
    const Duration now = MonotonicNow();
    ExpireDeadlines(now);
    if (connection_ && !resuming_ && !heartbeat_in_flight_ && now >= heartbeat_retry_at_) {
      std::vector<std::string> due = table_.DueForRenewal(now);
      // Leases beyond one heartbeat's limit stay due and go out once this one is answered.
      if (due.size() > protocol::kMaxHeartbeatLeaseIds) due.resize(protocol::kMaxHeartbeatLeaseIds);
      if (!due.empty()) SendHeartbeat(due, /*resume=*/false);
    }
    Duration next = now + kMaxIdleWake;
    for (const auto& [id, pending] : pending_) next = std::min(next, pending.deadline);
    if (connection_ && !resuming_ && !heartbeat_in_flight_) {
      if (auto due = table_.NextDue()) next = std::min(next, std::max(*due, heartbeat_retry_at_));
    }
    wake_.expires_after(std::max(next - MonotonicNow(), Duration(0)));
    co_await wake_.async_wait(kNoThrow);
  }
}

// ---------------------------------------------------------------------------------------
// Connections

asio::awaitable<void> Session::ConnectLoop() {
  Duration backoff = kFirstBackoff;
  while (!stopping_) {
    std::string errors;
    bool served = false;
    Duration served_for{0};
    for (size_t i = 0; i < servers_.size() && !stopping_; ++i) {
      const size_t index = (preferred_ + i) % servers_.size();
      auto connection = co_await ConnectWithTimeout(servers_[index]);
      if (!connection.ok()) {
        errors += (errors.empty() ? "" : "; ") + connection.status().message();
        continue;
      }
      preferred_ = index;
      const Duration started = MonotonicNow();
      co_await Serve(std::move(connection).value());
      served_for = MonotonicNow() - started;
      served = true;
      break;
    }
    if (stopping_) break;
    if (!served) FailUnsent(Unavailable("cannot reach any server: " + errors));
    if (served && served_for >= kStableConnection) backoff = kFirstBackoff;
    backoff_.expires_after(backoff);
    co_await backoff_.async_wait(kNoThrow);
    backoff = std::min(backoff * 2, std::max(options_.max_reconnect_backoff, kFirstBackoff));
  }
}

asio::awaitable<Result<std::shared_ptr<Connection>>> Session::ConnectWithTimeout(
    const ServerAddress& address) {
  using asio::experimental::awaitable_operators::operator||;
  tessera::v1::Hello hello;
  hello.set_min_version(protocol::kProtocolVersion);
  hello.set_max_version(protocol::kProtocolVersion);
  auto* identity = hello.mutable_client();
  identity->set_client_id(options_.client_id);
  identity->set_user(options_.user);
  identity->set_host(options_.host);
  identity->set_app_name(options_.app_name);
  identity->set_app_version(options_.app_version);
  asio::ssl::context* tls = tls_ ? &*tls_ : nullptr;
  asio::steady_timer timer(io_, options_.connect_timeout);
  auto first = co_await (OpenConnection(address, tls, options_.tls.server_name, hello) ||
                         timer.async_wait(kNoThrow));
  if (first.index() == 1) {
    co_return DeadlineExceeded(address.ToString() + ": no answer within the connect timeout");
  }
  co_return std::get<0>(std::move(first));
}

asio::awaitable<void> Session::Serve(std::shared_ptr<Connection> connection) {
  connection_ = connection;
  ++generation_;
  {
    std::lock_guard lock(state_mu_);
    connected_server_ = connection->server();
  }
  connected_cv_.notify_all();
  asio::co_spawn(io_, Connection::WriteLoop(connection), asio::detached);
  BeginResume();
  Kick();
  co_await ReadLoop(connection);
  connection->Close();
  if (connection_ == connection && !stopping_) OnDisconnected(connection->server());
}

asio::awaitable<void> Session::ReadLoop(std::shared_ptr<Connection> connection) {
  std::array<char, 16384> buffer{};
  std::string first = std::move(connection->leftover());
  std::string_view input(first);
  for (;;) {
    Frame frame;
    while (!input.empty() && !connection->closed()) {
      const auto outcome = connection->decoder().Decode(input, &frame);
      if (outcome == protocol::FrameDecoder::Outcome::kError) {
        connection->Close();  // out of sync: nothing more can be trusted on this connection
        co_return;
      }
      if (outcome == protocol::FrameDecoder::Outcome::kFrame) OnFrame(*connection, frame);
    }
    if (connection->closed() || stopping_) co_return;
    auto [error, n] = co_await connection->transport().ReadSome(asio::buffer(buffer));
    if (error || stopping_) co_return;
    input = std::string_view(buffer.data(), n);
  }
}

void Session::OnFrame(Connection& connection, Frame& frame) {
  const uint64_t id = frame.request_id();
  if (id != 0) {
    if (frame.has_queued()) return;  // the answer follows when a seat frees or time runs out
    if (pending_.count(id) == 0) {
      OnLateReply(id, frame);
      return;
    }
    if (frame.has_error() && IsFatalError(frame.error().code())) connection.Close();
    Complete(id, std::move(frame));
    return;
  }
  if (frame.has_lease_revoked()) {
    const auto& revoked = frame.lease_revoked();
    auto held = table_.Remove(revoked.lease_id());
    if (!held) return;
    LeaseEvent event;
    event.kind = LeaseEvent::Kind::kRevoked;
    event.lease_id = revoked.lease_id();
    event.feature = held->lease.feature;
    event.loss = LossReason::kRevoked;
    event.detail = revoked.reason();
    Emit(std::move(event));
  } else if (frame.has_server_draining()) {
    // Reconnect elsewhere first once this server closes.
    if (servers_.size() > 1) preferred_ = (preferred_ + 1) % servers_.size();
  } else if (frame.has_error() && IsFatalError(frame.error().code())) {
    connection.Close();
  }
}

void Session::OnDisconnected(const std::string& why) {
  connection_.reset();
  {
    std::lock_guard lock(state_mu_);
    connected_server_.clear();
  }
  resuming_ = false;
  resume_steps_ = 0;
  resuming_ids_.clear();
  heartbeat_in_flight_ = false;
  in_flight_ = 0;
  std::vector<uint64_t> lost;
  for (auto& [id, pending] : pending_) {
    if (!pending.sent) continue;
    pending.sent = false;
    if (!pending.retry_on_reconnect) lost.push_back(id);
  }
  for (uint64_t id : lost) {
    Complete(id, Unavailable("the connection to " + why + " closed before the answer"));
  }
}

// ---------------------------------------------------------------------------------------
// Renewal and resume

void Session::BeginResume() {
  std::vector<std::string> ids = table_.RenewableIds();
  if (ids.empty()) {
    resuming_ = false;
    FlushUnsent();
    return;
  }
  // Held leases go first: a new checkout must not take the seat a resume needs.
  resuming_ = true;
  const size_t limit = protocol::kMaxHeartbeatLeaseIds;
  resume_steps_ = static_cast<int>((ids.size() + limit - 1) / limit);
  for (size_t begin = 0; begin < ids.size(); begin += limit) {
    const size_t end = std::min(ids.size(), begin + limit);
    SendHeartbeat(std::vector<std::string>(ids.begin() + static_cast<std::ptrdiff_t>(begin),
                                           ids.begin() + static_cast<std::ptrdiff_t>(end)),
                  /*resume=*/true);
  }
}

void Session::SendHeartbeat(const std::vector<std::string>& ids, bool resume) {
  Pending pending;
  for (const auto& id : ids) pending.frame.mutable_heartbeat()->add_lease_ids(id);
  if (VerifiesTokens()) {
    // A subset of this chunk's ids, so each request stays within the server's limit.
    for (auto& id : table_.TokenDue(ids, RealClock().Now())) {
      pending.frame.mutable_heartbeat()->add_token_lease_ids(std::move(id));
    }
  }
  const Duration sent_at = MonotonicNow();
  pending.deadline = sent_at + options_.request_timeout;
  pending.internal = true;
  const uint64_t generation = generation_;
  pending.done = [this, generation, sent_at, resume](Result<Frame> answer) {
    if (!resume) heartbeat_in_flight_ = false;
    if (generation != generation_) return;
    if (!answer.ok() || !answer->has_heartbeat_reply()) {
      heartbeat_retry_at_ = MonotonicNow() + kHeartbeatRetryDelay;
    } else {
      OnRenewals(answer->heartbeat_reply(), sent_at);
    }
    if (resume) ResumeStepDone(generation);
    Kick();
  };
  if (!resume) heartbeat_in_flight_ = true;
  Submit(std::move(pending));
}

void Session::OnRenewals(const tessera::v1::HeartbeatReply& reply, Duration sent_at) {
  for (const auto& result : reply.results()) {
    if (!table_.Contains(result.lease_id())) continue;
    if (result.renewed()) {
      table_.Renewed(result.lease_id(), FromUnixMillis(result.expires_at_ms()), sent_at);
      if (!result.token().empty()) {
        const HeldLease* held = table_.Find(result.lease_id());
        Lease fresh = held->lease;
        fresh.token = result.token();
        fresh.token_verified = false;
        // A renewal token proves the same lease: the nonce of the checkout that granted it.
        if (Status verified = VerifyToken(&fresh, held->nonce_sent, held->lease.feature);
            !verified.ok()) {
          LoseLeaseToToken(result.lease_id(), verified);
          continue;
        }
        table_.UpdateToken(result.lease_id(), fresh);
      }
      // No token when one was asked: the next renewal asks again.
      continue;
    }
    const LossReason loss = wire::FromProto(result.lost());
    if (loss == LossReason::kUnknown || loss == LossReason::kExpired) {
      ResumeLease(result.lease_id());  // e.g. the server restarted or expired it meanwhile
    } else {
      LoseLease(result.lease_id(), loss, DenialReason::kUnspecified,
                "renewal refused: " + std::string(LossReasonName(loss)));
    }
  }
}

void Session::ResumeLease(const std::string& lease_id) {
  const HeldLease* held = table_.Find(lease_id);
  if (held == nullptr || !resuming_ids_.insert(lease_id).second) return;
  CheckoutRequest request;
  request.feature = held->lease.feature;
  request.version = held->lease.version;
  request.count = held->lease.count;
  Pending pending;
  std::string nonce = wire::RandomBytes(kNonceBytes);
  wire::ToProto(request, nonce, pending.frame.mutable_checkout());
  pending.frame.mutable_checkout()->set_resume_lease_id(lease_id);
  pending.deadline = MonotonicNow() + options_.request_timeout;
  pending.internal = true;
  const uint64_t generation = generation_;
  ++resume_steps_;
  pending.done = [this, generation, lease_id, nonce = std::move(nonce),
                  first_nonce = held->nonce_sent, feature = request.feature](Result<Frame> answer) {
    resuming_ids_.erase(lease_id);
    if (answer.ok() && answer->has_checkout_reply() && table_.Contains(lease_id)) {
      const auto& reply = answer->checkout_reply();
      if (reply.has_granted() && !reply.granted().lease_id().empty()) {
        Lease lease = wire::FromProto(reply.granted());
        // A server that still holds the lease re-grants it as it was, with the nonce of the
        // checkout that first granted it; one that lost it grants anew with this nonce.
        std::string proven_nonce = nonce;
        Status verified = VerifyToken(&lease, nonce, feature);
        if (TokenErrorOf(verified) == TokenError::kNonceMismatch && !first_nonce.empty()) {
          verified = VerifyToken(&lease, first_nonce, feature);
          proven_nonce = first_nonce;
        }
        if (!verified.ok()) {
          if (lease.lease_id != lease_id) CheckinQuietly(lease.lease_id);
          LoseLeaseToToken(lease_id, verified);
          ResumeStepDone(generation);
          Kick();
          return;
        }
        table_.Replace(lease_id, lease, MonotonicNow(), proven_nonce);
        LeaseEvent event;
        event.kind = LeaseEvent::Kind::kResumed;
        event.lease_id = lease.lease_id;
        event.previous_lease_id = lease_id;
        event.feature = lease.feature;
        Emit(std::move(event));
      } else if (reply.has_denied()) {
        LoseLease(lease_id, LossReason::kUnspecified, wire::FromProto(reply.denied().reason()),
                  "resume refused: " + reply.denied().detail());
      }
    }
    // A transport failure leaves the lease held: the next heartbeat tries again.
    ResumeStepDone(generation);
    Kick();
  };
  Submit(std::move(pending));
}

void Session::ResumeStepDone(uint64_t generation) {
  if (generation != generation_) return;
  if (resume_steps_ > 0) --resume_steps_;
  if (resume_steps_ == 0 && resuming_) {
    resuming_ = false;
    FlushUnsent();
  }
}

void Session::LoseLease(const std::string& lease_id, LossReason loss, DenialReason denial,
                        std::string detail, std::optional<TokenError> token_error) {
  auto held = table_.Remove(lease_id);
  if (!held) return;
  LeaseEvent event;
  event.kind = LeaseEvent::Kind::kLost;
  event.lease_id = lease_id;
  event.feature = held->lease.feature;
  event.loss = loss;
  event.denial = denial;
  event.detail = std::move(detail);
  event.token_error = token_error;
  Emit(std::move(event));
}

void Session::LoseLeaseToToken(const std::string& lease_id, const Status& rejected) {
  // The seat is not proven any more: stop renewing it and give it back (best effort).
  CheckinQuietly(lease_id);
  LoseLease(lease_id, LossReason::kUnspecified, DenialReason::kUnspecified, rejected.message(),
            TokenErrorOf(rejected));
}

void Session::Emit(LeaseEvent event) {
  if (events_) events_->Post(std::move(event));
}

}  // namespace tessera::client
