// Dotted numeric versions ("2", "2.1", "2.10.3"): parsing and ordering.
//
// Components compare numerically, so "2.10" > "2.9"; missing trailing components are zero,
// so "2" == "2.0". A version has 1 to kMaxVersionComponents components, each 0..999999999.
// Thread safety: value type.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::engine {

inline constexpr size_t kMaxVersionComponents = 8;

class Version {
 public:
  // Returns nullopt for anything but 1..8 dot-separated runs of 1..9 decimal digits.
  static std::optional<Version> Parse(std::string_view text);

  const std::vector<uint32_t>& components() const { return components_; }
  std::string ToString() const;

  friend std::strong_ordering operator<=>(const Version& a, const Version& b);
  friend bool operator==(const Version& a, const Version& b) { return (a <=> b) == 0; }

 private:
  std::vector<uint32_t> components_;
};

}  // namespace tessera::engine
