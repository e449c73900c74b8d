// A TCP connection, plain or TLS 1.3, behind one small interface for the connection loop.
// Thread safety: like an Asio socket; use from the connection's strand only.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <cstddef>
#include <optional>
#include <string>
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

  // Reads at least one byte into `buf`. For plain TCP it waits for readability first and reads
  // without holding a buffer while idle; callers may pass a shared scratch buffer.
  boost::asio::awaitable<std::pair<boost::system::error_code, std::size_t>> ReadSome(
      boost::asio::mutable_buffer buf);

  // Writes all of `buf`.
  boost::asio::awaitable<boost::system::error_code> WriteAll(boost::asio::const_buffer buf);

  // Closes the socket; pending operations complete with operation_aborted.
  void Close();

  // "ip:port" of the peer, or "unknown".
  std::string PeerAddress();

 private:
  std::optional<Socket> plain_;
  std::optional<TlsStream> tls_;
};

}  // namespace tessera::server
