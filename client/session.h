// The engine behind Client: one network thread running Asio coroutines that keep a connection
// to the first reachable server, match answers to requests by request id, renew held leases,
// and resume them after a reconnect. Public calls post work to that thread and wait.
//
// Thread safety: the public methods are safe from any thread except the network thread
// itself. Everything named *_ below is touched only on the network thread unless noted.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/lease_table.h"
#include "client/transport.h"
#include "tessera/client.h"

namespace tessera::client {

// Runs lease-event callbacks one at a time on its own thread, so a callback may call back
// into the Client.
class EventDispatcher {
 public:
  explicit EventDispatcher(std::function<void(const LeaseEvent&)> callback);
  ~EventDispatcher();  // delivers what is queued, then joins
  void Post(LeaseEvent event);

 private:
  void Run();

  std::function<void(const LeaseEvent&)> callback_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<LeaseEvent> queue_;
  bool stop_ = false;
  std::thread thread_;
};

class Session {
 public:
  // REQUIRES: options validated and client_id set (Client::Create does both).
  static Result<std::unique_ptr<Session>> Start(ClientOptions options,
                                                std::vector<ServerAddress> servers);
  ~Session();

  Result<CheckoutOutcome> Checkout(const CheckoutRequest& request);
  Result<CheckinOutcome> Checkin(std::string_view lease_id, uint64_t metered_units_used);
  Result<ServerStatus> GetStatus(std::string_view feature);
  Status WaitConnected(Duration timeout);
  std::vector<Lease> Leases();
  std::string ConnectedServer() const;

 private:
  using Frame = tessera::v1::Frame;
  using Done = std::function<void(Result<Frame>)>;

  struct Pending {
    Frame frame;
    Done done;
    Duration deadline{0};
    bool sent = false;
    bool retry_on_reconnect = false;  // idempotent: resend after a reconnect
    bool internal = false;            // renewal/resume traffic: may go out while resuming
    bool is_checkout = false;
  };

  Session(ClientOptions options, std::vector<ServerAddress> servers);

  // Runs `on_io` on the network thread with a completion to call exactly once, and waits
  // for that completion.
  template <typename T>
  Result<T> Call(std::function<void(std::function<void(Result<T>)>)> on_io);
  void CheckinAllForClose();

  // Network thread.
  asio::awaitable<void> ConnectLoop();
  asio::awaitable<Result<std::shared_ptr<Connection>>> ConnectWithTimeout(
      const ServerAddress& address);
  asio::awaitable<void> Serve(std::shared_ptr<Connection> connection);
  asio::awaitable<void> ReadLoop(std::shared_ptr<Connection> connection);
  asio::awaitable<void> Maintenance();
  void OnFrame(Connection& connection, Frame& frame);
  void OnDisconnected(const std::string& why);
  void Shutdown();

  void Submit(Pending pending);
  void SendPending(uint64_t id, Pending& pending);
  void FlushUnsent();
  void FailUnsent(const Status& status);
  void Complete(uint64_t id, Result<Frame> result);
  void ExpireDeadlines(Duration now);
  void OnLateReply(uint64_t id, const Frame& frame);
  void Kick();

  void BeginResume();
  void SendHeartbeat(const std::vector<std::string>& ids, bool resume);
  void OnRenewals(const tessera::v1::HeartbeatReply& reply, Duration sent_at);
  void ResumeLease(const std::string& lease_id);
  void ResumeStepDone(uint64_t generation);
  void LoseLease(const std::string& lease_id, LossReason loss, DenialReason denial,
                 std::string detail, std::optional<TokenError> token_error = std::nullopt);
  void LoseLeaseToToken(const std::string& lease_id, const Status& rejected);
  void Emit(LeaseEvent event);
  Result<CheckoutOutcome> OnCheckoutAnswer(Result<Frame> answer, const std::string& nonce,
                                           const std::string& feature);
  // Sends a checkin nobody waits for (a seat this client must not keep).
  void CheckinQuietly(const std::string& lease_id);

  bool VerifiesTokens() const { return !options_.vendor_root_public_key.empty(); }
  // With a vendor key: verifies `lease`'s token for `expect` and records the verified facts in
  // it. Without one: OK, and the token stays unverified.
  Status VerifyToken(Lease* lease, std::string_view nonce, std::string_view feature) const;

  const ClientOptions options_;
  const std::vector<ServerAddress> servers_;
  std::optional<asio::ssl::context> tls_;

  asio::io_context io_;  // declared before everything that lives on it
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  asio::steady_timer wake_;
  asio::steady_timer backoff_;
  std::atomic<bool> stopping_{false};

  size_t preferred_ = 0;
  std::shared_ptr<Connection> connection_;
  uint64_t generation_ = 0;
  uint64_t next_request_id_ = 2;  // 1 is the Hello
  std::map<uint64_t, Pending> pending_;
  size_t in_flight_ = 0;
  std::set<uint64_t> abandoned_checkouts_;
  LeaseTable table_;
  std::set<std::string> resuming_ids_;
  bool resuming_ = false;
  int resume_steps_ = 0;
  bool heartbeat_in_flight_ = false;
  Duration heartbeat_retry_at_{0};

  mutable std::mutex state_mu_;  // guards connected_server_
  std::condition_variable connected_cv_;
  std::string connected_server_;

  std::unique_ptr<EventDispatcher> events_;
  std::thread thread_;
};

}  // namespace tessera::client
