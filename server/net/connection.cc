#include "server/net/connection.h"

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>

#include "base/system_clock.h"
#include "server/log.h"

namespace tessera::server {

namespace asio = boost::asio;
namespace v1 = tessera::v1;

namespace {

constexpr std::size_t kMaxIdentityField = 256;
constexpr std::size_t kMaxWriteBatch = 64 * 1024;
constexpr Duration kLingerAfterError = std::chrono::milliseconds(1000);

bool IsClientRequest(v1::Frame::BodyCase body) {
  switch (body) {
    case v1::Frame::kCheckout:
    case v1::Frame::kHeartbeat:
    case v1::Frame::kCheckin:
    case v1::Frame::kStatus:
    case v1::Frame::kCancelQueue:
      return true;
    default:
      return false;
  }
}

void LogException(std::exception_ptr e, std::uint64_t id, const char* where) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    Log(LogLevel::kError, "connection_exception",
        {{"conn", std::to_string(id)}, {"where", where}, {"what", ex.what()}});
  } catch (...) {
    Log(LogLevel::kError, "connection_exception", {{"conn", std::to_string(id)}, {"where", where}});
  }
}

}  // namespace

Connection::Connection(Executor executor, Stream stream, std::uint64_t id,
                       const ConnectionLimits& limits, const ServerIdentity& identity,
                       RequestHandler& handler, std::function<void(std::uint64_t)> on_closed)
    : executor_(executor),
      stream_(std::move(stream)),
      id_(id),
      limits_(limits),
      identity_(identity),
      handler_(handler),
      on_closed_(std::move(on_closed)),
      decoder_(limits.max_frame_bytes),
      write_signal_(executor),
      watchdog_(executor) {
  peer_ = stream_.PeerAddress();
}

Connection::~Connection() = default;

void Connection::Start() {
  last_activity_ = MonotonicNow();
  auto self = shared_from_this();
  auto spawn = [self](asio::awaitable<void> (Connection::*fn)(), const char* where) {
    // The completion handler owns `self`, keeping the connection alive while fn runs.
    asio::co_spawn(self->executor_, ((*self).*fn)(), [self, where](std::exception_ptr e) {
      LogException(e, self->id_, where);
      if (e) self->CloseNow("exception");
    });
  };
  asio::post(executor_, [spawn]() {
    spawn(&Connection::ReadLoop, "read");
    spawn(&Connection::WriteLoop, "write");
    spawn(&Connection::Watchdog, "watchdog");
  });
}

void Connection::Push(v1::Frame frame, bool completes_request) {
  auto self = shared_from_this();
  asio::post(executor_, [self, frame = std::move(frame), completes_request]() {
    if (self->closed_) return;
    self->Enqueue(frame);
    if (completes_request) self->CompleteRequest(frame.request_id());
  });
}

void Connection::Close() {
  auto self = shared_from_this();
  asio::post(executor_, [self]() { self->CloseNow("server_close"); });
}

void Connection::TouchActivity() { last_activity_ = MonotonicNow(); }

Duration Connection::CurrentDeadline() const {
  Duration deadline = Duration::max();
  if (close_after_flush_ && reader_stopped_ && write_queue_.empty() && !writing_) {
    return last_activity_ + kLingerAfterError;
  }
  if (writing_) deadline = std::min(deadline, write_started_ + limits_.read_timeout);
  if (mid_frame_) deadline = std::min(deadline, frame_started_ + limits_.read_timeout);
  if (in_flight_.empty()) deadline = std::min(deadline, last_activity_ + limits_.idle_timeout);
  if (deadline == Duration::max()) deadline = MonotonicNow() + limits_.idle_timeout;
  return deadline;
}

