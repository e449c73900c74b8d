#include "tests/support/raw_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tessera::testing {

namespace v1 = tessera::v1;
using Clock = std::chrono::steady_clock;

RawClient::~RawClient() { Close(); }

void RawClient::Close() {
  if (ssl_) {
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
  if (ssl_ctx_) {
    SSL_CTX_free(ssl_ctx_);
    ssl_ctx_ = nullptr;
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

::tessera::Status RawClient::Connect(std::uint16_t port, const std::string& host) {
  Close();
  decoder_ = protocol::FrameDecoder(protocol::kLargestMaxFrameBytes);
  unread_.clear();
  pending_.clear();
  eof_ = false;
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return Unavailable(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    Close();
    return InvalidArgument("bad IPv4 address " + host);
  }
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::string err = std::strerror(errno);
    Close();
    return Unavailable("connect: " + err);
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return ::tessera::Status::Ok();
}

::tessera::Status RawClient::ConnectTls(std::uint16_t port, const std::filesystem::path& ca_cert,
                                        const std::string& host) {
  TESSERA_RETURN_IF_ERROR(Connect(port, host));
  ssl_ctx_ = SSL_CTX_new(TLS_client_method());
  if (!ssl_ctx_) return Internal("SSL_CTX_new failed");
  SSL_CTX_set_min_proto_version(ssl_ctx_, TLS1_3_VERSION);
  if (SSL_CTX_load_verify_locations(ssl_ctx_, ca_cert.c_str(), nullptr) != 1) {
    return InvalidArgument("cannot load CA " + ca_cert.string());
  }
  SSL_CTX_set_verify(ssl_ctx_, SSL_VERIFY_PEER, nullptr);
  ssl_ = SSL_new(ssl_ctx_);
  SSL_set_fd(ssl_, fd_);
  SSL_ctrl(ssl_, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
           const_cast<char*>("localhost"));
  SSL_set1_host(ssl_, "localhost");
  timeval tv{10, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (SSL_connect(ssl_) != 1) {
    long verify = SSL_get_verify_result(ssl_);
    Close();
    return Unavailable("TLS handshake failed (verify result " + std::to_string(verify) + ")");
  }
  return ::tessera::Status::Ok();
}

std::string RawClient::TlsVersion() const { return ssl_ ? SSL_get_version(ssl_) : ""; }

::tessera::Status RawClient::SendBytes(std::string_view bytes) {
  if (fd_ < 0) return FailedPrecondition("not connected");
  std::size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n;
    if (ssl_) {
      n = SSL_write(ssl_, bytes.data() + off, static_cast<int>(bytes.size() - off));
    } else {
      n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    }
    if (n <= 0) {
      if (!ssl_ && errno == EINTR) continue;
      return Unavailable(std::string("send failed: ") + std::strerror(errno));
    }
    off += static_cast<std::size_t>(n);
  }
  return ::tessera::Status::Ok();
}

::tessera::Status RawClient::Send(const v1::Frame& frame) {
  TESSERA_ASSIGN_OR_RETURN(std::string bytes,
                           protocol::EncodeFrame(frame, protocol::kLargestMaxFrameBytes));
  return SendBytes(bytes);
}

::tessera::Status RawClient::Fill(Clock::time_point deadline) {
  if (fd_ < 0) return FailedPrecondition("not connected");
  if (eof_) return Unavailable("connection closed by the server");
  if (!ssl_ || SSL_pending(ssl_) == 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() < 0) left = std::chrono::milliseconds(0);
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r == 0) return DeadlineExceeded("no data from the server in time");
    if (r < 0 && errno != EINTR) return Internal(std::string("poll: ") + std::strerror(errno));
    if (r < 0) return ::tessera::Status::Ok();
  }
  char buf[16384];
  ssize_t n;
  if (ssl_) {
    n = SSL_read(ssl_, buf, sizeof buf);
  } else {
    n = ::recv(fd_, buf, sizeof buf, 0);
  }
  if (n <= 0) {
    eof_ = true;
    return Unavailable("connection closed by the server");
  }
  unread_.append(buf, static_cast<std::size_t>(n));
  return ::tessera::Status::Ok();
}

::tessera::Status RawClient::ReadOne(Clock::time_point deadline) {
  while (true) {
    std::string_view in(unread_);
    v1::Frame frame;
    auto outcome = decoder_.Decode(in, &frame);
    unread_.erase(0, unread_.size() - in.size());
    if (outcome == protocol::FrameDecoder::Outcome::kFrame) {
      pending_.push_back(std::move(frame));
      return ::tessera::Status::Ok();
    }
    if (outcome == protocol::FrameDecoder::Outcome::kError) {
      return DataLoss("undecodable bytes from the server");
    }
    TESSERA_RETURN_IF_ERROR(Fill(deadline));
  }
}

Result<v1::Frame> RawClient::Read(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  if (pending_.empty()) TESSERA_RETURN_IF_ERROR(ReadOne(deadline));
  v1::Frame f = std::move(pending_.front());
  pending_.pop_front();
  return f;
}

Result<v1::Frame> RawClient::ReadBody(v1::Frame::BodyCase body, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  std::size_t scanned = 0;
  while (true) {
    for (; scanned < pending_.size(); ++scanned) {
      if (pending_[scanned].body_case() == body) {
        v1::Frame f = std::move(pending_[scanned]);
        pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(scanned));
        return f;
      }
    }
    TESSERA_RETURN_IF_ERROR(ReadOne(deadline));
  }
}

