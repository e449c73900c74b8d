#include "admin/cli/audit_commands.h"

#include <functional>
#include <utility>
#include <vector>

#include "admin/cli/audit_format.h"
#include "admin/cli/audit_source.h"
#include "admin/cli/chain_walker.h"
#include "protocol/audit/audit_error.h"

namespace tessera::cli {
namespace {

int Usage(std::ostream& err, const std::string& command, const Status& s) {
  err << "tessera: audit " << command << ": error: " << s.ToString() << "\n";
  return kExitUsage;
}

Status CheckInput(const AuditInput& input) {
  if (input.db_path.empty() == input.export_path.empty()) {
    return InvalidArgument("give exactly one of --db FILE and --export FILE");
  }
  return Status::Ok();
}

Status CheckPageSize(size_t page_size) {
  if (page_size == 0 || page_size > 100'000) {
    return InvalidArgument("--page-size must be 1..100000");
  }
  return Status::Ok();
}

Result<std::unique_ptr<BlockSource>> OpenSource(const AuditInput& input, uint64_t from,
                                                bool verify_anchor) {
  if (!input.db_path.empty()) return OpenDbSource(input.db_path, from, verify_anchor);
  return OpenExportSource(input.export_path, from, verify_anchor);
}

// Called with each page and the part of it that verified; false stops the walk.
using PageFn = std::function<bool(const std::vector<v1::AuditBlock>&, VerifiedBlocks)>;

// Reads `source` page by page through `walker` until the end, a fault, or `on_page` says
// stop. A block the source cannot read (kDataLoss) is a fault at its position; other read
// errors are returned. After a gap the rest is scanned for the missing block (a reordering across
// pages).
Status Walk(BlockSource& source, ChainWalker& walker, size_t page_size, const PageFn& on_page) {
  for (;;) {
    Result<std::vector<v1::AuditBlock>> page = source.Next(page_size);
    if (!page.ok()) {
      if (page.status().code() != StatusCode::kDataLoss) return page.status();
      if (page_size > 1) {
        // Block by block from here, so the blocks before the unreadable one verify and the
        // fault names its position.
        page_size = 1;
        continue;
      }
      walker.Fail(audit::AuditError::kMalformed, page.status().message());
      break;
    }
    if (page->empty()) break;
    VerifiedBlocks verified = walker.Verify(*page);
    if (on_page && !on_page(*page, verified)) break;
    if (walker.fault()) break;
  }
  if (walker.gap_pending()) source.Seek(walker.fault()->position + 1);
  while (walker.gap_pending()) {
    Result<std::vector<v1::AuditBlock>> page = source.Next(page_size);
    if (!page.ok() || page->empty()) break;
    walker.ReclassifyGap(*page);
  }
  return Status::Ok();
}

// The input and the appliance key, both ready.
struct Prepared {
  std::unique_ptr<BlockSource> source;
  Trust trust;
};

Result<Prepared> Prepare(const AuditInput& input, const TrustFlags& flags, uint64_t from,
                         size_t page_size) {
  TESSERA_RETURN_IF_ERROR(CheckInput(input));
  TESSERA_RETURN_IF_ERROR(CheckTrustFlags(flags));
  TESSERA_RETURN_IF_ERROR(CheckPageSize(page_size));
  Prepared p;
  TESSERA_ASSIGN_OR_RETURN(p.source, OpenSource(input, from, true));
  TESSERA_ASSIGN_OR_RETURN(p.trust, ResolveTrust(flags, *p.source));
  return p;
}

// The exit code for a failed Prepare: a certificate that does not verify is a verification
// failure; anything else is usage or unreadable input.
int PrepareFailed(const Status& s, const std::string& command, std::ostream& report,
                  std::ostream& err) {
  if (!audit::AuditErrorOf(s)) return Usage(err, command, s);
  report << "FAILED: certificate: " << s.message() << "\n";
  return kExitVerifyFailed;
}

void PrintFault(const ChainWalker& walker, std::ostream& report) {
  report << "FAILED: " << walker.fault()->ToString() << "\n"
         << "  " << walker.blocks() << " block(s) before it verified\n";
}

std::string Range(const ChainWalker& walker) {
  std::string out = std::to_string(walker.blocks()) + " block(s), " +
                    std::to_string(walker.events()) + " event(s)";
  if (walker.blocks() > 0) {
    out += ", sequence " + std::to_string(walker.first_sequence()) + ".." +
           std::to_string(walker.next_sequence() - 1);
  }
  return out;
}

void PrintOk(const ChainWalker& walker, const Trust& trust, const BlockSource& source,
             std::ostream& out) {
  out << "OK: " << Range(walker) << "\n";
  if (walker.blocks() == 0) {
    out << "  no audit blocks at or after sequence " << walker.first_sequence() << " in the "
        << source.Describe() << "\n";
  }
  out << "appliance: " << trust.appliance_id << "\n"
      << "trust: " << trust.description << "\n";
  if (walker.anchored() && walker.next_sequence() >= walker.first_sequence()) {
    out << "linked to: block " << walker.first_sequence() - 1 << " (verified, not counted)\n";
  }
  const audit::Digest& last = walker.last_hash();
  out << "last block hash: " << HexEncode(last.data(), last.size()) << "\n";
}

// Prints the events of blocks [begin, end) of `page`; counts them against the limit.
class EventPrinter {
 public:
  EventPrinter(const AuditShowOptions& o, std::ostream& out, std::ostream& err)
      : options_(o), out_(out), err_(err) {}

