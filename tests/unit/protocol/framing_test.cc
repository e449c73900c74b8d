#include "protocol/framing.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace tessera::protocol {
namespace {

namespace v1 = tessera::v1;

v1::Frame CheckoutFrame(std::uint64_t id, const std::string& feature) {
  v1::Frame f;
  f.set_request_id(id);
  f.mutable_checkout()->set_feature(feature);
  f.mutable_checkout()->set_version("2.1");
  f.mutable_checkout()->set_nonce(std::string("\x00\x01\xff", 3));
  return f;
}

v1::Frame StatusFrame(std::uint64_t id) {
  v1::Frame f;
  f.set_request_id(id);
  f.mutable_status();
  return f;
}

std::string Encode(const v1::Frame& f) {
  auto r = EncodeFrame(f);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : std::string();
}

std::string Prefix(std::uint32_t n) {
  unsigned char b[4];
  PutLengthPrefix(n, b);
  return std::string(reinterpret_cast<char*>(b), 4);
}

struct Decoded {
  std::vector<v1::Frame> frames;
  std::optional<DecodeError> error;
  bool mid_frame = false;
};

// Feeds `chunks` one after the other and collects every frame.
Decoded DecodeChunks(const std::vector<std::string_view>& chunks,
                     std::uint32_t max = kDefaultMaxFrameBytes) {
  FrameDecoder dec(max);
  Decoded out;
  for (std::string_view chunk : chunks) {
    while (true) {
      v1::Frame f;
      auto o = dec.Decode(chunk, &f);
      if (o == FrameDecoder::Outcome::kFrame) {
        out.frames.push_back(f);
        continue;
      }
      if (o == FrameDecoder::Outcome::kError) out.error = dec.error();
      break;
    }
    if (out.error) break;
    EXPECT_TRUE(chunk.empty());
  }
  out.mid_frame = dec.mid_frame();
  return out;
}

TEST(FramingTest, EncodesBigEndianPrefix) {
  std::string bytes = Encode(StatusFrame(7));
  ASSERT_GE(bytes.size(), 5u);
  std::uint32_t n = (std::uint32_t{static_cast<unsigned char>(bytes[0])} << 24) |
                    (std::uint32_t{static_cast<unsigned char>(bytes[1])} << 16) |
                    (std::uint32_t{static_cast<unsigned char>(bytes[2])} << 8) |
                    std::uint32_t{static_cast<unsigned char>(bytes[3])};
  EXPECT_EQ(n, bytes.size() - 4);
  v1::Frame back;
  ASSERT_TRUE(back.ParseFromString(bytes.substr(4)));
  EXPECT_EQ(back.request_id(), 7u);
  EXPECT_TRUE(back.has_status());
}

TEST(FramingTest, EveryTwoWaySplitOfAThreeFrameStreamDecodes) {
  std::string stream = Encode(CheckoutFrame(1, "cad")) + Encode(StatusFrame(2)) +
                       Encode(CheckoutFrame(3, std::string(300, 'x')));
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    std::string_view s(stream);
    Decoded d = DecodeChunks({s.substr(0, cut), s.substr(cut)});
    ASSERT_FALSE(d.error) << "cut " << cut;
    ASSERT_EQ(d.frames.size(), 3u) << "cut " << cut;
    EXPECT_EQ(d.frames[0].checkout().feature(), "cad");
    EXPECT_EQ(d.frames[1].request_id(), 2u);
    EXPECT_EQ(d.frames[2].checkout().feature(), std::string(300, 'x'));
    EXPECT_FALSE(d.mid_frame);
  }
}

TEST(FramingTest, OneByteAtATimeDecodes) {
  std::string stream = Encode(CheckoutFrame(1, "cad")) + Encode(StatusFrame(2));
  std::vector<std::string_view> chunks;
  for (std::size_t i = 0; i < stream.size(); ++i) chunks.emplace_back(stream.data() + i, 1);
  Decoded d = DecodeChunks(chunks);
  ASSERT_FALSE(d.error);
  ASSERT_EQ(d.frames.size(), 2u);
  EXPECT_EQ(d.frames[0].checkout().nonce(), std::string("\x00\x01\xff", 3));
}

TEST(FramingTest, RandomSplitsDecode) {
  std::string stream;
  for (int i = 1; i <= 20; ++i) stream += Encode(CheckoutFrame(i, std::string(i * 7, 'f')));
  std::mt19937 rng(42);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::string_view> chunks;
    std::size_t pos = 0;
    while (pos < stream.size()) {
      std::size_t n = std::uniform_int_distribution<std::size_t>(0, 40)(rng);
      n = std::min(n, stream.size() - pos);
      chunks.emplace_back(stream.data() + pos, n);
      pos += n;
    }
    Decoded d = DecodeChunks(chunks);
    ASSERT_FALSE(d.error);
    ASSERT_EQ(d.frames.size(), 20u);
    EXPECT_EQ(d.frames[19].request_id(), 20u);
  }
}

TEST(FramingTest, TruncatedInputIsIncompleteNotAnError) {
  std::string frame = Encode(CheckoutFrame(1, "cad"));
  for (std::size_t len = 1; len < frame.size(); ++len) {
    Decoded d = DecodeChunks({std::string_view(frame).substr(0, len)});
    EXPECT_FALSE(d.error) << len;
    EXPECT_TRUE(d.frames.empty()) << len;
    EXPECT_TRUE(d.mid_frame) << len;
  }
  EXPECT_FALSE(DecodeChunks({""}).mid_frame);
}

