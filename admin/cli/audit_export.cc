// `tessera audit export`: blocks of a database written as an AuditExport, streamed page by
// page so memory stays bounded whatever the range.
//
// Protobuf parses concatenated encodings of a message as one merged message (repeated fields
// append), so the file is the encoding of an AuditExport holding the header fields, followed
// by one encoding per block holding just that block.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "admin/cli/audit_commands.h"
#include "admin/cli/audit_source.h"
#include "base/encoding.h"
#include "hsm/key_store.h"
#include "protocol/audit/block.h"
#include "server/store/store.h"
#include "server/time/db_counter_record.h"
#include "server/time/rollback.h"

namespace tessera::cli {
namespace {

Status Errno(const std::string& what) { return Unavailable(what + ": " + std::strerror(errno)); }

// A file that appears at its path complete or not at all: written to a temporary file beside
// it, synced, renamed over the path, and the directory synced. Removed unless committed.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path) : path_(std::move(path)) {}
  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!tmp_.empty() && !committed_) ::unlink(tmp_.c_str());
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  Status Open() {
    std::string tmpl = path_ + ".tmp.XXXXXX";
    fd_ = ::mkstemp(tmpl.data());
    if (fd_ < 0) return Errno("cannot create a file beside " + path_);
    tmp_ = tmpl;
    return Status::Ok();
  }

  Status Append(const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Errno("cannot write " + tmp_);
      done += static_cast<size_t>(n);
    }
    size_ += data.size();
    return Status::Ok();
  }

  Status Commit() {
    if (::fsync(fd_) != 0) return Errno("cannot sync " + tmp_);
    if (::close(fd_) != 0) {
      fd_ = -1;
      return Errno("cannot close " + tmp_);
    }
    fd_ = -1;
    if (::rename(tmp_.c_str(), path_.c_str()) != 0) return Errno("cannot write " + path_);
    committed_ = true;
    std::string dir = std::filesystem::path(path_).parent_path().string();
    int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
    return Status::Ok();
  }

  uint64_t size() const { return size_; }

 private:
  std::string path_;
  std::string tmp_;
  int fd_ = -1;
  bool committed_ = false;
  uint64_t size_ = 0;
};

Result<std::optional<v1::SignedEnvelope>> ExportCertificate(const AuditExportOptions& o,
                                                            BlockSource& source) {
  if (o.certificate.empty()) return source.Certificate();
  TESSERA_ASSIGN_OR_RETURN(std::string data, ReadInputFile(o.certificate));
  v1::SignedEnvelope envelope;
  if (!envelope.ParseFromString(data)) {
    return InvalidArgument(o.certificate + " is not an appliance certificate");
  }
  return std::optional<v1::SignedEnvelope>(std::move(envelope));
}

// The hash the export's first block links to: zeros for block 0, else block from - 1's.
Result<audit::Digest> PreviousHash(uint64_t from, BlockSource& source) {
  if (from == 0) return audit::Digest{};
  TESSERA_ASSIGN_OR_RETURN(std::vector<v1::AuditBlock> anchor, source.Next(1));
  if (anchor.empty() || ClaimedSequence(anchor[0]) != from - 1) {
    return NotFound("block " + std::to_string(from - 1) +
                    " is not in the database: an export from " + std::to_string(from) +
                    " links to it");
  }
  return audit::BlockHash(anchor[0].header());
}

struct ExportSummary {
  uint64_t blocks = 0;
  uint64_t events = 0;
  std::optional<uint64_t> first;
  std::optional<uint64_t> last;
  bool certificate = false;
  audit::Digest previous{};
  uint64_t bytes = 0;
  std::optional<uint64_t> counter;  // advanced to
  bool rolled_back = false;         // the counter shows an older copy: nothing written
};

// Advances the key store's monotonic counter, recording the value in the database first
// (RollbackGuard), so a copy of the database taken before this export is detected later.
// nullopt when the key store has no counter (a warning on `err`).
Result<std::optional<uint64_t>> AdvanceCounter(const AuditExportOptions& o, ExportSummary& summary,
                                               std::ostream& err) {
  hsm::OpenOptions open;
  open.allow_insecure = o.insecure_dev_keys;
  TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<hsm::KeyStore> key, hsm::OpenKeyStore(o.key_uri, open));
  TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<store::Store> db, store::Store::Open(o.db_path));
  trust::DbCounterRecord record(*db);
  trust::RollbackGuard guard(*key, record);
  TESSERA_ASSIGN_OR_RETURN(trust::RollbackVerdict verdict, guard.CheckAndAdvance());
  if (!verdict.serving_allowed()) {
    summary.rolled_back = true;
    return FailedPrecondition(verdict.explanation);
  }
  if (!verdict.advanced_to) {
    err << "tessera: audit export: warning: the counter did not advance: " << verdict.explanation
        << "\n";
  }
  return verdict.advanced_to;
}

