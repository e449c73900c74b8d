// RFC 6962 Merkle trees over audit events (docs/AUDIT.md "Hashing").
//
//   leaf hash = SHA-256(0x00 || leaf bytes)
//   node hash = SHA-256(0x01 || left || right)
//
// Any number of leaves >= 1; the tree is RFC 6962's left-balanced tree (the left subtree of
// n leaves holds the largest power of two below n), so roots and audit paths interoperate
// with Certificate Transparency tooling.
//
// Thread safety: value types and free functions.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "hsm/key_store.h"

namespace tessera::audit {

using hsm::Digest;

Digest LeafHash(std::span<const uint8_t> leaf);
Digest NodeHash(const Digest& left, const Digest& right);

// Audit path of one leaf, siblings from the leaf upwards.
struct InclusionProof {
  uint64_t leaf_index = 0;
  uint64_t tree_size = 0;
  std::vector<Digest> siblings;
};

// A whole tree kept in memory, built once from its leaves.
class MerkleTree {
 public:
  // REQUIRES: leaves is not empty.
  explicit MerkleTree(std::span<const std::string> leaves);

  const Digest& root() const { return levels_.back().front(); }
  uint64_t size() const { return levels_.front().size(); }

  // REQUIRES: index < size().
  InclusionProof Prove(uint64_t index) const;

 private:
  std::vector<std::vector<Digest>> levels_;  // levels_[0]: leaf hashes; back(): the root
};

// True when `leaf` at proof.leaf_index of a tree of proof.tree_size leaves hashes up to
// `root` along proof.siblings (RFC 9162 §2.1.3.2). False for any inconsistency, including an
// index outside the tree or a path of the wrong length.
bool VerifyInclusion(std::span<const uint8_t> leaf, const InclusionProof& proof,
                     const Digest& root);

inline std::span<const uint8_t> AsBytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// True when `bytes` (a protobuf bytes field) holds exactly `digest`.
bool SameDigest(const std::string& bytes, const Digest& digest);

}  // namespace tessera::audit
