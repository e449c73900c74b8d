#include "admin/cli/audit_source.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <utility>

namespace tessera::cli {
namespace {

// An AuditExport parsed whole (an export is one protobuf message); blocks are moved out page
// by page, so the file's blocks are never held twice.
class ExportSource final : public BlockSource {
 public:
  ExportSource(std::string path, v1::AuditExport audit_export, int first, RangeStart start)
      : path_(std::move(path)), export_(std::move(audit_export)), next_(first), start_(start) {}

  Result<std::vector<v1::AuditBlock>> Next(size_t max) override {
    std::vector<v1::AuditBlock> page;
    while (next_ < export_.blocks_size() && page.size() < max) {
      page.push_back(std::move(*export_.mutable_blocks(next_++)));
    }
    return page;
  }

  void Seek(uint64_t position) override {
    next_ = static_cast<int>(std::min<uint64_t>(static_cast<uint64_t>(first_) + position,
                                                static_cast<uint64_t>(export_.blocks_size())));
  }

  Result<std::optional<v1::SignedEnvelope>> Certificate() override {
    if (!export_.has_certificate()) return std::optional<v1::SignedEnvelope>();
    return std::optional<v1::SignedEnvelope>(export_.certificate());
  }

  RangeStart Start() const override { return start_; }
  std::string Describe() const override { return "export " + path_; }

 private:
  std::string path_;
  v1::AuditExport export_;
  int first_ = 0;
  int next_ = 0;
  RangeStart start_;
};

// The first block to yield and where the range starts (see OpenExportSource).
std::pair<int, RangeStart> ExportRange(const v1::AuditExport& e, const audit::Digest& previous,
                                       uint64_t from, bool verify_anchor) {
  // With verification the range starts one block early, at the anchor.
  const uint64_t first_wanted = (from > 0 && verify_anchor) ? from - 1 : from;
  int first = 0;
  while (first < e.blocks_size()) {
    std::optional<uint64_t> seq = ClaimedSequence(e.blocks(first));
    if (!seq || *seq >= first_wanted) break;
    ++first;
  }
  RangeStart start;
  if (first > 0) {
    // Blocks were skipped: the range must start with the anchor, block from - 1.
    start.sequence = first_wanted;
    start.anchor = verify_anchor;
    return {first, start};
  }
  // The export's own beginning, linked to its previous_hash.
  start.previous_hash = previous;
  if (e.blocks_size() > 0) start.sequence = ClaimedSequence(e.blocks(0)).value_or(0);
  start.anchor = verify_anchor && from > 0 && start.sequence == from - 1;
  return {0, start};
}

}  // namespace

Result<std::string> ReadInputFile(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return InvalidArgument(path + " is a directory");
  uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) return NotFound("cannot read " + path + ": " + ec.message());
  if (size > kMaxInputBytes) return ResourceExhausted(path + " is larger than 1 GiB");
  std::ifstream in(path, std::ios::binary);
  std::string data(static_cast<size_t>(size), '\0');
  in.read(data.data(), static_cast<std::streamsize>(size));
  if (!in || in.gcount() != static_cast<std::streamsize>(size)) {
    return Unavailable("cannot read " + path);
  }
  return data;
}

std::optional<uint64_t> ClaimedSequence(const v1::AuditBlock& block) {
  v1::BlockHeader header;
  if (!header.ParseFromString(block.header().payload())) return std::nullopt;
  return header.sequence();
}

Result<std::unique_ptr<BlockSource>> OpenExportSource(const std::string& path, uint64_t from,
                                                      bool verify_anchor) {
  TESSERA_ASSIGN_OR_RETURN(std::string data, ReadInputFile(path));
  v1::AuditExport audit_export;
  if (!audit_export.ParseFromString(data)) {
    return InvalidArgument(path + " is not an audit export");
  }
  data = std::string();  // the parsed export is all we keep
  if (audit_export.format_version() != 1) {
    return InvalidArgument(path + ": audit export format version " +
                           std::to_string(audit_export.format_version()) + " (expected 1)");
  }
  audit::Digest previous{};
  const std::string& prev = audit_export.previous_hash();
  if (!prev.empty() && prev.size() != previous.size()) {
    return InvalidArgument(path + ": previous_hash is not 32 bytes");
  }
  std::copy(prev.begin(), prev.end(), previous.begin());
  auto [first, start] = ExportRange(audit_export, previous, from, verify_anchor);
  return std::unique_ptr<BlockSource>(
      std::make_unique<ExportSource>(path, std::move(audit_export), first, start));
}

}  // namespace tessera::cli
