// Accepts client connections and keeps the set of live ones.
//
// Accept backpressure: while max_connections connections are open the listener stops
// accepting (new peers wait in the kernel's backlog) and resumes when one closes.
//
// Thread safety: all public functions are thread-safe.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

#include "base/status.h"
#include "server/net/connection.h"

namespace tessera::server {

class Listener {
 public:
  // `tls` may be null (plain TCP). `handler` and `tls` must outlive the listener.
  Listener(boost::asio::io_context& io, const ConnectionLimits& limits, ServerIdentity identity,
           std::uint32_t max_connections, RequestHandler& handler, boost::asio::ssl::context* tls);
  ~Listener();

  // Binds and listens. Errors: kUnavailable naming the address (in use, no permission).
  Status Bind(const std::string& host, std::uint16_t port);
  std::uint16_t port() const { return port_; }

  // Starts the accept loop. REQUIRES: Bind() succeeded.
  void Start();

  // Stops accepting and closes the listening socket.
  void StopAccepting();

  // Sends `frame` to every open connection.
  void Broadcast(const tessera::v1::Frame& frame);

  // Closes every open connection.
  void CloseAll();

  std::size_t connection_count() const;

 private:
  boost::asio::awaitable<void> AcceptLoop();
  void OnConnectionClosed(std::uint64_t id);

  boost::asio::io_context& io_;
  const ConnectionLimits limits_;
  const ServerIdentity identity_;
  const std::uint32_t max_connections_;
  RequestHandler& handler_;
  boost::asio::ssl::context* tls_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer capacity_signal_;
  std::uint16_t port_ = 0;
  std::atomic<bool> accepting_{false};

  mutable std::mutex mu_;
  std::map<std::uint64_t, std::weak_ptr<Connection>> connections_;  // guarded by mu_
  std::uint64_t next_id_ = 1;                                       // guarded by mu_
};

}  // namespace tessera::server
