// One client connection: the session loop of the wire protocol (docs/PROTOCOL.md).
//
// Runs three coroutines on its own strand: a reader (decode frames, enforce the session
// rules, start one task per request), a writer (drains the bounded write queue) and a
// watchdog (read timeout for started frames, idle timeout, stalled writes). Any protocol
// violation answers an ErrorReply, flushes it, and closes only this connection.
//
// Thread safety: Push() and Close() may be called from any thread; everything else runs on
// the connection's strand.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>

#include "base/time.h"
#include "protocol/framing.h"
#include "server/net/handler.h"
#include "server/net/stream.h"

namespace tessera::server {

struct ConnectionLimits {
  std::uint32_t max_frame_bytes = protocol::kDefaultMaxFrameBytes;
  std::uint32_t max_in_flight = 64;
  Duration read_timeout = std::chrono::seconds(10);
  Duration idle_timeout = std::chrono::minutes(5);
  std::size_t write_queue_bytes = 1u << 20;
};

// What the HelloReply says about the server.
struct ServerIdentity {
  std::string server_id;
  std::string appliance_id;
  std::string server_version;
};

class Connection : public PushSink, public std::enable_shared_from_this<Connection> {
 public:
  using Executor = boost::asio::strand<boost::asio::io_context::executor_type>;

  // `on_closed` runs once, on the strand, when the connection is finished.
  Connection(Executor executor, Stream stream, std::uint64_t id, const ConnectionLimits& limits,
             const ServerIdentity& identity, RequestHandler& handler,
             std::function<void(std::uint64_t)> on_closed);
  ~Connection() override;

  // Starts the coroutines. Call once.
  void Start();

  void Push(tessera::v1::Frame frame, bool completes_request) override;

  // Closes the connection (no more reads or writes).
  void Close();

  std::uint64_t id() const { return id_; }

 private:
  boost::asio::awaitable<void> ReadLoop();
  boost::asio::awaitable<void> WriteLoop();
  boost::asio::awaitable<void> Watchdog();
  boost::asio::awaitable<void> RunRequest(tessera::v1::Frame request);

  // Returns false when the connection must stop reading.
  bool HandleFrame(tessera::v1::Frame frame);
  bool HandleHello(const tessera::v1::Frame& frame);
  // Queues an ErrorReply, then closes once it is written.
  void FailAndClose(std::uint64_t request_id, tessera::v1::ErrorCode code, std::string message);
  void Refuse(std::uint64_t request_id, tessera::v1::ErrorCode code, std::string message);
  void Enqueue(const tessera::v1::Frame& frame);
  void CompleteRequest(std::uint64_t request_id);
  void CloseNow(const char* why);
  void TouchActivity();
  Duration CurrentDeadline() const;

  Executor executor_;
  Stream stream_;
  const std::uint64_t id_;
  const ConnectionLimits limits_;
  const ServerIdentity& identity_;
  RequestHandler& handler_;
  std::function<void(std::uint64_t)> on_closed_;
  std::string peer_;

  protocol::FrameDecoder decoder_;
  std::shared_ptr<const Session> session_;  // set by Hello

  std::deque<std::string> write_queue_;
  std::size_t write_queue_bytes_ = 0;
  bool writing_ = false;
  Duration write_started_{0};
  boost::asio::steady_timer write_signal_;
  boost::asio::steady_timer watchdog_;

  std::unordered_set<std::uint64_t> in_flight_;
  bool close_after_flush_ = false;
  bool closed_ = false;
  bool reader_stopped_ = false;

  Duration last_activity_{0};  // MonotonicNow() of the last complete frame or connect
  Duration frame_started_{0};  // MonotonicNow() when the current partial frame began
  bool mid_frame_ = false;
};

}  // namespace tessera::server
