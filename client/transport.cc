#include "client/transport.h"

#include <array>
#include <utility>

namespace tessera::client {
namespace {

template <typename Stream>
class StreamTransport final : public Transport {
 public:
  explicit StreamTransport(Stream stream) : stream_(std::move(stream)) {}
  asio::awaitable<std::tuple<ErrorCode, size_t>> ReadSome(asio::mutable_buffer buffer) override {
    co_return co_await stream_.async_read_some(buffer, kNoThrow);
  }
  asio::awaitable<std::tuple<ErrorCode, size_t>> WriteAll(asio::const_buffer buffer) override {
    co_return co_await asio::async_write(stream_, buffer, kNoThrow);
  }
  void Close() override {
    ErrorCode ignored;
    stream_.lowest_layer().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    stream_.lowest_layer().close(ignored);
  }

 private:
  Stream stream_;
};

using TlsStream = asio::ssl::stream<asio::ip::tcp::socket>;

asio::awaitable<Result<std::unique_ptr<Transport>>> ConnectTransport(
    const ServerAddress& address, asio::ssl::context* tls, const std::string& tls_server_name) {
  auto executor = co_await asio::this_coro::executor;
  const std::string name = address.ToString();
  asio::ip::tcp::resolver resolver(executor);
  auto [resolve_error, endpoints] =
      co_await resolver.async_resolve(address.host, std::to_string(address.port), kNoThrow);
  if (resolve_error) co_return Unavailable(name + ": cannot resolve: " + resolve_error.message());
  asio::ip::tcp::socket socket(executor);
  auto [connect_error, endpoint] = co_await asio::async_connect(socket, endpoints, kNoThrow);
  if (connect_error) co_return Unavailable(name + ": " + connect_error.message());
  ErrorCode ignored;
  socket.set_option(asio::ip::tcp::no_delay(true), ignored);
  if (tls == nullptr) {
    co_return std::unique_ptr<Transport>(
        std::make_unique<StreamTransport<asio::ip::tcp::socket>>(std::move(socket)));
  }
  TlsStream stream(std::move(socket), *tls);
  const std::string& verify_name = tls_server_name.empty() ? address.host : tls_server_name;
  // SNI; SSL_set_tlsext_host_name is a macro with an old-style cast.
  SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
           const_cast<char*>(verify_name.c_str()));
  stream.set_verify_callback(asio::ssl::host_name_verification(verify_name));
  auto [handshake_error] = co_await stream.async_handshake(TlsStream::client, kNoThrow);
  if (handshake_error) {
    co_return Unavailable(name + ": TLS handshake failed: " + handshake_error.message());
  }
  co_return std::unique_ptr<Transport>(
      std::make_unique<StreamTransport<TlsStream>>(std::move(stream)));
}

// Reads until one whole frame is decoded; bytes after it stay in connection->leftover().
asio::awaitable<Result<tessera::v1::Frame>> ReadOneFrame(Connection& connection) {
  std::array<char, 4096> buffer{};
  tessera::v1::Frame frame;
  for (;;) {
    auto [error, n] = co_await connection.transport().ReadSome(asio::buffer(buffer));
    if (error) co_return Unavailable(connection.server() + ": closed during Hello");
    std::string_view input(buffer.data(), n);
    switch (connection.decoder().Decode(input, &frame)) {
      case protocol::FrameDecoder::Outcome::kFrame:
        connection.leftover().assign(input);
        co_return frame;
      case protocol::FrameDecoder::Outcome::kNeedMore:
        break;
      case protocol::FrameDecoder::Outcome::kError:
        co_return Internal(connection.server() + ": undecodable answer to Hello");
    }
  }
}

}  // namespace

Status Connection::Send(const tessera::v1::Frame& frame) {
  if (closed_) return Unavailable(server_ + ": connection closed");
  TESSERA_RETURN_IF_ERROR(protocol::AppendFrame(frame, &outbox_, max_frame_bytes));
  signal_.cancel();
  return Status::Ok();
}

void Connection::Close() {
  if (closed_) return;
  closed_ = true;
  transport_->Close();
  signal_.cancel();
}

asio::awaitable<void> Connection::WriteLoop(std::shared_ptr<Connection> self) {
  while (!self->closed_) {
    if (self->outbox_.empty()) {
      self->signal_.expires_at(asio::steady_timer::time_point::max());
      co_await self->signal_.async_wait(kNoThrow);
      continue;
    }
    // Everything queued since the last write goes out in one write.
    std::string batch = std::move(self->outbox_);
    self->outbox_.clear();
    auto [error, n] = co_await self->transport_->WriteAll(asio::buffer(batch));
    if (error) {
      self->Close();
      break;
    }
  }
}

asio::awaitable<Result<std::shared_ptr<Connection>>> OpenConnection(
    const ServerAddress& address, asio::ssl::context* tls, const std::string& tls_server_name,
    const tessera::v1::Hello& hello) {
  auto executor = co_await asio::this_coro::executor;
  auto transport = co_await ConnectTransport(address, tls, tls_server_name);
  if (!transport.ok()) co_return transport.status();
  auto connection =
      std::make_shared<Connection>(executor, std::move(transport).value(), address.ToString());
  tessera::v1::Frame frame;
  frame.set_request_id(1);  // ids of later requests are the session's own; no reply mixes
  *frame.mutable_hello() = hello;
  auto bytes = protocol::EncodeFrame(frame);
  if (!bytes.ok()) co_return bytes.status();
  auto [write_error, written] = co_await connection->transport().WriteAll(asio::buffer(*bytes));
  if (write_error) co_return Unavailable(connection->server() + ": " + write_error.message());
  auto read = co_await ReadOneFrame(*connection);
  if (!read.ok()) co_return read.status();
  const tessera::v1::Frame& reply = *read;
  if (reply.has_error()) {
    co_return FailedPrecondition(connection->server() +
                                 ": server refused Hello: " + reply.error().message());
  }
  if (!reply.has_hello_reply()) co_return Internal(connection->server() + ": no HelloReply");
  const auto& hello_reply = reply.hello_reply();
  if (hello_reply.version() != protocol::kProtocolVersion) {
    co_return FailedPrecondition(connection->server() + ": server chose protocol version " +
                                 std::to_string(hello_reply.version()));
  }
  connection->server_id = hello_reply.server_id();
  if (hello_reply.max_frame_bytes() > 0) {
    connection->max_frame_bytes =
        std::min(hello_reply.max_frame_bytes(), protocol::kLargestMaxFrameBytes);
  }
  connection->max_in_flight = hello_reply.max_in_flight();
  co_return connection;
}

}  // namespace tessera::client