TEST(FramingTest, OversizePrefixIsRejectedBeforeAnyPayload) {
  FrameDecoder dec(1024);
  std::string prefix = Prefix(1025);
  std::string_view in(prefix);
  v1::Frame f;
  EXPECT_EQ(dec.Decode(in, &f), FrameDecoder::Outcome::kError);
  EXPECT_EQ(dec.error(), DecodeError::kFrameTooLarge);
  EXPECT_EQ(ToErrorCode(*dec.error()), v1::FRAME_TOO_LARGE);
  EXPECT_EQ(dec.buffered_bytes(), 4u);  // nothing beyond the prefix was taken
  // The error is sticky.
  std::string more = Encode(StatusFrame(1));
  std::string_view in2(more);
  EXPECT_EQ(dec.Decode(in2, &f), FrameDecoder::Outcome::kError);
}

TEST(FramingTest, HugePrefixNeverAllocates) {
  FrameDecoder dec;
  std::string prefix = Prefix(0xFFFFFFFFu);
  std::string_view in(prefix);
  v1::Frame f;
  EXPECT_EQ(dec.Decode(in, &f), FrameDecoder::Outcome::kError);
  EXPECT_EQ(dec.error(), DecodeError::kFrameTooLarge);
}

TEST(FramingTest, ExactlyMaximumIsAccepted) {
  v1::Frame f = CheckoutFrame(1, "");
  std::string body = f.SerializeAsString();
  std::uint32_t max = static_cast<std::uint32_t>(body.size());
  auto enc = EncodeFrame(f, max);
  ASSERT_TRUE(enc.ok());
  Decoded d = DecodeChunks({*enc}, max);
  EXPECT_FALSE(d.error);
  EXPECT_EQ(d.frames.size(), 1u);
  EXPECT_EQ(EncodeFrame(f, max - 1).status().code(), StatusCode::kResourceExhausted);
}

TEST(FramingTest, LargePayloadBuffersOnlyWhatArrived) {
  FrameDecoder dec;
  std::string data = Prefix(900'000) + std::string(10, '\0');
  std::string_view in(data);
  v1::Frame f;
  EXPECT_EQ(dec.Decode(in, &f), FrameDecoder::Outcome::kNeedMore);
  EXPECT_EQ(dec.buffered_bytes(), 14u);
  EXPECT_EQ(dec.announced_length(), 900'000u);
}

TEST(FramingTest, ZeroLengthFrameIsAnError) {
  Decoded d = DecodeChunks({Prefix(0)});
  ASSERT_TRUE(d.error);
  EXPECT_EQ(*d.error, DecodeError::kEmptyFrame);
  EXPECT_EQ(ToErrorCode(*d.error), v1::MALFORMED_FRAME);
}

TEST(FramingTest, EncoderRefusesFrameWithoutBody) {
  v1::Frame f;
  f.set_request_id(9);
  EXPECT_EQ(EncodeFrame(f).status().code(), StatusCode::kInvalidArgument);
  std::string out = "keep";
  EXPECT_FALSE(AppendFrame(f, &out).ok());
  EXPECT_EQ(out, "keep");
}

TEST(FramingTest, GarbagePayloadIsMalformed) {
  // 0xFF is field 31 with wire type 7, which does not exist.
  std::string garbage = Prefix(3) + "\xff\xff\xff";
  Decoded d = DecodeChunks({garbage});
  ASSERT_TRUE(d.error);
  EXPECT_EQ(*d.error, DecodeError::kMalformed);
}

TEST(FramingTest, FrameAfterGoodFramesThenGarbage) {
  std::string stream = Encode(StatusFrame(1)) + Prefix(2) + "\x0a\x05";  // truncated length
  Decoded d = DecodeChunks({stream});
  ASSERT_EQ(d.frames.size(), 1u);
  ASSERT_TRUE(d.error);
  EXPECT_EQ(*d.error, DecodeError::kMalformed);
}

TEST(FramingTest, RandomBytesNeverCrash) {
  std::mt19937 rng(7);
  int errors = 0;
  for (int round = 0; round < 2000; ++round) {
    std::string junk(std::uniform_int_distribution<int>(1, 200)(rng), '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    if (round % 2 == 0) junk = Prefix(static_cast<std::uint32_t>(junk.size() - 1)) + junk;
    Decoded d = DecodeChunks({junk}, 4096);
    if (d.error) ++errors;
  }
  EXPECT_GT(errors, 0);
}

TEST(FramingTest, UnknownBodyDecodesWithBodyNotSet) {
  // Field 99, varint 1: a body from some future version.
  std::string payload = "\x98\x06\x01";
  Decoded d = DecodeChunks({Prefix(static_cast<std::uint32_t>(payload.size())) + payload});
  ASSERT_FALSE(d.error);
  ASSERT_EQ(d.frames.size(), 1u);
  EXPECT_EQ(d.frames[0].body_case(), v1::Frame::BODY_NOT_SET);
}

}  // namespace
}  // namespace tessera::protocol
