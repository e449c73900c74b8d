#include "server/license_service.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <set>
#include <string_view>

#include "base/system_clock.h"
#include "server/log.h"
#include "server/wire_convert.h"

namespace tessera::server {

namespace asio = boost::asio;
namespace v1 = tessera::v1;

using wire::Denial;
using wire::ToWire;

namespace {

constexpr Duration kMaxExpiryInterval = std::chrono::seconds(1);
constexpr std::size_t kMaxHeartbeatIds = 10000;

engine::ClientInfo ClientOf(const Session& s) {
  return {s.client.client_id(), s.client.user(), s.client.host()};
}

}  // namespace

std::string FormatLeaseId(engine::LeaseId id) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(id));
  return buf;
}

std::optional<engine::LeaseId> ParseLeaseId(std::string_view text) {
  if (text.size() != 16) return std::nullopt;
  engine::LeaseId id = 0;
  for (char c : text) {
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else {
      return std::nullopt;
    }
    id = (id << 4) | static_cast<engine::LeaseId>(v);
  }
  if (id == 0) return std::nullopt;
  return id;
}

engine::LeaseId SeedLeaseId(TimePoint start) {
  auto ms = static_cast<std::uint64_t>(std::max<std::int64_t>(ToUnixMillis(start), 1));
  return ms << 12;
}

LicenseService::LicenseService(asio::io_context& io, engine::Engine engine,
                               store::BatchWriter& writer, Duration resync_interval,
                               const Clock& clock)
    : strand_(asio::make_strand(io)),
      engine_(std::move(engine)),
      expiry_timer_(strand_),
      clock_(clock),
      writer_(writer),
      resync_interval_(resync_interval) {}

LicenseService::~LicenseService() = default;

void LicenseService::Start() {
  asio::co_spawn(strand_, ExpiryLoop(), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      Log(LogLevel::kError, "expiry_driver_failed", {{"what", ex.what()}});
    }
  });
}

void LicenseService::Stop() {
  asio::post(strand_, [this]() {
    stopped_ = true;
    expiry_timer_.cancel();
  });
}

