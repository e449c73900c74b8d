// LicenseService: persisting the engine's events through the BatchWriter and releasing
// replies and pushes only once they are durable (docs/SERVER.md "Durable store").
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>

#include "base/system_clock.h"
#include "server/license_service.h"
#include "server/log.h"
#include "server/wire_convert.h"

namespace tessera::server {

namespace asio = boost::asio;
namespace v1 = tessera::v1;

namespace {

bool IsGrant(const engine::Event& e) {
  return e.kind == engine::EventKind::kGranted || e.kind == engine::EventKind::kDequeued ||
         e.kind == engine::EventKind::kReclaimed;
}

void LogEvent(const engine::Event& e) {
  Log(LogLevel::kInfo, "lease_event",
      {{"kind", std::string(engine::EventKindName(e.kind))},
       {"lease", e.lease_id ? FormatLeaseId(e.lease_id) : std::string("-")},
       {"feature", e.feature},
       {"client_id", e.client.client_id},
       {"user", e.client.user},
       {"host", e.client.host},
       {"count", std::to_string(e.count)},
       {"reason", e.reason ? std::string(engine::DenialReasonName(*e.reason)) : "-"},
       {"detail", e.detail}});
}

}  // namespace

bool LicenseService::HasNamedUsers() const {
  for (const auto& f : engine_.entitlement().features) {
    if (f.model == engine::LicenseModel::kNamedUser) return true;
  }
  return false;
}

asio::awaitable<LicenseService::Committed> LicenseService::Persist() {
  std::vector<engine::Event> events = engine_.TakeEvents();
  if (events.empty()) co_return Committed{};
  store::Unit unit = store::UnitFromEvents(events);
  auto initiate = [this, unit = std::move(unit), events = std::move(events)](auto handler) mutable {
    auto shared = std::make_shared<decltype(handler)>(std::move(handler));
    Submit(std::move(unit), std::move(events), [shared](const Committed& c) { (*shared)(c); });
  };
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(Committed)>(
      std::move(initiate), asio::use_awaitable);
}

void LicenseService::PersistEvents() {
  std::vector<engine::Event> events = engine_.TakeEvents();
  if (events.empty()) return;
  store::Unit unit = store::UnitFromEvents(events);
  Submit(std::move(unit), std::move(events), nullptr);
}

void LicenseService::Submit(store::Unit unit, std::vector<engine::Event> events, Done done) {
  if (!unit.changes.replace && HasNamedUsers()) {
    unit.changes.bindings = engine_.ExportState().bindings;
  }
  writer_.Submit(std::move(unit), [this, events = std::move(events), done = std::move(done)](
                                      const tessera::Status& status, std::uint64_t batch) mutable {
    // Writer thread, right after the commit: the sealer's last block is this batch's, if
    // the batch was sealed. Hand the outcome to the strand, in commit order.
    Committed committed{status, nullptr};
    if (status.ok() && sealer_ != nullptr) {
      committed.block = sealer_->last();
      if (committed.block && committed.block->batch() != batch) committed.block.reset();
    }
    asio::post(strand_, [this, committed = std::move(committed), events = std::move(events),
                         done = std::move(done)]() mutable {
      OnCommitted(committed, events);
      if (done) done(committed);
    });
  });
}

void LicenseService::OnCommitted(const Committed& committed, std::vector<engine::Event>& events) {
  // Any commit (a resync, a reload) means the store writes again.
  NoteStoreStatus(committed.status);
  DispatchEvents(events, committed);
  if (!committed.status.ok()) RevokeUnanswered(events);
}

void LicenseService::RevokeUnanswered(const std::vector<engine::Event>& events) {
  // Grants of a failed unit were never answered; without a revoke they would hold seats
  // until they expire. The revocations are kept by the writer for the next resync.
  const TimePoint now = clock_.Now();
  for (const engine::Event& e : events) {
    if (IsGrant(e) && e.lease_id != 0) engine_.Revoke(e.lease_id, "store unavailable", now);
  }
  std::vector<engine::Event> revoked = engine_.TakeEvents();
  for (const engine::Event& e : revoked) LogEvent(e);
  if (revoked.empty()) return;
  store::Unit unit = store::UnitFromEvents(revoked);
  Submit(std::move(unit), {}, nullptr);
}

void LicenseService::NoteStoreStatus(const tessera::Status& status) {
  if (status.ok() == store_ok_) return;
  store_ok_ = status.ok();
  if (store_ok_) {
    Log(LogLevel::kInfo, "store_recovered", {{"detail", "writes resumed; granting again"}});
  } else {
    Log(LogLevel::kError, "store_fault",
        {{"error", status.ToString()},
         {"detail", "no new seats until the database can be written"}});
  }
}

void LicenseService::MaybeResync() {
  if (writer_.writable() || resync_in_flight_ || stopped_) return;
  const Duration now = MonotonicNow();
  if (now < next_resync_) return;
  next_resync_ = now + resync_interval_;
  resync_in_flight_ = true;
  std::vector<engine::Event> events = engine_.TakeEvents();
  store::Unit unit = store::FullStateUnit(engine_.ExportState(), events);
  Submit(std::move(unit), std::move(events), [this](const Committed& c) {
    resync_in_flight_ = false;
    NoteStoreStatus(c.status);
  });
}

void LicenseService::DispatchEvents(std::vector<engine::Event>& events,
                                    const Committed& committed) {
  for (engine::Event& e : events) {
    LogEvent(e);
    if (e.kind == engine::EventKind::kRevoked) {
      auto holder = clients_.find(e.client.client_id);
      if (holder == clients_.end()) continue;
      v1::Frame push;
      push.mutable_lease_revoked()->set_lease_id(FormatLeaseId(e.lease_id));
      push.mutable_lease_revoked()->set_reason(e.detail);
      for (auto& [conn, weak] : holder->second) {
        if (auto sink = weak.lock()) sink->Push(push, false);
      }
      continue;
    }
    AnswerWaiter(e, committed);
  }
}

void LicenseService::AnswerWaiter(const engine::Event& e, const Committed& committed) {
  const bool durable = committed.status.ok();
  if (e.ticket == 0) return;
  bool final_for_waiter =
      e.kind == engine::EventKind::kDequeued || e.kind == engine::EventKind::kQueueTimeout ||
      e.kind == engine::EventKind::kQueueCancelled || e.kind == engine::EventKind::kDenied;
  if (!final_for_waiter) return;
  auto w = waiters_.find(e.ticket);
  if (w == waiters_.end()) return;
  Waiter waiter = std::move(w->second);
  waiters_.erase(w);
  tickets_.erase({waiter.connection_id, waiter.request_id});
  auto sink = waiter.sink.lock();
  if (!sink) return;
  v1::Frame reply;
  if (e.kind == engine::EventKind::kDequeued && e.lease && durable) {
    v1::Lease* granted = reply.mutable_checkout_reply()->mutable_granted();
    *granted = wire::ToWire(*e.lease);
    if (committed.block) {
      if (auto token = committed.block->TokenFor(e.lease_id)) granted->set_token(std::move(*token));
    }
  } else if (e.kind == engine::EventKind::kDequeued) {
    reply = wire::Denial(v1::UNAVAILABLE, "the license database cannot be written");
  } else if (waiter.override_reason) {
    reply = wire::Denial(wire::ToWire(*waiter.override_reason), "the server is shutting down");
  } else {
    reply =
        wire::Denial(e.reason ? wire::ToWire(*e.reason) : v1::DENIAL_REASON_UNSPECIFIED, e.detail);
  }
  reply.set_request_id(waiter.request_id);
  sink->Push(std::move(reply), true);
}

}  // namespace tessera::server
