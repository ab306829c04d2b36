// The trees the src/train tests run on: small enough to enumerate and to difference
// every logit, fixed seeds so that every run sees the same numbers. They span fixed
// length and EOS (rows of mixed length in one batch), binary and graded rewards,
// V = 2 and T = 1 edge cases, and beta from 0.7 to 4.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "toy_envs/families/family.h"
#include "toy_envs/flows.h"
#include "toy_envs/proposals.h"
#include "toy_envs/tree.h"

namespace disa::test {

struct FixedTree {
  std::string name;
  Tree tree;
  double beta;
};

inline std::vector<FixedTree> fixed_trees() {
  struct Spec {
    std::map<std::string, std::string> params;
    std::uint64_t seed;
    double beta;
  };
  const std::vector<Spec> specs{
      {{{"vocab", "3"}, {"horizon", "3"}}, 11, 1.0},
      {{{"vocab", "3"}, {"horizon", "4"}, {"eos", "true"}, {"reward", "graded"}}, 12, 2.5},
      {{{"vocab", "2"}, {"horizon", "1"}, {"correct_fraction", "0.5"}}, 13, 0.7},
      {{{"vocab", "4"}, {"horizon", "2"}, {"eos", "true"}}, 14, 4.0},
  };
  std::vector<FixedTree> out;
  for (const Spec& s : specs) {
    Tree tree = make_trees("random", s.params, s.seed).front();
    out.push_back({tree.shape.describe(), std::move(tree), s.beta});
  }
  return out;
}

// A policy unrelated to the tree's reference (its own N(0, 1) logits), as a trained
// policy would be somewhere along the way.
inline std::vector<double> random_logits(const TreeShape& shape, std::uint64_t seed) {
  Tree other = Tree::zeros(shape);
  fill_random_logits(other, /*temperature=*/1.0, seed, /*stream=*/7);
  return other.logits;
}

}  // namespace disa::test
