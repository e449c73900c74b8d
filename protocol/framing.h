// The tessera.v1 frame codec (docs/PROTOCOL.md, "Framing").
//
// On the wire a frame is a 4-byte big-endian length N followed by N bytes of one serialized
// tessera.v1.Frame. N is checked against the receiver's maximum before anything is allocated
// for the payload, and the payload buffer only ever grows with bytes actually received, so a
// peer announcing a large frame and then stalling costs no more memory than it sent.
//
// Zero-length frames are invalid: every valid Frame has a body, so its serialization is never
// empty. The encoder refuses to produce one and the decoder reports kEmptyFrame.
//
// Thread safety: FrameDecoder is a plain value; use one instance from one thread at a time.
// The free functions are thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "tessera/v1/tessera.pb.h"

namespace tessera::protocol {

inline constexpr std::size_t kLengthPrefixBytes = 4;
// The default and the largest allowed maximum frame size (HelloReply.max_frame_bytes).
inline constexpr std::uint32_t kDefaultMaxFrameBytes = 1u << 20;   // 1 MiB
inline constexpr std::uint32_t kLargestMaxFrameBytes = 64u << 20;  // 64 MiB
// The protocol versions this build speaks.
inline constexpr std::uint32_t kProtocolVersion = 1;
// The most lease ids one HeartbeatRequest may carry; servers refuse more (INVALID_ARGUMENT).
inline constexpr std::size_t kMaxHeartbeatLeaseIds = 10000;

// Why a byte stream could not be decoded. Every error is final: the stream is out of sync and
// the connection must be closed (after an ErrorReply where one can be sent).
enum class DecodeError {
  kFrameTooLarge,  // length prefix above the maximum (ErrorCode FRAME_TOO_LARGE)
  kEmptyFrame,     // length prefix 0 (ErrorCode MALFORMED_FRAME)
  kMalformed,      // the payload is not a serialized Frame (ErrorCode MALFORMED_FRAME)
};

// "frame_too_large", "empty_frame", "malformed".
std::string_view DecodeErrorName(DecodeError error);

// The wire ErrorCode a receiver answers a decode error with.
tessera::v1::ErrorCode ToErrorCode(DecodeError error);

// Incremental decoder: feed it the stream in chunks of any size, split anywhere.
class FrameDecoder {
 public:
  enum class Outcome { kNeedMore, kFrame, kError };

  // REQUIRES: 0 < max_frame_bytes <= kLargestMaxFrameBytes.
  explicit FrameDecoder(std::uint32_t max_frame_bytes = kDefaultMaxFrameBytes);

  // Consumes bytes from the front of `input` (advancing it) until one frame is complete, an
  // error is found, or `input` is exhausted. On kFrame the frame is in *frame and `input`
  // still holds the bytes after it: call again to decode them. On kNeedMore all of `input`
  // was consumed. On kError the error is in error() and the decoder stays in that state.
  Outcome Decode(std::string_view& input, tessera::v1::Frame* frame);

  // The error after Decode returned kError.
  std::optional<DecodeError> error() const { return error_; }

  // True when part of a frame (at least one byte of it) has been received but not all of it.
  // A server uses this to apply its read timeout to started frames only.
  bool mid_frame() const { return header_filled_ > 0 || payload_.size() > 0; }

  // Bytes currently held for the frame in progress (prefix and payload).
  std::size_t buffered_bytes() const { return header_filled_ + payload_.size(); }

  // The payload length announced by the current prefix, once all 4 bytes arrived.
  std::optional<std::uint32_t> announced_length() const;

  std::uint32_t max_frame_bytes() const { return max_frame_bytes_; }

 private:
  void Reset();

  std::uint32_t max_frame_bytes_;
  unsigned char header_[kLengthPrefixBytes] = {};
  std::size_t header_filled_ = 0;
  std::uint32_t length_ = 0;  // valid once header_filled_ == kLengthPrefixBytes
  std::string payload_;
  std::optional<DecodeError> error_;
};

// Appends one encoded frame (prefix + payload) to *out.
// Errors: kInvalidArgument when the frame has no body (it would encode to zero bytes);
// kResourceExhausted when it is larger than max_frame_bytes. *out is unchanged on error.
Status AppendFrame(const tessera::v1::Frame& frame, std::string* out,
                   std::uint32_t max_frame_bytes = kDefaultMaxFrameBytes);

// Returns one encoded frame. Errors as AppendFrame.
Result<std::string> EncodeFrame(const tessera::v1::Frame& frame,
                                std::uint32_t max_frame_bytes = kDefaultMaxFrameBytes);

// Writes the 4-byte big-endian prefix for `length` into out[0..3].
void PutLengthPrefix(std::uint32_t length, unsigned char* out);

}  // namespace tessera::protocol