  // False once the limit is reached.
  bool Print(const std::vector<v1::AuditBlock>& page, size_t begin, size_t end) {
    for (size_t b = begin; b < end; ++b) {
      std::optional<uint64_t> sequence = ClaimedSequence(page[b]);
      if (!sequence) {
        err_ << "tessera: audit show: warning: a block header does not parse; its events are "
                "not shown\n";
        continue;
      }
      for (int i = 0; i < page[b].events_size(); ++i) {
        if (options_.limit && shown_ >= *options_.limit) return false;
        PrintEvent(page[b].events(i), {*sequence, static_cast<uint64_t>(i)});
        ++shown_;
      }
    }
    return !(options_.limit && shown_ >= *options_.limit);
  }

 private:
  void PrintEvent(const std::string& leaf, const EventPlace& place) {
    v1::AuditEvent event;
    if (!event.ParseFromString(leaf)) {
      out_ << (options_.json ? FormatUnreadableJson(place, leaf.size())
                             : FormatUnreadableText(place, leaf.size()))
           << "\n";
      return;
    }
    out_ << (options_.json ? FormatEventJson(event, place) : FormatEventText(event, place)) << "\n";
  }

  const AuditShowOptions& options_;
  std::ostream& out_;
  std::ostream& err_;
  uint64_t shown_ = 0;
};

int ShowUnverified(const AuditShowOptions& o, std::ostream& out, std::ostream& err) {
  Result<std::unique_ptr<BlockSource>> source = OpenSource(o.input, o.from, false);
  if (!source.ok()) return Usage(err, "show", source.status());
  EventPrinter printer(o, out, err);
  for (;;) {
    Result<std::vector<v1::AuditBlock>> page = (*source)->Next(o.page_size);
    if (!page.ok()) return Usage(err, "show", page.status());
    if (page->empty() || !printer.Print(*page, 0, page->size())) break;
  }
  return kExitOk;
}

int ShowVerified(const AuditShowOptions& o, std::ostream& out, std::ostream& err) {
  Result<Prepared> p = Prepare(o.input, o.trust, o.from, o.page_size);
  if (!p.ok()) return PrepareFailed(p.status(), "show", err, err);
  ChainWalker walker(p->trust.appliance_spki, p->source->Start());
  EventPrinter printer(o, out, err);
  Status walked = Walk(*p->source, walker, o.page_size,
                       [&](const std::vector<v1::AuditBlock>& page, VerifiedBlocks v) {
                         return printer.Print(page, v.begin, v.end);
                       });
  if (!walked.ok()) return Usage(err, "show", walked);
  if (walker.fault()) {
    PrintFault(walker, err);
    return kExitVerifyFailed;
  }
  err << "verified: " << Range(walker) << "\n";
  return kExitOk;
}

}  // namespace

int RunAuditVerify(const AuditVerifyOptions& o, std::ostream& out, std::ostream& err) {
  Result<Prepared> p = Prepare(o.input, o.trust, o.from, o.page_size);
  if (!p.ok()) return PrepareFailed(p.status(), "verify", out, err);
  ChainWalker walker(p->trust.appliance_spki, p->source->Start());
  Status walked = Walk(*p->source, walker, o.page_size, nullptr);
  if (!walked.ok()) return Usage(err, "verify", walked);
  if (walker.fault()) {
    PrintFault(walker, out);
    return kExitVerifyFailed;
  }
  PrintOk(walker, p->trust, *p->source, out);
  return kExitOk;
}

int RunAuditShow(const AuditShowOptions& o, std::ostream& out, std::ostream& err) {
  Status usage = CheckInput(o.input);
  if (usage.ok()) usage = CheckPageSize(o.page_size);
  if (usage.ok() && !o.verify && o.trust.given()) {
    usage = InvalidArgument("a trust option is used only with --verify");
  }
  if (!usage.ok()) return Usage(err, "show", usage);
  return o.verify ? ShowVerified(o, out, err) : ShowUnverified(o, out, err);
}

}  // namespace tessera::cli
