#include "protocol/audit/merkle.h"

#include <cassert>
#include <cstring>

#include "hsm/crypto.h"

namespace tessera::audit {

Digest LeafHash(std::span<const uint8_t> leaf) {
  std::vector<uint8_t> buf;
  buf.reserve(leaf.size() + 1);
  buf.push_back(0x00);
  buf.insert(buf.end(), leaf.begin(), leaf.end());
  return hsm::Sha256(buf);
}

bool SameDigest(const std::string& bytes, const Digest& digest) {
  return bytes.size() == digest.size() &&
         std::memcmp(bytes.data(), digest.data(), digest.size()) == 0;
}

Digest NodeHash(const Digest& left, const Digest& right) {
  std::array<uint8_t, 65> buf{};
  buf[0] = 0x01;
  std::copy(left.begin(), left.end(), buf.begin() + 1);
  std::copy(right.begin(), right.end(), buf.begin() + 33);
  return hsm::Sha256(buf);
}

// Building bottom-up and promoting an unpaired last node unchanged to the next level gives
// exactly RFC 6962's left-balanced tree, and the same audit paths.
MerkleTree::MerkleTree(std::span<const std::string> leaves) {
  assert(!leaves.empty());
  std::vector<Digest> level;
  level.reserve(leaves.size());
  for (const auto& leaf : leaves) level.push_back(LeafHash(AsBytes(leaf)));
  levels_.push_back(std::move(level));
  while (levels_.back().size() > 1) {
    const auto& below = levels_.back();
    std::vector<Digest> above;
    above.reserve((below.size() + 1) / 2);
    for (size_t i = 0; i + 1 < below.size(); i += 2)
      above.push_back(NodeHash(below[i], below[i + 1]));
    if (below.size() % 2 == 1) above.push_back(below.back());
    levels_.push_back(std::move(above));
  }
}

InclusionProof MerkleTree::Prove(uint64_t index) const {
  assert(index < size());
  InclusionProof proof;
  proof.leaf_index = index;
  proof.tree_size = size();
  uint64_t i = index;
  for (size_t depth = 0; depth + 1 < levels_.size(); ++depth) {
    const auto& level = levels_[depth];
    uint64_t sibling = i ^ 1;
    if (sibling < level.size()) proof.siblings.push_back(level[sibling]);
    i /= 2;
  }
  return proof;
}

bool VerifyInclusion(std::span<const uint8_t> leaf, const InclusionProof& proof,
                     const Digest& root) {
  if (proof.leaf_index >= proof.tree_size) return false;
  uint64_t fn = proof.leaf_index;
  uint64_t sn = proof.tree_size - 1;
  Digest r = LeafHash(leaf);
  for (const Digest& p : proof.siblings) {
    if (sn == 0) return false;
    if ((fn & 1) != 0 || fn == sn) {
      r = NodeHash(p, r);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

}  // namespace tessera::audit
