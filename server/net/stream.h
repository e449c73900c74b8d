// A TCP connection, plain or TLS 1.3, behind one small interface for the connection loop.
// Thread safety: like an Asio socket; use from the connection's strand only.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace tessera::server {

class Stream {
 public:
  using Socket = boost::asio::ip::tcp::socket;
  using TlsStream = boost::asio::ssl::stream<Socket>;

  explicit Stream(Socket socket) : plain_(std::move(socket)) {
    boost::system::error_code ec;
    plain_->non_blocking(true, ec);  // ReadSome reads synchronously once readable
  }
  Stream(Socket socket, boost::asio::ssl::context& tls)
      : tls_(std::in_place, std::move(socket), tls) {}

  bool is_tls() const { return tls_.has_value(); }
  Socket& socket() { return tls_ ? tls_->next_layer() : *plain_; }

  // TLS server handshake; a no-op for plain TCP.
  boost::asio::awaitable<boost::system::error_code> Handshake();

  // Reads at least one byte and returns a view of what was read. The view is valid only until
  // the caller's next suspension (co_await): for plain TCP the bytes sit in a buffer owned by
  // the thread that completed the read, taken only after the socket became readable, so an
  // idle connection holds no buffer and a coroutine resumed on another I/O thread never
  // writes into a buffer some other connection is using. TLS reads into this stream's own
  // buffer (a TLS read suspends mid-read).
  boost::asio::awaitable<std::pair<boost::system::error_code, std::string_view>> ReadSome();

  // Writes all of `buf`.
  boost::asio::awaitable<boost::system::error_code> WriteAll(boost::asio::const_buffer buf);

  // Closes the socket; pending operations complete with operation_aborted.
  void Close();

  // "ip:port" of the peer, or "unknown".
  std::string PeerAddress();

 private:
  static constexpr std::size_t kTlsReadBufferBytes = 16 * 1024;

  std::optional<Socket> plain_;
  std::optional<TlsStream> tls_;
  std::unique_ptr<char[]> tls_buffer_;  // allocated at the first TLS read
};

}  // namespace tessera::server