asio::awaitable<void> LicenseService::ExpiryLoop() {
  while (!stopped_) {
    engine_.ExpireDue(clock_.Now());
    PersistEvents();
    MaybeResync();
    TimePoint now = clock_.Now();
    Duration wait = kMaxExpiryInterval;
    if (auto next = engine_.NextDeadline()) {
      wait = std::clamp(*next - now, Duration(1), kMaxExpiryInterval);
    }
    armed_for_ = now + wait;
    expiry_timer_.expires_after(wait);
    co_await expiry_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

void LicenseService::ArmExpiry() {
  // A call may create an earlier deadline (a short queue timeout): wake the driver early.
  auto next = engine_.NextDeadline();
  if (next && armed_for_ && *next < *armed_for_) {
    armed_for_.reset();
    expiry_timer_.cancel();
  }
}

asio::awaitable<HandlerReply> LicenseService::Handle(std::shared_ptr<const Session> session,
                                                     v1::Frame request) {
  // The engine is touched only on its strand; this coroutine resumes on the caller's.
  HandlerReply reply = co_await asio::co_spawn(
      strand_, HandleOnStrandAsync(std::move(session), std::move(request)), asio::use_awaitable);
  co_return reply;
}

asio::awaitable<HandlerReply> LicenseService::HandleOnStrandAsync(
    std::shared_ptr<const Session> session, v1::Frame request) {
  std::vector<std::int64_t> prior_expiries;
  HandlerReply reply;
  if (request.body_case() == v1::Frame::kHeartbeat) {
    RegisterSession(*session);
    const TimePoint now = clock_.Now();
    reply.frame = writer_.writable()
                      ? Heartbeat(*session, request.heartbeat(), now, &prior_expiries)
                      : HeartbeatUnwritable(*session, request.heartbeat(), now);
  } else {
    reply = HandleOnStrand(*session, request);
  }
  ArmExpiry();
  Committed committed = co_await Persist();
  const tessera::Status& stored = committed.status;
  if (stored.ok()) {
    AttachTokens(committed.block.get(), request, reply.frame);
    co_return reply;
  }
  // Nothing of this call is durable: never report a grant or an expiry the store lacks.
  if (reply.frame.has_checkout_reply() && reply.frame.checkout_reply().has_granted()) {
    reply.frame =
        Denial(v1::UNAVAILABLE, "the license database cannot be written: " + stored.message());
  } else if (reply.frame.has_heartbeat_reply()) {
    auto* results = reply.frame.mutable_heartbeat_reply()->mutable_results();
    for (int i = 0; i < results->size() && i < static_cast<int>(prior_expiries.size()); ++i) {
      if (results->Get(i).renewed()) results->Mutable(i)->set_expires_at_ms(prior_expiries[i]);
    }
  }
  co_return reply;
}

void LicenseService::AttachTokens(const CommittedBlock* block, const v1::Frame& request,
                                  v1::Frame& reply) const {
  if (block == nullptr) return;
  if (reply.has_checkout_reply() && reply.checkout_reply().has_granted()) {
    v1::Lease* lease = reply.mutable_checkout_reply()->mutable_granted();
    auto id = ParseLeaseId(lease->lease_id());
    if (id) {
      if (auto token = block->TokenFor(*id)) lease->set_token(std::move(*token));
    }
    return;
  }
  if (!reply.has_heartbeat_reply() || request.heartbeat().token_lease_ids_size() == 0) return;
  std::set<std::string_view> wanted(request.heartbeat().token_lease_ids().begin(),
                                    request.heartbeat().token_lease_ids().end());
  for (v1::LeaseRenewal& r : *reply.mutable_heartbeat_reply()->mutable_results()) {
    if (!r.renewed() || !wanted.contains(r.lease_id())) continue;
    auto id = ParseLeaseId(r.lease_id());
    if (!id) continue;
    if (auto token = block->TokenFor(*id)) r.set_token(std::move(*token));
  }
}

void LicenseService::RegisterSession(const Session& s) {
  auto [it, inserted] = connection_client_.try_emplace(s.connection_id, s.client.client_id());
  if (inserted) clients_[s.client.client_id()][s.connection_id] = s.sink;
}

HandlerReply LicenseService::HandleOnStrand(const Session& session, const v1::Frame& request) {
  RegisterSession(session);
  const TimePoint now = clock_.Now();
  HandlerReply reply;
  std::vector<std::int64_t> prior_expiries_unused;  // heartbeats go through the async path
  switch (request.body_case()) {
    case v1::Frame::kCheckout:
      reply = Checkout(session, request, now);
      break;
    case v1::Frame::kHeartbeat:
      reply.frame = Heartbeat(session, request.heartbeat(), now, &prior_expiries_unused);
      break;
    case v1::Frame::kCheckin:
      reply.frame = Checkin(session, request.checkin(), now);
      break;
    case v1::Frame::kStatus:
      reply.frame = StatusQuery(session, request.status(), now);
      break;
    case v1::Frame::kCancelQueue:
      reply.frame = CancelQueue(session, request.cancel_queue(), now);
      break;
    default:
      reply.frame.mutable_error()->set_code(v1::UNKNOWN_MESSAGE);
      reply.frame.mutable_error()->set_message("not a request");
      break;
  }
  return reply;
}

HandlerReply LicenseService::Checkout(const Session& s, const v1::Frame& frame, TimePoint now) {
  const v1::CheckoutRequest& r = frame.checkout();
  HandlerReply reply;
  if (draining_) {
    reply.frame = Denial(v1::SERVER_DRAINING, "the server is shutting down");
    return reply;
  }
  if (!locked_reason_.empty()) {
    reply.frame = Denial(v1::UNAVAILABLE, locked_reason_);
    return reply;
  }
  if (!writer_.writable()) {
    reply.frame = Denial(v1::UNAVAILABLE, "the license database cannot be written (" +
                                              writer_.last_error().message() +
                                              "); no new seats until it recovers");
    return reply;
  }
  engine::CheckoutRequest req;
  req.client = ClientOf(s);
  req.feature = r.feature();
  req.version = r.version();
  req.count = r.count() == 0 ? 1 : r.count();
  req.nonce = r.nonce();
  req.queue_timeout = Duration(r.queue_timeout_ms());
  if (r.borrow_duration_ms() > static_cast<std::uint64_t>(INT64_MAX / 2)) {
    reply.frame = Denial(v1::INVALID_REQUEST, "borrow_duration_ms is out of range");
    return reply;
  }
  req.borrow_duration = Duration(static_cast<std::int64_t>(r.borrow_duration_ms()));
  req.metered_units = r.metered_units() == 0 ? 1 : r.metered_units();
  if (!r.resume_lease_id().empty()) {
    auto id = ParseLeaseId(r.resume_lease_id());
    if (!id) {
      reply.frame = Denial(v1::LEASE_NOT_RESUMABLE, "resume_lease_id is not a lease id");
      return reply;
    }
    req.resume_lease_id = *id;
  }
  engine::CheckoutOutcome outcome = engine_.Checkout(req, now);
  if (auto* g = std::get_if<engine::Granted>(&outcome)) {
    *reply.frame.mutable_checkout_reply()->mutable_granted() = ToWire(g->lease);
  } else if (auto* q = std::get_if<engine::Queued>(&outcome)) {
    waiters_[q->ticket] = Waiter{s.sink, s.connection_id, frame.request_id(), std::nullopt};
    tickets_[{s.connection_id, frame.request_id()}] = q->ticket;
    reply.frame.mutable_queued()->set_position(q->position);
    reply.final = false;
  } else {
    const auto& d = std::get<engine::Denied>(outcome);
    reply.frame = Denial(ToWire(d.reason), d.detail);
  }
  return reply;
}

v1::Frame LicenseService::Heartbeat(const Session& s, const v1::HeartbeatRequest& r, TimePoint now,
                                    std::vector<std::int64_t>* prior_expiries) {
  v1::Frame f;
  if (static_cast<std::size_t>(r.lease_ids_size()) > kMaxHeartbeatIds) {
    f.mutable_error()->set_code(v1::INVALID_ARGUMENT);
    f.mutable_error()->set_message("at most 10000 lease ids per heartbeat");
    return f;
  }
  v1::HeartbeatReply* out = f.mutable_heartbeat_reply();
  for (const std::string& text : r.lease_ids()) {
    v1::LeaseRenewal* renewal = out->add_results();
    renewal->set_lease_id(text);
    auto id = ParseLeaseId(text);
    if (!id) {
      renewal->set_lost(v1::LEASE_UNKNOWN);
      continue;
    }
    auto before = engine_.FindLease(*id, now);
    prior_expiries->resize(static_cast<std::size_t>(out->results_size()));
    prior_expiries->back() = before ? ToUnixMillis(before->expires_at) : 0;
    auto outcome = engine_.Heartbeat(*id, s.client.client_id(), now);
    if (auto* ok = std::get_if<engine::Renewed>(&outcome)) {
      renewal->set_renewed(true);
      renewal->set_expires_at_ms(ToUnixMillis(ok->lease.expires_at));
    } else {
      renewal->set_lost(ToWire(std::get<engine::Lost>(outcome).reason));
    }
  }
  return f;
}

v1::Frame LicenseService::HeartbeatUnwritable(const Session& s, const v1::HeartbeatRequest& r,
                                              TimePoint now) {
  // Nothing can be made durable: report each held lease's stored expiry, unchanged.
  v1::Frame f;
  if (static_cast<std::size_t>(r.lease_ids_size()) > kMaxHeartbeatIds) {
    f.mutable_error()->set_code(v1::INVALID_ARGUMENT);
    f.mutable_error()->set_message("at most 10000 lease ids per heartbeat");
    return f;
  }
  v1::HeartbeatReply* out = f.mutable_heartbeat_reply();
  for (const std::string& text : r.lease_ids()) {
    v1::LeaseRenewal* renewal = out->add_results();
    renewal->set_lease_id(text);
    auto id = ParseLeaseId(text);
    auto lease = id ? engine_.FindLease(*id, now) : std::nullopt;
    if (!lease || lease->client.client_id != s.client.client_id() || lease->lingering) {
      renewal->set_lost(v1::LEASE_UNKNOWN);
      continue;
    }
    renewal->set_renewed(true);
    renewal->set_expires_at_ms(ToUnixMillis(lease->expires_at));
  }
  return f;
}

v1::Frame LicenseService::Checkin(const Session& s, const v1::CheckinRequest& r, TimePoint now) {
  v1::Frame f;
  v1::CheckinReply* out = f.mutable_checkin_reply();
  auto id = ParseLeaseId(r.lease_id());
  if (!id) {
    out->set_lost(v1::LEASE_UNKNOWN);
    return f;
  }
  auto outcome = engine_.Checkin(*id, s.client.client_id(), r.metered_units_used(), now);
  if (std::holds_alternative<engine::Released>(outcome)) {
    out->set_released(true);
  } else {
    out->set_lost(ToWire(std::get<engine::Lost>(outcome).reason));
  }
  return f;
}

v1::Frame LicenseService::StatusQuery(const Session& s, const v1::StatusRequest& r, TimePoint now) {
  v1::Frame f;
  v1::StatusReply* out = f.mutable_status_reply();
  std::vector<engine::FeatureUsage> usage;
  if (r.feature().empty()) {
    usage = engine_.Usage(now);
  } else if (auto one = engine_.UsageOf(r.feature(), now)) {
    usage.push_back(std::move(*one));
  }
  for (const auto& u : usage) {
    v1::FeatureStatus* fs = out->add_features();
    fs->set_name(u.name);
    fs->set_model(std::string(engine::LicenseModelName(u.model)));
    fs->set_version_min(u.version_min);
    fs->set_version_max(u.version_max);
    fs->set_seats(u.seats);
    fs->set_in_use(u.in_use);
    fs->set_overdraft_in_use(u.overdraft_in_use);
    fs->set_queued(u.queued);
    if (u.starts_at) fs->set_starts_at_ms(ToUnixMillis(*u.starts_at));
    if (u.ends_at) fs->set_ends_at_ms(ToUnixMillis(*u.ends_at));
    fs->set_metered_remaining(
        static_cast<std::uint64_t>(std::max<std::int64_t>(u.metered_remaining, 0)));
    fs->set_pool(u.pool);
    fs->set_borrowable(u.borrowable);
  }
  for (const auto& lease : engine_.LeasesOf(s.client.client_id(), now)) {
    *out->add_my_leases() = ToWire(lease);
  }
  out->set_draining(draining_);
  out->set_appliance_id(appliance_id_);
  out->set_insecure_keys(insecure_keys_);
  out->set_server_time_ms(ToUnixMillis(RealClock().Now()));
  out->set_trusted_time_ms(ToUnixMillis(now));
  out->set_locked_reason(locked_reason_);
  out->set_signed_leases(sealer_ != nullptr);
  return f;
}

v1::Frame LicenseService::CancelQueue(const Session& s, const v1::CancelQueueRequest& r,
                                      TimePoint now) {
  v1::Frame f;
  bool cancelled = false;
  auto it = tickets_.find({s.connection_id, r.checkout_request_id()});
  if (it != tickets_.end()) cancelled = engine_.CancelQueued(it->second, now);
  f.mutable_cancel_queue_reply()->set_cancelled(cancelled);
  return f;
}

void LicenseService::OnClose(std::uint64_t connection_id) {
  asio::post(strand_, [this, connection_id]() {
    auto c = connection_client_.find(connection_id);
    if (c != connection_client_.end()) {
      auto holder = clients_.find(c->second);
      if (holder != clients_.end()) {
        holder->second.erase(connection_id);
        if (holder->second.empty()) clients_.erase(holder);
      }
      connection_client_.erase(c);
    }
    // Its queued checkouts can never be answered: withdraw them.
    const TimePoint now = clock_.Now();
    auto it = tickets_.lower_bound({connection_id, 0});
    while (it != tickets_.end() && it->first.first == connection_id) {
      engine::QueueTicket ticket = it->second;
      it = tickets_.erase(it);
      waiters_.erase(ticket);
      engine_.CancelQueued(ticket, now);
    }
    PersistEvents();
  });
}

void LicenseService::Reload(engine::Entitlement entitlement, engine::Rules rules,
                            std::optional<store::LicenseFile> entitlement_file,
                            std::optional<store::LicenseFile> rules_file,
                            std::function<void(tessera::Status)> done) {
  asio::post(strand_, [this, entitlement = std::move(entitlement), rules = std::move(rules),
                       ef = std::move(entitlement_file), rf = std::move(rules_file),
                       done = std::move(done)]() mutable {
    const TimePoint now = clock_.Now();
    tessera::Status s = engine_.SetEntitlement(std::move(entitlement), now);
    if (s.ok()) s = engine_.SetRules(std::move(rules), now);
    ArmExpiry();
    // A reload changes state without events (capped expiries, dropped bindings): store all.
    std::vector<engine::Event> events = engine_.TakeEvents();
    store::Unit unit = store::FullStateUnit(engine_.ExportState(), events);
    if (s.ok()) {
      unit.entitlement = std::move(ef);
      unit.rules = std::move(rf);
    }
    Submit(std::move(unit), std::move(events), [s, done = std::move(done)](const Committed& c) {
      if (done) done(s.ok() ? c.status : s);
    });
  });
}

void LicenseService::BeginDrain() {
  asio::post(strand_, [this]() {
    draining_ = true;
    const TimePoint now = clock_.Now();
    std::vector<engine::QueueTicket> tickets;
    for (auto& [ticket, waiter] : waiters_) {
      waiter.override_reason = static_cast<engine::DenialReason>(v1::SERVER_DRAINING);
      tickets.push_back(ticket);
    }
    for (auto t : tickets) engine_.CancelQueued(t, now);
    PersistEvents();
  });
}

}  // namespace tessera::server
