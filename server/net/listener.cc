#include "server/net/listener.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <vector>

#include "server/log.h"

namespace tessera::server {

namespace asio = boost::asio;
using asio::ip::tcp;

Listener::Listener(asio::io_context& io, const ConnectionLimits& limits, ServerIdentity identity,
                   std::uint32_t max_connections, RequestHandler& handler, asio::ssl::context* tls)
    : io_(io),
      limits_(limits),
      identity_(std::move(identity)),
      max_connections_(max_connections),
      handler_(handler),
      tls_(tls),
      strand_(asio::make_strand(io)),
      acceptor_(strand_),
      capacity_signal_(strand_) {}

Listener::~Listener() = default;

Status Listener::Bind(const std::string& host, std::uint16_t port) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return InvalidArgument("listen host '" + host + "' is not an IP address");
  tcp::endpoint endpoint(address, port);
  std::string where = host + ":" + std::to_string(port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Unavailable("cannot listen on " + where + ": " + ec.message());
  port_ = acceptor_.local_endpoint(ec).port();
  return Status::Ok();
}

void Listener::Start() {
  accepting_ = true;
  asio::co_spawn(strand_, AcceptLoop(), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      Log(LogLevel::kError, "accept_loop_failed", {{"what", ex.what()}});
    }
  });
}

asio::awaitable<void> Listener::AcceptLoop() {
  while (accepting_) {
    if (connection_count() >= max_connections_) {
      capacity_signal_.expires_at(asio::steady_timer::time_point::max());
      co_await capacity_signal_.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    auto conn_strand = asio::make_strand(io_);
    auto [ec, socket] =
        co_await acceptor_.async_accept(conn_strand, asio::as_tuple(asio::use_awaitable));
    if (!accepting_) break;  // draining: `socket` is closed unserved
    if (ec) {
      if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) break;
      // Out of descriptors or similar: back off briefly instead of spinning.
      Log(LogLevel::kWarn, "accept_failed", {{"error", ec.message()}});
      capacity_signal_.expires_after(std::chrono::milliseconds(100));
      co_await capacity_signal_.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    boost::system::error_code opt_ec;
    socket.set_option(tcp::no_delay(true), opt_ec);
    std::uint64_t id;
    {
      std::lock_guard lock(mu_);
      id = next_id_++;
    }
    Stream stream = tls_ ? Stream(std::move(socket), *tls_) : Stream(std::move(socket));
    auto conn = std::make_shared<Connection>(
        conn_strand, std::move(stream), id, limits_, identity_, handler_,
        [this](std::uint64_t cid) { OnConnectionClosed(cid); });
    {
      std::lock_guard lock(mu_);
      connections_[id] = conn;
    }
    Log(LogLevel::kDebug, "connection_accepted", {{"conn", std::to_string(id)}});
    conn->Start();
  }
}

void Listener::OnConnectionClosed(std::uint64_t id) {
  {
    std::lock_guard lock(mu_);
    connections_.erase(id);
  }
  asio::post(strand_, [this]() { capacity_signal_.cancel(); });
}

void Listener::StopAccepting() {
  // Set now, not on the strand: a peer accepted from here on is dropped unserved, even if
  // its accept completes before the acceptor below is closed.
  accepting_ = false;
  asio::post(strand_, [this]() {
    boost::system::error_code ec;
    acceptor_.close(ec);
    capacity_signal_.cancel();
  });
}

void Listener::Broadcast(const tessera::v1::Frame& frame) {
  std::vector<std::shared_ptr<Connection>> live;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, weak] : connections_) {
      if (auto c = weak.lock()) live.push_back(std::move(c));
    }
  }
  for (auto& c : live) c->Push(frame, false);
}

void Listener::CloseAll() {
  std::vector<std::shared_ptr<Connection>> live;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, weak] : connections_) {
      if (auto c = weak.lock()) live.push_back(std::move(c));
    }
  }
  for (auto& c : live) c->Close();
}

std::size_t Listener::connection_count() const {
  std::lock_guard lock(mu_);
  return connections_.size();
}

}  // namespace tessera::server
