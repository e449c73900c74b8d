#include "server/engine/version.h"

namespace tessera::engine {

std::optional<Version> Version::Parse(std::string_view text) {
  Version v;
  size_t pos = 0;
  while (true) {
    size_t end = text.find('.', pos);
    std::string_view part =
        text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    if (part.empty() || part.size() > 9) return std::nullopt;
    uint32_t value = 0;
    for (char c : part) {
      if (c < '0' || c > '9') return std::nullopt;
      value = value * 10 + static_cast<uint32_t>(c - '0');
    }
    v.components_.push_back(value);
    if (v.components_.size() > kMaxVersionComponents) return std::nullopt;
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return v;
}

std::string Version::ToString() const {
  std::string out;
  for (size_t i = 0; i < components_.size(); ++i) {
    if (i > 0) out += '.';
    out += std::to_string(components_[i]);
  }
  return out;
}

std::strong_ordering operator<=>(const Version& a, const Version& b) {
  size_t n = std::max(a.components_.size(), b.components_.size());
  for (size_t i = 0; i < n; ++i) {
    uint32_t x = i < a.components_.size() ? a.components_[i] : 0;
    uint32_t y = i < b.components_.size() ? b.components_[i] : 0;
    if (x != y) return x <=> y;
  }
  return std::strong_ordering::equal;
}

}  // namespace tessera::engine
