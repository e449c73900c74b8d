// A byte stream to one server, plain TCP or TLS, for the session's coroutines.
//
// Thread safety: used only on the session's network thread.
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <memory>
#include <string>
#include <tuple>

#include "base/status.h"
#include "protocol/framing.h"
#include "tessera/client.h"

namespace tessera::client {

namespace asio = boost::asio;
using ErrorCode = boost::system::error_code;
inline constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

class Transport {
 public:
  virtual ~Transport() = default;
  virtual asio::awaitable<std::tuple<ErrorCode, size_t>> ReadSome(asio::mutable_buffer buffer) = 0;
  virtual asio::awaitable<std::tuple<ErrorCode, size_t>> WriteAll(asio::const_buffer buffer) = 0;
  // Closes the socket; pending reads and writes complete with an error. Idempotent.
  virtual void Close() = 0;
};

// Largest frame this client accepts from a server.
inline constexpr uint32_t kClientMaxFrameBytes = 16u << 20;

// One connected, greeted server. Owned by shared_ptr: the read and write coroutines each
// hold it until they finish.
class Connection {
 public:
  Connection(asio::any_io_executor executor, std::unique_ptr<Transport> transport,
             std::string server)
      : transport_(std::move(transport)), server_(std::move(server)), signal_(executor) {}

  // Queues one frame for the write loop. Errors: as protocol::AppendFrame.
  Status Send(const tessera::v1::Frame& frame);
  void Close();
  bool closed() const { return closed_; }

  // Runs until the connection closes: writes whatever Send queued.
  static asio::awaitable<void> WriteLoop(std::shared_ptr<Connection> self);

  Transport& transport() { return *transport_; }
  const std::string& server() const { return server_; }
  protocol::FrameDecoder& decoder() { return decoder_; }
  std::string& leftover() { return leftover_; }

  std::string server_id;
  uint32_t max_frame_bytes = protocol::kDefaultMaxFrameBytes;
  uint32_t max_in_flight = 0;  // 0: no limit announced

 private:
  std::unique_ptr<Transport> transport_;
  std::string server_;
  asio::steady_timer signal_;
  std::string outbox_;
  bool closed_ = false;
  protocol::FrameDecoder decoder_{kClientMaxFrameBytes};
  std::string leftover_;  // bytes read after HelloReply, decoded first by the read loop
};

// TCP connect (and TLS handshake when `tls` is set) to `address`, then the Hello exchange.
// Errors: kUnavailable (resolve, connect, handshake, closed), kFailedPrecondition (the server
// refused the Hello), kInternal (unexpected answer). No timeout: the caller bounds it.
asio::awaitable<Result<std::shared_ptr<Connection>>> OpenConnection(
    const ServerAddress& address, asio::ssl::context* tls, const std::string& tls_server_name,
    const tessera::v1::Hello& hello);

}  // namespace tessera::client
