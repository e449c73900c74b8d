#include "protocol/audit/merkle.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tessera::audit {
namespace {

std::vector<std::string> Leaves(size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) out.push_back("leaf-" + std::to_string(i));
  return out;
}

// RFC 6962 MTH, written recursively as the RFC states it, to check the iterative tree.
Digest ReferenceRoot(std::span<const std::string> leaves) {
  if (leaves.size() == 1) return LeafHash(AsBytes(leaves[0]));
  size_t k = 1;
  while (k * 2 < leaves.size()) k *= 2;
  return NodeHash(ReferenceRoot(leaves.subspan(0, k)), ReferenceRoot(leaves.subspan(k)));
}

TEST(MerkleTest, LeafAndNodeHashesAreDomainSeparated) {
  Digest a = LeafHash(AsBytes(std::string("x")));
  Digest b = LeafHash(AsBytes(std::string("y")));
  std::string concat(a.begin(), a.end());
  concat.append(b.begin(), b.end());
  // A leaf whose bytes are two hashes does not collide with the node over them.
  EXPECT_NE(LeafHash(AsBytes(concat)), NodeHash(a, b));
}

TEST(MerkleTest, RootMatchesRfc6962ForSizes1To33) {
  for (size_t n = 1; n <= 33; ++n) {
    auto leaves = Leaves(n);
    EXPECT_EQ(MerkleTree(leaves).root(), ReferenceRoot(leaves)) << "size " << n;
  }
}

TEST(MerkleTest, EveryLeafProofVerifiesForSizes1To33) {
  for (size_t n = 1; n <= 33; ++n) {
    auto leaves = Leaves(n);
    MerkleTree tree(leaves);
    for (size_t i = 0; i < n; ++i) {
      InclusionProof proof = tree.Prove(i);
      EXPECT_TRUE(VerifyInclusion(AsBytes(leaves[i]), proof, tree.root()))
          << "size " << n << " leaf " << i;
    }
  }
}

TEST(MerkleTest, TamperingWithAnyPartFails) {
  for (size_t n = 1; n <= 33; ++n) {
    auto leaves = Leaves(n);
    MerkleTree tree(leaves);
    for (size_t i = 0; i < n; ++i) {
      const InclusionProof proof = tree.Prove(i);
      std::string leaf = leaves[i];
      leaf[0] ^= 0x01;
      EXPECT_FALSE(VerifyInclusion(AsBytes(leaf), proof, tree.root())) << n << "/" << i;

      Digest root = tree.root();
      root[5] ^= 0x80;
      EXPECT_FALSE(VerifyInclusion(AsBytes(leaves[i]), proof, root)) << n << "/" << i;

      for (size_t s = 0; s < proof.siblings.size(); ++s) {
        InclusionProof bad = proof;
        bad.siblings[s][31] ^= 0x01;
        EXPECT_FALSE(VerifyInclusion(AsBytes(leaves[i]), bad, tree.root()))
            << n << "/" << i << " sibling " << s;
      }
      if (n > 1) {
        InclusionProof other = proof;
        other.leaf_index = (i + 1) % n;
        EXPECT_FALSE(VerifyInclusion(AsBytes(leaves[i]), other, tree.root())) << n << "/" << i;
        InclusionProof flipped = proof;
        flipped.leaf_index ^= 1;
        if (flipped.leaf_index < n) {
          EXPECT_FALSE(VerifyInclusion(AsBytes(leaves[i]), flipped, tree.root())) << n << "/" << i;
        }
      }
    }
  }
}

TEST(MerkleTest, MalformedProofsFail) {
  auto leaves = Leaves(5);
  MerkleTree tree(leaves);
  InclusionProof proof = tree.Prove(2);
  InclusionProof outside = proof;
  outside.leaf_index = 5;
  EXPECT_FALSE(VerifyInclusion(AsBytes(leaves[2]), outside, tree.root()));
  InclusionProof longer = proof;
  longer.siblings.push_back(tree.root());
  EXPECT_FALSE(VerifyInclusion(AsBytes(leaves[2]), longer, tree.root()));
  InclusionProof shorter = proof;
  shorter.siblings.pop_back();
  EXPECT_FALSE(VerifyInclusion(AsBytes(leaves[2]), shorter, tree.root()));
  // (A size with the same shape along this path, like 8, still verifies: the size is bound
  // by the signed header's event count, which token verification compares.)
  InclusionProof resized = proof;
  resized.tree_size = 3;
  EXPECT_FALSE(VerifyInclusion(AsBytes(leaves[2]), resized, tree.root()));
  InclusionProof empty = proof;
  empty.tree_size = 0;
  EXPECT_FALSE(VerifyInclusion(AsBytes(leaves[2]), empty, tree.root()));
}

}  // namespace
}  // namespace tessera::audit