Status WriteBlocks(const AuditExportOptions& o, BlockSource& source, AtomicFile& file,
                   ExportSummary& summary) {
  uint64_t remaining = o.limit.value_or(UINT64_MAX);
  while (remaining > 0) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(o.page_size, remaining));
    TESSERA_ASSIGN_OR_RETURN(std::vector<v1::AuditBlock> page, source.Next(want));
    if (page.empty()) break;
    for (v1::AuditBlock& block : page) {
      std::optional<uint64_t> sequence = ClaimedSequence(block);
      if (!summary.first) summary.first = sequence;
      summary.last = sequence;
      ++summary.blocks;
      summary.events += static_cast<uint64_t>(block.events_size());
      v1::AuditExport piece;
      piece.add_blocks()->Swap(&block);
      TESSERA_RETURN_IF_ERROR(file.Append(piece.SerializeAsString()));
      if (file.size() > kMaxInputBytes) {
        return ResourceExhausted(
            "the export would exceed 1 GiB (the largest file verifiers read); export a "
            "smaller range with --from and --limit");
      }
    }
    remaining -= std::min<uint64_t>(remaining, page.size());
  }
  return Status::Ok();
}

Status Export(const AuditExportOptions& o, ExportSummary& summary, std::ostream& err) {
  if (o.db_path.empty() || o.out_path.empty()) {
    return InvalidArgument("--db FILE and --out FILE are required");
  }
  if (o.page_size == 0 || o.page_size > 100'000) {
    return InvalidArgument("--page-size must be 1..100000");
  }
  // Every input is checked (the database exists and reads, the range links, the output
  // can be created) before the counter advances.
  TESSERA_ASSIGN_OR_RETURN(auto source, OpenDbSource(o.db_path, o.from, true));
  TESSERA_ASSIGN_OR_RETURN(std::optional<v1::SignedEnvelope> certificate,
                           ExportCertificate(o, *source));
  TESSERA_ASSIGN_OR_RETURN(summary.previous, PreviousHash(o.from, *source));
  AtomicFile file(o.out_path);
  TESSERA_RETURN_IF_ERROR(file.Open());
  if (!o.key_uri.empty()) {
    TESSERA_ASSIGN_OR_RETURN(summary.counter, AdvanceCounter(o, summary, err));
  } else {
    err << "tessera: audit export: warning: the monotonic counter is not advanced (no "
           "--key-uri); a copy of the database taken before this export is not detected by it\n";
  }

  v1::AuditExport header;
  header.set_format_version(1);
  header.set_previous_hash(std::string(summary.previous.begin(), summary.previous.end()));
  if (summary.counter) header.set_counter_advanced_to(*summary.counter);
  if (certificate) {
    *header.mutable_certificate() = std::move(*certificate);
    summary.certificate = true;
  } else {
    err << "tessera: audit export: warning: no appliance certificate (the database holds none "
           "and --certificate was not given); verifiers need one, or the appliance key\n";
  }
  TESSERA_RETURN_IF_ERROR(file.Append(header.SerializeAsString()));
  TESSERA_RETURN_IF_ERROR(WriteBlocks(o, *source, file, summary));
  TESSERA_RETURN_IF_ERROR(file.Commit());
  summary.bytes = file.size();
  return Status::Ok();
}

std::string Sequence(const std::optional<uint64_t>& s) {
  return s ? std::to_string(*s) : std::string("?");
}

}  // namespace

int RunAuditExport(const AuditExportOptions& o, std::ostream& out, std::ostream& err) {
  ExportSummary summary;
  Status s = Export(o, summary, err);
  if (summary.rolled_back) {
    out << "ROLLBACK: " << s.message()
        << "\nnothing exported; see docs/TRUST.md (tesserad accept-rollback, with the vendor)\n";
    return kExitVerifyFailed;
  }
  if (!s.ok()) {
    err << "tessera: audit export: error: " << s.ToString() << "\n";
    return kExitUsage;
  }
  out << "exported: " << summary.blocks << " block(s), " << summary.events << " event(s)";
  if (summary.blocks > 0) {
    out << ", sequence " << Sequence(summary.first) << ".." << Sequence(summary.last);
  }
  out << "\nprevious hash: " << HexEncode(summary.previous.data(), summary.previous.size())
      << "\ncertificate: " << (summary.certificate ? "included" : "none") << "\ncounter: "
      << (summary.counter ? "advanced to " + std::to_string(*summary.counter) : "not advanced")
      << "\nwritten: " << o.out_path << " (" << summary.bytes << " bytes; not verified: run "
      << "`tessera audit verify --export`)\n";
  return kExitOk;
}

}  // namespace tessera::cli