Result<v1::Frame> RawClient::ReadReply(std::uint64_t request_id,
                                       std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  std::size_t scanned = 0;
  while (true) {
    for (; scanned < pending_.size(); ++scanned) {
      const v1::Frame& f = pending_[scanned];
      if (f.request_id() == request_id && f.body_case() != v1::Frame::kQueued) {
        v1::Frame out = f;
        pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(scanned));
        return out;
      }
    }
    TESSERA_RETURN_IF_ERROR(ReadOne(deadline));
  }
}

Result<v1::Frame> RawClient::Call(v1::Frame request, std::chrono::milliseconds timeout) {
  if (request.request_id() == 0) request.set_request_id(NextRequestId());
  TESSERA_RETURN_IF_ERROR(Send(request));
  return ReadReply(request.request_id(), timeout);
}

bool RawClient::WaitClosed(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (true) {
    ::tessera::Status s = ReadOne(deadline);
    if (s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDataLoss) return true;
    if (s.code() == StatusCode::kDeadlineExceeded) return false;
    if (!s.ok()) return false;
  }
}

std::vector<v1::Frame> RawClient::TakePending() {
  std::vector<v1::Frame> out(pending_.begin(), pending_.end());
  pending_.clear();
  return out;
}

Result<v1::Frame> RawClient::Hello(const std::string& client_id, const std::string& user,
                                   const std::string& host, std::uint32_t min_version,
                                   std::uint32_t max_version) {
  v1::Frame f;
  f.set_request_id(NextRequestId());
  v1::Hello* h = f.mutable_hello();
  h->set_min_version(min_version);
  h->set_max_version(max_version);
  h->mutable_client()->set_client_id(client_id);
  h->mutable_client()->set_user(user);
  h->mutable_client()->set_host(host);
  h->mutable_client()->set_app_name("raw-client");
  return Call(f);
}

Result<v1::Frame> RawClient::Checkout(const std::string& feature, const std::string& version,
                                      std::uint32_t count) {
  v1::CheckoutRequest r;
  r.set_feature(feature);
  r.set_version(version);
  r.set_count(count);
  return Checkout(r);
}

Result<v1::Frame> RawClient::Checkout(const v1::CheckoutRequest& request) {
  v1::Frame f;
  *f.mutable_checkout() = request;
  return Call(f);
}

Result<v1::Frame> RawClient::Heartbeat(const std::vector<std::string>& lease_ids) {
  v1::Frame f;
  for (const auto& id : lease_ids) f.mutable_heartbeat()->add_lease_ids(id);
  f.mutable_heartbeat();
  return Call(f);
}

Result<v1::Frame> RawClient::Checkin(const std::string& lease_id, std::uint64_t units) {
  v1::Frame f;
  f.mutable_checkin()->set_lease_id(lease_id);
  f.mutable_checkin()->set_metered_units_used(units);
  return Call(f);
}

Result<v1::Frame> RawClient::StatusQuery(const std::string& feature) {
  v1::Frame f;
  f.mutable_status()->set_feature(feature);
  return Call(f);
}

}  // namespace tessera::testing
