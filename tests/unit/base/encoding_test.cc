#include "base/encoding.h"

#include <gtest/gtest.h>

namespace tessera {
namespace {

TEST(EncodingTest, HexRoundTrip) {
  const Bytes b = {0x00, 0x7f, 0xab, 0xff};
  EXPECT_EQ(HexEncode(b), "007fabff");
  auto decoded = HexDecode("007FabfF");
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, b);
}

TEST(EncodingTest, HexRejectsBadInput) {
  EXPECT_EQ(HexDecode("abc").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(HexDecode("zz").status().code(), StatusCode::kInvalidArgument);
}

TEST(EncodingTest, Base32MatchesRfc4648Vectors) {
  // RFC 4648 §10 test vectors, lowercased and unpadded.
  const std::string foobar = "foobar";
  const auto* p = reinterpret_cast<const uint8_t*>(foobar.data());
  EXPECT_EQ(Base32Encode(p, 0), "");
  EXPECT_EQ(Base32Encode(p, 1), "my");
  EXPECT_EQ(Base32Encode(p, 3), "mzxw6");
  EXPECT_EQ(Base32Encode(p, 6), "mzxw6ytboi");
}

}  // namespace
}  // namespace tessera
