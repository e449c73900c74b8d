#include "server/net/stream.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace tessera::server {

namespace asio = boost::asio;
using boost::system::error_code;

asio::awaitable<error_code> Stream::Handshake() {
  if (!tls_) co_return error_code{};
  auto [ec] = co_await tls_->async_handshake(asio::ssl::stream_base::server,
                                             asio::as_tuple(asio::use_awaitable));
  co_return ec;
}

asio::awaitable<std::pair<error_code, std::size_t>> Stream::ReadSome(asio::mutable_buffer buf) {
  if (tls_) {
    auto [ec, n] = co_await tls_->async_read_some(buf, asio::as_tuple(asio::use_awaitable));
    co_return std::pair{ec, n};
  }
  // Waiting for readability first means an idle connection holds no read buffer.
  while (true) {
    auto [wec] =
        co_await plain_->async_wait(Socket::wait_read, asio::as_tuple(asio::use_awaitable));
    if (wec) co_return std::pair{wec, std::size_t{0}};
    error_code ec;
    std::size_t n = plain_->read_some(buf, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
    co_return std::pair{ec, n};
  }
}

asio::awaitable<error_code> Stream::WriteAll(asio::const_buffer buf) {
  if (tls_) {
    auto [ec, n] = co_await asio::async_write(*tls_, buf, asio::as_tuple(asio::use_awaitable));
    co_return ec;
  }
  auto [ec, n] = co_await asio::async_write(*plain_, buf, asio::as_tuple(asio::use_awaitable));
  co_return ec;
}

void Stream::Close() {
  error_code ec;
  socket().shutdown(Socket::shutdown_both, ec);
  socket().close(ec);
}

std::string Stream::PeerAddress() {
  error_code ec;
  auto ep = socket().remote_endpoint(ec);
  if (ec) return "unknown";
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

}  // namespace tessera::server
