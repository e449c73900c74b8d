// Byte encodings used for ids and files: hex and RFC 4648 base32.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace tessera {

using Bytes = std::vector<uint8_t>;

std::string HexEncode(const uint8_t* data, size_t size);
inline std::string HexEncode(const Bytes& b) { return HexEncode(b.data(), b.size()); }
// Accepts upper- or lowercase; fails on odd length or a non-hex character.
Result<Bytes> HexDecode(std::string_view hex);

// Lowercase RFC 4648 base32 without padding ("abc234…").
std::string Base32Encode(const uint8_t* data, size_t size);
inline std::string Base32Encode(const Bytes& b) { return Base32Encode(b.data(), b.size()); }

}  // namespace tessera
