// Verifies an audit chain read in pages (docs/ADMIN.md "Large databases").
//
// Each page goes through audit::VerifyChain, preceded by the last good block of the previous
// page: that block verifies again and every check across the page boundary (link, sequence,
// monotonic counter, trusted time) is made by the library exactly as within a page. Memory:
// one page and one block.
//
// Thread safety: use from one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "admin/cli/audit_source.h"
#include "base/encoding.h"
#include "protocol/audit/audit_error.h"
#include "protocol/audit/chain.h"

namespace tessera::cli {

// The first bad block.
struct WalkFault {
  uint64_t position = 0;  // among the blocks read, from 0 (the anchor, if any, is 0)
  uint64_t sequence = 0;  // the sequence the bad block claims (or the one expected there)
  uint64_t expected = 0;  // the sequence expected at that position
  audit::AuditError error = audit::AuditError::kMalformed;
  std::string message;  // "audit.<tag>: detail"

  // "block 3 (position 2): audit.sequence_gap: expected sequence 2".
  std::string ToString() const;
};

// Which blocks of a page verified and are part of the range (the anchor is not).
struct VerifiedBlocks {
  size_t begin = 0;
  size_t end = 0;
};

class ChainWalker {
 public:
  // REQUIRES: `appliance_spki` is a P-256 DER SubjectPublicKeyInfo.
  ChainWalker(Bytes appliance_spki, RangeStart start);

  // Verifies the next page of blocks, in stored order, continuing after the previous page.
  // Returns the blocks of `page` that verified and belong to the range; after a fault nothing
  // more verifies. `page` is left as given.
  VerifiedBlocks Verify(std::vector<v1::AuditBlock>& page);

  // A fault reported elsewhere (a block the source could not read) ends the walk.
  void Fail(audit::AuditError error, const std::string& detail);

  // After a kSequenceGap fault: when `later` (blocks read after the fault's page) holds the
  // expected block, the blocks are present but reordered: the fault becomes kOutOfOrder.
  void ReclassifyGap(std::span<const v1::AuditBlock> later);

  const std::optional<WalkFault>& fault() const { return fault_; }
  // Blocks and events of the range that verified (the anchor excluded).
  uint64_t blocks() const { return blocks_; }
  uint64_t events() const { return events_; }
  // The sequence of the range's first block and the one after the last good block.
  uint64_t first_sequence() const;
  uint64_t next_sequence() const { return tip_.next_sequence; }
  // Hash of the last good block (what the next block, or a later export, links to).
  const audit::Digest& last_hash() const { return tip_.previous_hash; }
  bool anchored() const { return start_.anchor; }
  // True once a fault ended the walk and a gap could still turn out to be a reordering.
  bool gap_pending() const;

 private:
  void Count(const std::vector<v1::AuditBlock>& page, size_t from, size_t to);

  Bytes spki_;
  RangeStart start_;
  bool first_page_ = true;
  std::optional<v1::AuditBlock> last_;  // last good block of the previous page
  audit::ChainStart last_start_;        // what it links to
  uint64_t position_ = 0;               // blocks read before the current page
  audit::ChainTip tip_;
  uint64_t blocks_ = 0;
  uint64_t events_ = 0;
  std::optional<WalkFault> fault_;
};

}  // namespace tessera::cli
