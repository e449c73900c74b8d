// The database side of audit_source.h: tesserad's SQLite file through the store's read-only
// audit functions (server/store/audit_blocks.h).
#include <algorithm>
#include <filesystem>
#include <limits>
#include <system_error>
#include <utility>

#include "admin/cli/audit_source.h"
#include "protocol/audit/audit_error.h"
#include "server/store/audit_blocks.h"

namespace tessera::cli {
namespace {

// SQLite integers are signed: sequences above this cannot be stored.
constexpr uint64_t kMaxSequence = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

class DbSource final : public BlockSource {
 public:
  DbSource(std::string path, uint64_t read_from, RangeStart start)
      : path_(std::move(path)), read_from_(read_from), next_from_(read_from), start_(start) {}

  Result<std::vector<v1::AuditBlock>> Next(size_t max) override {
    if (done_) return std::vector<v1::AuditBlock>();
    TESSERA_ASSIGN_OR_RETURN(std::vector<v1::AuditBlock> page,
                             store::ReadAuditBlocks(path_, next_from_, max));
    if (page.empty()) {
      done_ = true;
      return page;
    }
    Advance(page);
    return page;
  }

  // Rows are numbered from read_from_ without gaps at most, so the `position`-th row read
  // sits at or after sequence read_from_ + position.
  void Seek(uint64_t position) override {
    next_from_ = read_from_ + std::min(position, kMaxSequence - read_from_);
    done_ = false;
  }

  Result<std::optional<v1::SignedEnvelope>> Certificate() override {
    TESSERA_ASSIGN_OR_RETURN(std::optional<std::string> stored,
                             store::ReadStoredCertificate(path_));
    if (!stored) return std::optional<v1::SignedEnvelope>();
    v1::SignedEnvelope envelope;
    if (!envelope.ParseFromString(*stored)) {
      return audit::MakeAuditError(audit::AuditError::kMalformed,
                                   "the certificate stored in " + Describe() + " does not parse");
    }
    return std::optional<v1::SignedEnvelope>(std::move(envelope));
  }

  RangeStart Start() const override { return start_; }
  std::string Describe() const override { return "database " + path_; }

 private:
  // The next read starts after the rows just read. Rows are ordered by their sequence
  // column, which the page does not carry: the last header's claim stands in for it, never
  // below next_from_ + page size, so a damaged database cannot make the reader loop. After a
  // page that verified, the claims run on from next_from_ without gaps and every column is
  // at or above its row's claim, so no row is skipped; when claims and columns disagree
  // (rows swapped) verification has stopped, and the search for the missing block uses
  // Seek, which never skips.
  void Advance(const std::vector<v1::AuditBlock>& page) {
    uint64_t next = next_from_ + page.size();
    if (std::optional<uint64_t> last = ClaimedSequence(page.back()); last && *last < kMaxSequence) {
      next = std::max(next, *last + 1);
    }
    if (next > kMaxSequence) done_ = true;
    next_from_ = next;
  }

  std::string path_;
  uint64_t read_from_;
  uint64_t next_from_;
  RangeStart start_;
  bool done_ = false;
};

}  // namespace

Result<std::unique_ptr<BlockSource>> OpenDbSource(const std::string& path, uint64_t from,
                                                  bool verify_anchor) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return NotFound("database " + path + " does not exist");
  }
  if (from > kMaxSequence) return InvalidArgument("--from is above the largest sequence");
  RangeStart start;  // genesis: block 0 linked to zeros
  uint64_t read_from = from;
  if (from > 0) {
    // Without verification reading starts at `from`; with it, at the anchor before it,
    // whose own link is taken as claimed.
    start.sequence = verify_anchor ? from - 1 : from;
    start.previous_hash.reset();
    start.anchor = verify_anchor;
    read_from = start.sequence;
  } else {
    start.previous_hash = audit::Digest{};
  }
  // Fails now, not half-way, when the file is no tesserad database.
  TESSERA_RETURN_IF_ERROR(store::ReadAuditBlocks(path, read_from, 0).status());
  return std::unique_ptr<BlockSource>(std::make_unique<DbSource>(path, read_from, start));
}

}  // namespace tessera::cli
