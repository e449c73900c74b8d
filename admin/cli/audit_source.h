// Where `tessera audit` reads blocks from: an appliance database or an AuditExport file,
// always in pages so memory stays bounded by one page (docs/ADMIN.md).
//
// A source also says where the range starts (RangeStart): what the first block it yields must
// link to. Nothing a source yields is trusted; the chain walker verifies it.
//
// Thread safety: a source is used from one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "protocol/audit/envelope.h"

namespace tessera::cli {

namespace v1 = ::tessera::v1;

// Input files above this are refused before they are read (as tessera-vendor does).
inline constexpr uintmax_t kMaxInputBytes = 1024ull * 1024 * 1024;

// Where the first block a source yields sits in the chain.
struct RangeStart {
  // The sequence the first block must claim.
  uint64_t sequence = 0;
  // The hash it must link to; nullopt: none is known, its own claim is taken (the first block
  // is then an anchor whose predecessor is not read).
  std::optional<audit::Digest> previous_hash;
  // The first block is block `--from - 1`, read only to link the range to it: it is verified
  // but neither counted nor shown.
  bool anchor = false;
};

class BlockSource {
 public:
  virtual ~BlockSource() = default;

  // The next blocks in stored order, at most `max` (>= 1); empty at the end.
  // Errors: kDataLoss for a stored block that cannot be read (a damaged database); other
  // codes when the input cannot be read at all.
  virtual Result<std::vector<v1::AuditBlock>> Next(size_t max) = 0;

  // Continues reading at the `position`-th block yielded so far (0: the first one), or
  // before it: no block after it is skipped, though some before it may come again. Used to
  // look for a missing block after a fault.
  virtual void Seek(uint64_t position) = 0;

  // The appliance certificate the input carries, if any (untrusted until verified).
  virtual Result<std::optional<v1::SignedEnvelope>> Certificate() = 0;

  // Where the range starts (fixed when the source is opened).
  virtual RangeStart Start() const = 0;

  // Human-readable name of the input for messages ("database F", "export F").
  virtual std::string Describe() const = 0;
};

// Reads a whole file of at most kMaxInputBytes. Errors: kNotFound, kResourceExhausted,
// kUnavailable.
Result<std::string> ReadInputFile(const std::string& path);

// The sequence a block's header claims, when its payload parses (not verified).
std::optional<uint64_t> ClaimedSequence(const v1::AuditBlock& block);

// An AuditExport file. With `from` > 0 the blocks before block `from - 1` are skipped and
// block `from - 1` is the anchor; without it, or when the export starts at or after `from`,
// the range starts at the export's first block and links to the export's previous_hash.
// `verify_anchor`: when false (showing without verifying), block `from - 1` is skipped too.
// Errors: as ReadInputFile; kInvalidArgument when the file is not an AuditExport.
Result<std::unique_ptr<BlockSource>> OpenExportSource(const std::string& path, uint64_t from,
                                                      bool verify_anchor);

// An appliance database written by tesserad, opened read-only (works while tesserad runs).
// With `from` > 0 and `verify_anchor`, reading starts at block `from - 1`, the anchor.
// Errors: when the database cannot be opened.
Result<std::unique_ptr<BlockSource>> OpenDbSource(const std::string& path, uint64_t from,
                                                  bool verify_anchor);

}  // namespace tessera::cli
