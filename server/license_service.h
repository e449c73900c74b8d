// The licensing service: the RequestHandler that maps wire requests onto the engine.
//
// The engine is single-threaded: it lives on one strand, and connection coroutines only
// reach it by spawning work onto that strand and awaiting the result. After every engine call
// the service drains the engine's events: a queued checkout's final CheckoutReply, revocation
// pushes (LeaseRevoked to every connection of the holder's client id) and one log line each.
// An expiry driver on the same strand calls ExpireDue at the engine's next deadline, and at
// least once a second.
//
// Durability (docs/SERVER.md "Durable store"): the events of every engine call go to the
// store's BatchWriter as one unit; a reply or push that reports a change (grant, renewal,
// checkin, dequeued waiter, revocation) is released only once its batch committed. While the
// store cannot write, checkouts are denied UNAVAILABLE, heartbeats report the stored expiry
// unchanged, and a timer resubmits the full state until a write succeeds.
//
// Lease ids on the wire: 16 lowercase hex digits of the engine's 64-bit id (PROTOCOL.md).
//
// Thread safety: Handle/OnClose/Reload/BeginDrain/Start/Stop are thread-safe.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "server/audit_sealer.h"
#include "server/engine/engine.h"
#include "server/net/handler.h"
#include "server/store/batch_writer.h"

namespace tessera::server {

// "0001926c3f8a1000" for id 0x1926c3f8a1000.
std::string FormatLeaseId(engine::LeaseId id);
// Inverse of FormatLeaseId; nullopt for anything else (or 0).
std::optional<engine::LeaseId> ParseLeaseId(std::string_view text);

// A first lease id derived from the start time, so ids differ across restarts:
// unix milliseconds << 12 (room for 4096 leases per millisecond of uptime).
engine::LeaseId SeedLeaseId(TimePoint start);

class LicenseService : public RequestHandler {
 public:
  // `writer` must outlive the service and be stopped before the service is destroyed.
  // `clock` is the time every engine call is judged by (the trusted clock in tesserad).
  LicenseService(boost::asio::io_context& io, engine::Engine engine, store::BatchWriter& writer,
                 Duration resync_interval, const Clock& clock);
  ~LicenseService() override;

  // Starts the expiry driver.
  void Start();
  // Stops the expiry driver (for shutdown).
  void Stop();

  boost::asio::awaitable<HandlerReply> Handle(std::shared_ptr<const Session> session,
                                              tessera::v1::Frame request) override;
  void OnClose(std::uint64_t connection_id) override;

  // Replaces entitlement and rules (SIGHUP) and stores them with the full state. `done` gets
  // the outcome once it is durable, on the engine strand.
  void Reload(engine::Entitlement entitlement, engine::Rules rules,
              std::optional<store::LicenseFile> entitlement_file,
              std::optional<store::LicenseFile> rules_file,
              std::function<void(tessera::Status)> done);

  // New checkouts are denied SERVER_DRAINING; queued ones are answered SERVER_DRAINING.
  void BeginDrain();

  // What StatusReply reports about the identity key. REQUIRES: called before Start().
  void SetIdentity(std::string appliance_id, bool insecure_keys) {
    appliance_id_ = std::move(appliance_id);
    insecure_keys_ = insecure_keys;
  }
  // The sealer whose committed blocks lease tokens come from (docs/SERVER.md "Signed
  // leases"); null: grants carry no token. REQUIRES: called before Start().
  void SetAudit(const AuditSealer* sealer) { sealer_ = sealer; }
  // While set, checkouts are denied UNAVAILABLE with this explanation (e.g. a database
  // rollback); heartbeats and checkins go on. REQUIRES: called before Start().
  void SetLocked(std::string reason) { locked_reason_ = std::move(reason); }

 private:
  struct Waiter {
    std::weak_ptr<PushSink> sink;
    std::uint64_t connection_id = 0;
    std::uint64_t request_id = 0;
    std::optional<engine::DenialReason> override_reason;  // e.g. SERVER_DRAINING
  };

  // The outcome of a unit: its commit status and, when its batch was sealed, the block.
  struct Committed {
    tessera::Status status;
    std::shared_ptr<const CommittedBlock> block;
  };
  using Done = std::function<void(const Committed&)>;

  boost::asio::awaitable<HandlerReply> HandleOnStrandAsync(std::shared_ptr<const Session> session,
                                                           tessera::v1::Frame request);
  HandlerReply HandleOnStrand(const Session& session, const tessera::v1::Frame& request);
  HandlerReply Checkout(const Session& s, const tessera::v1::Frame& request, TimePoint now);
  tessera::v1::Frame Heartbeat(const Session& s, const tessera::v1::HeartbeatRequest& r,
                               TimePoint now, std::vector<std::int64_t>* prior_expiries);
  tessera::v1::Frame HeartbeatUnwritable(const Session& s, const tessera::v1::HeartbeatRequest& r,
                                         TimePoint now);
  tessera::v1::Frame Checkin(const Session& s, const tessera::v1::CheckinRequest& r, TimePoint now);
  tessera::v1::Frame StatusQuery(const Session& s, const tessera::v1::StatusRequest& r,
                                 TimePoint now);
  tessera::v1::Frame CancelQueue(const Session& s, const tessera::v1::CancelQueueRequest& r,
                                 TimePoint now);
  void RegisterSession(const Session& session);
  // Persistence (license_service_store.cc), all on the strand.
  boost::asio::awaitable<Committed> Persist();
  void Submit(store::Unit unit, std::vector<engine::Event> events, Done done);
  void PersistEvents();
  void OnCommitted(const Committed& committed, std::vector<engine::Event>& events);
  // Adds lease tokens from `block` to a granted checkout or to the renewals asked for.
  void AttachTokens(const CommittedBlock* block, const tessera::v1::Frame& request,
                    tessera::v1::Frame& reply) const;
  void RevokeUnanswered(const std::vector<engine::Event>& events);
  void NoteStoreStatus(const tessera::Status& status);
  void MaybeResync();
  void DispatchEvents(std::vector<engine::Event>& events, const Committed& committed);
  void AnswerWaiter(const engine::Event& e, const Committed& committed);
  bool HasNamedUsers() const;
  void ArmExpiry();
  boost::asio::awaitable<void> ExpiryLoop();

  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;
  Strand strand_;
  engine::Engine engine_;                   // strand_ only
  boost::asio::steady_timer expiry_timer_;  // strand_ only
  std::optional<TimePoint> armed_for_;      // strand_ only
  bool draining_ = false;                   // strand_ only
  const Clock& clock_;
  std::string appliance_id_;  // set before Start(), read-only after
  bool insecure_keys_ = false;
  const AuditSealer* sealer_ = nullptr;  // set before Start(), read-only after
  std::string locked_reason_;            // set before Start(), read-only after
  bool stopped_ = false;                 // strand_ only
  store::BatchWriter& writer_;
  const Duration resync_interval_;
  bool store_ok_ = true;           // strand_ only: last known store state (for logs)
  bool resync_in_flight_ = false;  // strand_ only
  Duration next_resync_{0};        // strand_ only (MonotonicNow)
  std::map<engine::QueueTicket, Waiter> waiters_;                                   // strand_ only
  std::map<std::pair<std::uint64_t, std::uint64_t>, engine::QueueTicket> tickets_;  // (conn, req)
  // client id -> connection id -> sink, for pushes to a lease's holder.
  std::map<std::string, std::map<std::uint64_t, std::weak_ptr<PushSink>>> clients_;
  std::map<std::uint64_t, std::string> connection_client_;  // connection id -> client id
};

}  // namespace tessera::server
