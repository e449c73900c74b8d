#include "protocol/framing.h"

#include <algorithm>
#include <cassert>

namespace tessera::protocol {

namespace v1 = tessera::v1;

std::string_view DecodeErrorName(DecodeError error) {
  switch (error) {
    case DecodeError::kFrameTooLarge:
      return "frame_too_large";
    case DecodeError::kEmptyFrame:
      return "empty_frame";
    case DecodeError::kMalformed:
      return "malformed";
  }
  return "unknown";
}

v1::ErrorCode ToErrorCode(DecodeError error) {
  return error == DecodeError::kFrameTooLarge ? v1::FRAME_TOO_LARGE : v1::MALFORMED_FRAME;
}

FrameDecoder::FrameDecoder(std::uint32_t max_frame_bytes) : max_frame_bytes_(max_frame_bytes) {
  assert(max_frame_bytes > 0 && max_frame_bytes <= kLargestMaxFrameBytes);
}

std::optional<std::uint32_t> FrameDecoder::announced_length() const {
  if (header_filled_ < kLengthPrefixBytes) return std::nullopt;
  return length_;
}

void FrameDecoder::Reset() {
  header_filled_ = 0;
  length_ = 0;
  // Keep small capacity for the next frame, but give back what a large frame took.
  if (payload_.capacity() > 4096) {
    std::string().swap(payload_);
  } else {
    payload_.clear();
  }
}

FrameDecoder::Outcome FrameDecoder::Decode(std::string_view& input, v1::Frame* frame) {
  if (error_) return Outcome::kError;
  if (header_filled_ < kLengthPrefixBytes) {
    std::size_t n = std::min(kLengthPrefixBytes - header_filled_, input.size());
    std::copy_n(input.data(), n, header_ + header_filled_);
    header_filled_ += n;
    input.remove_prefix(n);
    if (header_filled_ < kLengthPrefixBytes) return Outcome::kNeedMore;
    length_ = (std::uint32_t{header_[0]} << 24) | (std::uint32_t{header_[1]} << 16) |
              (std::uint32_t{header_[2]} << 8) | std::uint32_t{header_[3]};
    // The prefix is judged before a single payload byte is buffered.
    if (length_ > max_frame_bytes_) {
      error_ = DecodeError::kFrameTooLarge;
      return Outcome::kError;
    }
    if (length_ == 0) {
      error_ = DecodeError::kEmptyFrame;
      return Outcome::kError;
    }
  }
  // Grow only with bytes that actually arrived (never reserve the announced length).
  std::size_t want = length_ - payload_.size();
  std::size_t n = std::min(want, input.size());
  payload_.append(input.data(), n);
  input.remove_prefix(n);
  if (payload_.size() < length_) return Outcome::kNeedMore;

  frame->Clear();
  bool parsed = frame->ParseFromString(payload_);
  Reset();
  if (!parsed) {
    error_ = DecodeError::kMalformed;
    return Outcome::kError;
  }
  return Outcome::kFrame;
}

void PutLengthPrefix(std::uint32_t length, unsigned char* out) {
  out[0] = static_cast<unsigned char>(length >> 24);
  out[1] = static_cast<unsigned char>(length >> 16);
  out[2] = static_cast<unsigned char>(length >> 8);
  out[3] = static_cast<unsigned char>(length);
}

Status AppendFrame(const v1::Frame& frame, std::string* out, std::uint32_t max_frame_bytes) {
  if (frame.body_case() == v1::Frame::BODY_NOT_SET) {
    return InvalidArgument("frame has no body");
  }
  std::size_t size = frame.ByteSizeLong();
  if (size == 0) return InvalidArgument("frame encodes to zero bytes");
  if (size > max_frame_bytes) {
    return ResourceExhausted("frame of " + std::to_string(size) + " bytes exceeds limit " +
                             std::to_string(max_frame_bytes));
  }
  std::size_t start = out->size();
  out->resize(start + kLengthPrefixBytes + size);
  auto* base = reinterpret_cast<unsigned char*>(out->data() + start);
  PutLengthPrefix(static_cast<std::uint32_t>(size), base);
  if (!frame.SerializeToArray(base + kLengthPrefixBytes, static_cast<int>(size))) {
    out->resize(start);
    return Internal("frame serialization failed");
  }
  return Status::Ok();
}

Result<std::string> EncodeFrame(const v1::Frame& frame, std::uint32_t max_frame_bytes) {
  std::string out;
  TESSERA_RETURN_IF_ERROR(AppendFrame(frame, &out, max_frame_bytes));
  return out;
}

}  // namespace tessera::protocol
