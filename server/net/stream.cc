#include "server/net/stream.h"

#include <array>

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

asio::awaitable<std::pair<error_code, std::string_view>> Stream::ReadSome() {
  if (tls_) {
    if (!tls_buffer_) tls_buffer_ = std::make_unique<char[]>(kTlsReadBufferBytes);
    auto [ec, n] = co_await tls_->async_read_some(
        asio::buffer(tls_buffer_.get(), kTlsReadBufferBytes), asio::as_tuple(asio::use_awaitable));
    co_return std::pair{ec, std::string_view(tls_buffer_.get(), n)};
  }
  // Waiting for readability first means an idle connection holds no read buffer.
  while (true) {
    auto [wec] =
        co_await plain_->async_wait(Socket::wait_read, asio::as_tuple(asio::use_awaitable));
    if (wec) co_return std::pair{wec, std::string_view()};
    // Taken after the wait, on the thread that runs this coroutine now; the caller consumes the
    // bytes before it suspends again, so no other connection can reuse the buffer meanwhile.
    static thread_local std::array<char, 64 * 1024> buffer;
    error_code ec;
    std::size_t n = plain_->read_some(asio::buffer(buffer), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
    co_return std::pair{ec, std::string_view(buffer.data(), ec ? 0 : n)};
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