asio::awaitable<void> Connection::Watchdog() {
  while (!closed_) {
    Duration now = MonotonicNow();
    Duration deadline = CurrentDeadline();
    if (now >= deadline) {
      const char* why = mid_frame_ ? "read_timeout" : writing_ ? "write_timeout" : "idle_timeout";
      if (close_after_flush_) why = "closed_after_error";
      CloseNow(why);
      co_return;
    }
    watchdog_.expires_after(deadline - now);
    co_await watchdog_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

asio::awaitable<void> Connection::ReadLoop() {
  if (stream_.is_tls()) {
    mid_frame_ = true;  // the handshake is bounded by the read timeout
    frame_started_ = MonotonicNow();
    auto ec = co_await stream_.Handshake();
    mid_frame_ = false;
    if (ec) {
      Log(LogLevel::kInfo, "tls_handshake_failed",
          {{"conn", std::to_string(id_)}, {"peer", peer_}, {"error", ec.message()}});
      CloseNow("tls_handshake_failed");
      co_return;
    }
    TouchActivity();
  }
  while (!closed_) {
    // `input` is valid only until the next co_await (Stream::ReadSome); everything below up to
    // the loop's end is synchronous.
    auto [ec, input] = co_await stream_.ReadSome();
    if (closed_) break;
    if (ec) {
      CloseNow(ec == asio::error::eof ? "peer_closed" : "read_error");
      break;
    }
    if (reader_stopped_) continue;  // after an error: discard until the peer closes
    while (!input.empty() && !reader_stopped_) {
      v1::Frame frame;
      auto outcome = decoder_.Decode(input, &frame);
      if (outcome == protocol::FrameDecoder::Outcome::kNeedMore) break;
      if (outcome == protocol::FrameDecoder::Outcome::kError) {
        protocol::DecodeError err = *decoder_.error();
        std::string message =
            std::string("cannot decode frame: ") + std::string(protocol::DecodeErrorName(err));
        if (err == protocol::DecodeError::kFrameTooLarge) {
          message = "length prefix " + std::to_string(decoder_.announced_length().value_or(0)) +
                    " exceeds max_frame_bytes " + std::to_string(limits_.max_frame_bytes);
        }
        FailAndClose(0, protocol::ToErrorCode(err), message);
        break;
      }
      TouchActivity();
      mid_frame_ = false;
      if (!HandleFrame(std::move(frame))) break;
    }
    if (!reader_stopped_ && decoder_.mid_frame() && !mid_frame_) {
      mid_frame_ = true;
      frame_started_ = MonotonicNow();
      watchdog_.cancel();  // the deadline moved earlier
    } else if (!decoder_.mid_frame()) {
      mid_frame_ = false;
    }
  }
}

bool Connection::HandleFrame(v1::Frame frame) {
  const std::uint64_t id = frame.request_id();
  const auto body = frame.body_case();
  if (body == v1::Frame::BODY_NOT_SET) {
    FailAndClose(id, v1::UNKNOWN_MESSAGE, "frame body is not set or not known to this server");
    return false;
  }
  if (!session_) {
    if (body != v1::Frame::kHello) {
      FailAndClose(id, v1::HELLO_REQUIRED, "the first frame must be Hello");
      return false;
    }
    return HandleHello(frame);
  }
  if (body == v1::Frame::kHello) {
    Refuse(id, v1::INVALID_ARGUMENT, "Hello was already received on this connection");
    return true;
  }
  if (!IsClientRequest(body)) {
    FailAndClose(id, v1::UNKNOWN_MESSAGE, "frame body is not a client request");
    return false;
  }
  if (id == 0) {
    Refuse(0, v1::INVALID_ARGUMENT, "request_id must be non-zero");
    return true;
  }
  if (in_flight_.contains(id)) {
    Refuse(id, v1::INVALID_ARGUMENT, "request_id is already in flight");
    return true;
  }
  if (in_flight_.size() >= limits_.max_in_flight) {
    Refuse(id, v1::TOO_MANY_IN_FLIGHT,
           "more than " + std::to_string(limits_.max_in_flight) + " requests in flight");
    return true;
  }
  in_flight_.insert(id);
  auto self = shared_from_this();
  asio::co_spawn(executor_, RunRequest(std::move(frame)), [self, id](std::exception_ptr e) {
    if (!e) return;
    LogException(e, self->id_, "request");
    self->Refuse(id, v1::INTERNAL, "internal error");
    self->CompleteRequest(id);
  });
  return true;
}

bool Connection::HandleHello(const v1::Frame& frame) {
  const v1::Hello& hello = frame.hello();
  if (hello.min_version() > protocol::kProtocolVersion ||
      hello.max_version() < protocol::kProtocolVersion) {
    FailAndClose(frame.request_id(), v1::UNSUPPORTED_VERSION,
                 "server speaks protocol version " + std::to_string(protocol::kProtocolVersion) +
                     "; client offered [" + std::to_string(hello.min_version()) + ", " +
                     std::to_string(hello.max_version()) + "]");
    return false;
  }
  const v1::ClientIdentity& c = hello.client();
  for (const std::string* field :
       {&c.client_id(), &c.user(), &c.host(), &c.app_name(), &c.app_version()}) {
    if (field->size() > kMaxIdentityField) {
      FailAndClose(frame.request_id(), v1::INVALID_ARGUMENT,
                   "client identity fields are limited to 256 bytes");
      return false;
    }
  }
  auto session = std::make_shared<Session>();
  session->connection_id = id_;
  session->client = c;
  if (session->client.client_id().empty()) {
    session->client.set_client_id("conn-" + std::to_string(id_));
  }
  session->peer = peer_;
  session->sink = weak_from_this();
  session_ = std::move(session);

  v1::Frame reply;
  reply.set_request_id(frame.request_id());
  v1::HelloReply* r = reply.mutable_hello_reply();
  r->set_version(protocol::kProtocolVersion);
  r->set_server_id(identity_.server_id);
  r->set_appliance_id(identity_.appliance_id);
  r->set_max_frame_bytes(limits_.max_frame_bytes);
  r->set_max_in_flight(limits_.max_in_flight);
  r->set_server_version(identity_.server_version);
  Enqueue(reply);
  Log(LogLevel::kInfo, "hello",
      {{"conn", std::to_string(id_)},
       {"peer", peer_},
       {"client_id", session_->client.client_id()},
       {"user", c.user()},
       {"host", c.host()},
       {"app", c.app_name()}});
  return true;
}

asio::awaitable<void> Connection::RunRequest(v1::Frame request) {
  const std::uint64_t id = request.request_id();
  HandlerReply reply = co_await handler_.Handle(session_, std::move(request));
  if (closed_) co_return;
  reply.frame.set_request_id(id);
  Enqueue(reply.frame);
  if (reply.final) CompleteRequest(id);
}

void Connection::CompleteRequest(std::uint64_t request_id) {
  if (in_flight_.erase(request_id) > 0 && in_flight_.empty()) TouchActivity();
}

void Connection::Refuse(std::uint64_t request_id, v1::ErrorCode code, std::string message) {
  Log(LogLevel::kInfo, "request_refused",
      {{"conn", std::to_string(id_)},
       {"request_id", std::to_string(request_id)},
       {"code", v1::ErrorCode_Name(code)},
       {"message", message}});
  v1::Frame f;
  f.set_request_id(request_id);
  f.mutable_error()->set_code(code);
  f.mutable_error()->set_message(std::move(message));
  Enqueue(f);
}

void Connection::FailAndClose(std::uint64_t request_id, v1::ErrorCode code, std::string message) {
  Log(LogLevel::kWarn, "protocol_error",
      {{"conn", std::to_string(id_)},
       {"peer", peer_},
       {"code", v1::ErrorCode_Name(code)},
       {"message", message}});
  v1::Frame f;
  f.set_request_id(request_id);
  f.mutable_error()->set_code(code);
  f.mutable_error()->set_message(std::move(message));
  Enqueue(f);
  close_after_flush_ = true;
  reader_stopped_ = true;
  mid_frame_ = false;
  write_signal_.cancel();
}

void Connection::Enqueue(const v1::Frame& frame) {
  if (closed_) return;
  std::string bytes;
  Status s = protocol::AppendFrame(frame, &bytes, protocol::kLargestMaxFrameBytes);
  if (!s.ok()) {
    Log(LogLevel::kError, "encode_failed",
        {{"conn", std::to_string(id_)}, {"error", s.ToString()}});
    return;
  }
  if (write_queue_bytes_ + bytes.size() > limits_.write_queue_bytes) {
    Log(LogLevel::kWarn, "write_queue_overflow",
        {{"conn", std::to_string(id_)},
         {"peer", peer_},
         {"queued_bytes", std::to_string(write_queue_bytes_)}});
    CloseNow("write_queue_overflow");
    return;
  }
  write_queue_bytes_ += bytes.size();
  write_queue_.push_back(std::move(bytes));
  write_signal_.cancel();
}

asio::awaitable<void> Connection::WriteLoop() {
  std::string batch;
  while (!closed_) {
    if (write_queue_.empty()) {
      if (close_after_flush_) {
        boost::system::error_code ec;
        stream_.socket().shutdown(Stream::Socket::shutdown_send, ec);
        TouchActivity();  // the linger period starts now
        watchdog_.cancel();
        co_return;
      }
      write_signal_.expires_at(asio::steady_timer::time_point::max());
      co_await write_signal_.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    batch.clear();
    while (!write_queue_.empty() &&
           (batch.empty() || batch.size() + write_queue_.front().size() <= kMaxWriteBatch)) {
      batch += write_queue_.front();
      write_queue_.pop_front();
    }
    writing_ = true;
    write_started_ = MonotonicNow();
    watchdog_.cancel();
    auto ec = co_await stream_.WriteAll(asio::buffer(batch));
    writing_ = false;
    write_queue_bytes_ -= std::min(write_queue_bytes_, batch.size());
    if (ec) {
      CloseNow("write_error");
      co_return;
    }
    if (batch.capacity() > 2 * kMaxWriteBatch) std::string().swap(batch);
  }
}

void Connection::CloseNow(const char* why) {
  if (closed_) return;
  closed_ = true;
  Log(LogLevel::kInfo, "connection_closed",
      {{"conn", std::to_string(id_)}, {"peer", peer_}, {"reason", why}});
  stream_.Close();
  write_signal_.cancel();
  watchdog_.cancel();
  write_queue_.clear();
  write_queue_bytes_ = 0;
  in_flight_.clear();
  if (session_) handler_.OnClose(id_);
  if (on_closed_) {
    auto cb = std::move(on_closed_);
    on_closed_ = nullptr;
    cb(id_);
  }
}

}  // namespace tessera::server
