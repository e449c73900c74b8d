// A small blocking tessera.v1 client for server tests: raw TCP (or TLS 1.3 via OpenSSL),
// explicit frames, and a way to send arbitrary bytes. Every read has a timeout so a test
// never hangs on a silent server.
//
// Replies are matched by request id: Call() sends a request and returns the frame that
// answers it; frames that arrive meanwhile (pushes, other replies) are kept and returned by
// later Read()/Call()/TakePending() calls, in arrival order.
// Thread safety: not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "protocol/framing.h"
#include "tessera/v1/tessera.pb.h"

// OpenSSL handles, declared here so users need not include OpenSSL.
struct ssl_st;
struct ssl_ctx_st;

namespace tessera::testing {

using namespace std::chrono_literals;

class RawClient {
 public:
  static constexpr std::chrono::milliseconds kDefaultTimeout{10000};

  RawClient() = default;
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  // Plain TCP to host:port.
  Status Connect(std::uint16_t port, const std::string& host = "127.0.0.1");
  // TLS 1.3 to host:port, verifying the server against `ca_cert` for name "localhost".
  Status ConnectTls(std::uint16_t port, const std::filesystem::path& ca_cert,
                    const std::string& host = "127.0.0.1");
  void Close();
  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  // "TLSv1.3" after ConnectTls, empty otherwise.
  std::string TlsVersion() const;

  Status SendBytes(std::string_view bytes);
  Status Send(const tessera::v1::Frame& frame);

  // The next frame (pending ones first). kDeadlineExceeded on timeout, kUnavailable when the
  // server closed the connection, kDataLoss when the bytes do not decode.
  Result<tessera::v1::Frame> Read(std::chrono::milliseconds timeout = kDefaultTimeout);
  // The next frame whose body is `body` (others stay pending).
  Result<tessera::v1::Frame> ReadBody(tessera::v1::Frame::BodyCase body,
                                      std::chrono::milliseconds timeout = kDefaultTimeout);
  // Sends `request` (assigning the next request id when it has none) and returns the frame
  // with that request id. An ErrorReply is returned as a frame, not as an error.
  Result<tessera::v1::Frame> Call(tessera::v1::Frame request,
                                  std::chrono::milliseconds timeout = kDefaultTimeout);
  // Waits for the frame answering `request_id`.
  Result<tessera::v1::Frame> ReadReply(std::uint64_t request_id,
                                       std::chrono::milliseconds timeout = kDefaultTimeout);
  // True when the server closes the connection within `timeout`; frames read meanwhile are
  // kept pending.
  bool WaitClosed(std::chrono::milliseconds timeout = kDefaultTimeout);
  std::vector<tessera::v1::Frame> TakePending();

  // Sends Hello{min,max, identity} and returns the reply frame (HelloReply or ErrorReply).
  Result<tessera::v1::Frame> Hello(const std::string& client_id, const std::string& user = "alice",
                                   const std::string& host = "ws1", std::uint32_t min_version = 1,
                                   std::uint32_t max_version = 1);

  // Conveniences over Call(). They return the reply frame (which may be an ErrorReply).
  Result<tessera::v1::Frame> Checkout(const std::string& feature, const std::string& version,
                                      std::uint32_t count = 1);
  Result<tessera::v1::Frame> Checkout(const tessera::v1::CheckoutRequest& request);
  Result<tessera::v1::Frame> Heartbeat(const std::vector<std::string>& lease_ids);
  Result<tessera::v1::Frame> Checkin(const std::string& lease_id, std::uint64_t units = 0);
  Result<tessera::v1::Frame> StatusQuery(const std::string& feature = "");

  std::uint64_t NextRequestId() { return next_request_id_++; }

 private:
  // Reads more bytes into the decoder; kDeadlineExceeded / kUnavailable.
  ::tessera::Status Fill(std::chrono::steady_clock::time_point deadline);
  ::tessera::Status ReadOne(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  ssl_ctx_st* ssl_ctx_ = nullptr;
  ssl_st* ssl_ = nullptr;
  protocol::FrameDecoder decoder_{protocol::kLargestMaxFrameBytes};
  std::string unread_;  // bytes received but not yet fed to the decoder
  std::deque<tessera::v1::Frame> pending_;
  std::uint64_t next_request_id_ = 1;
  bool eof_ = false;
};

}  // namespace tessera::testing
