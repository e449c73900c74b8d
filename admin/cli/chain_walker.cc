#include "admin/cli/chain_walker.h"

#include <algorithm>
#include <utility>

namespace tessera::cli {
namespace {

// The previous hash a block claims (zeros when its header does not parse: the verifier then
// reports the header itself).
audit::Digest ClaimedPreviousHash(const v1::AuditBlock& block) {
  audit::Digest out{};
  v1::BlockHeader header;
  if (header.ParseFromString(block.header().payload()) &&
      header.previous_hash().size() == out.size()) {
    std::copy(header.previous_hash().begin(), header.previous_hash().end(), out.begin());
  }
  return out;
}

// The library names the block by its place in the page; the walker names it by its place in
// the whole range, so the library's "block S (position i): " prefix is dropped.
std::string WithoutBlockPrefix(const std::string& message) {
  const size_t end = message.find("): ");
  if (message.rfind("block ", 0) == 0 && end != std::string::npos) {
    return message.substr(end + 3);
  }
  return message;
}

}  // namespace

std::string WalkFault::ToString() const {
  return "block " + std::to_string(sequence) + " (position " + std::to_string(position) +
         "): " + message;
}

ChainWalker::ChainWalker(Bytes appliance_spki, RangeStart start)
    : spki_(std::move(appliance_spki)), start_(start) {
  tip_.next_sequence = start.sequence;
  if (start.previous_hash) tip_.previous_hash = *start.previous_hash;
}

uint64_t ChainWalker::first_sequence() const { return start_.sequence + (start_.anchor ? 1 : 0); }

bool ChainWalker::gap_pending() const {
  return fault_ && fault_->error == audit::AuditError::kSequenceGap;
}

void ChainWalker::Count(const std::vector<v1::AuditBlock>& page, size_t from, size_t to) {
  for (size_t i = from; i < to; ++i) {
    ++blocks_;
    events_ += static_cast<uint64_t>(page[i].events_size());
  }
}

VerifiedBlocks ChainWalker::Verify(std::vector<v1::AuditBlock>& page) {
  if (fault_ || page.empty()) return {};
  const size_t skip = last_ ? 1 : 0;
  audit::ChainStart start;
  if (last_) {
    page.insert(page.begin(), std::move(*last_));
    last_.reset();
    start = last_start_;
  } else {
    start.sequence = start_.sequence;
    start.previous_hash = start_.previous_hash.value_or(ClaimedPreviousHash(page.front()));
  }
  const audit::ChainVerdict verdict = audit::VerifyChain(page, spki_, start);
  const size_t good = static_cast<size_t>(verdict.blocks);
  const size_t begin = (first_page_ && start_.anchor) ? 1 : skip;
  Count(page, begin, std::max(begin, good));
  if (verdict.fault) {
    const audit::ChainFault& f = *verdict.fault;
    fault_ = WalkFault{.position = position_ + f.index - skip,
                       .sequence = f.sequence,
                       .expected = verdict.tip.next_sequence,
                       .error = f.error,
                       .message = WithoutBlockPrefix(f.status.message())};
  } else {
    // The last block verifies again at the head of the next page.
    last_start_.sequence = verdict.tip.next_sequence - 1;
    last_start_.previous_hash =
        good >= 2 ? audit::BlockHash(page[good - 2].header()) : start.previous_hash;
    last_ = page[good - 1];
  }
  tip_ = verdict.tip;
  position_ += page.size() - skip;
  first_page_ = false;
  if (skip > 0) page.erase(page.begin());
  if (good <= begin) return {};
  return {begin - skip, good - skip};
}

void ChainWalker::Fail(audit::AuditError error, const std::string& detail) {
  if (fault_) return;
  fault_ = WalkFault{.position = position_,
                     .sequence = tip_.next_sequence,
                     .expected = tip_.next_sequence,
                     .error = error,
                     .message = audit::MakeAuditError(error, detail).message()};
}

void ChainWalker::ReclassifyGap(std::span<const v1::AuditBlock> later) {
  if (!gap_pending()) return;
  for (const v1::AuditBlock& block : later) {
    if (ClaimedSequence(block) == fault_->expected) {
      fault_->error = audit::AuditError::kOutOfOrder;
      fault_->message =
          audit::MakeAuditError(audit::AuditError::kOutOfOrder,
                                "expected sequence " + std::to_string(fault_->expected) +
                                    ", which comes later in the range")
              .message();
      return;
    }
  }
}

}  // namespace tessera::cli
