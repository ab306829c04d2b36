// Tests check_09's random starts (theory_checks/training_checks.h envelope_start_rng): the
// noise added to pi_ref's logits has a key of its own. check_09's trees come from the random
// family at seed 1 (logits from CounterRng(1, 1), rewards from CounterRng(1, 2)), and the
// starts used to read CounterRng(--seed, start): at the default --seed 1, start 1's noise was
// exactly pi_ref's logits (theta = 2 x the reference logits) and start 2's uniforms were the
// ones that had decided the rewards.
#include <cmath>
#include <cstdint>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "src/counter_rng.h"
#include "theory_checks/training_checks.h"
#include "toy_envs/families/family.h"
#include "toy_envs/sampler.h"

namespace disa::theory {
namespace {

// No uniform of a start's stream equals one of the families' streams 0..255 or of the
// sampler's trajectories 0..255 (first 32 draws each). 2 x 16384 family and sampler uniforms
// against 1024 start uniforms per seed on a 2^53 grid: an accidental equality has
// probability ~4e-9.
TEST(EnvelopeStarts, ShareNoUniformWithTheFamiliesOrTheSampler) {
  for (const std::uint64_t seed : {1ull, 2ull, 12345ull}) {
    std::set<double> others;
    for (std::uint64_t stream = 0; stream < 256; ++stream) {
      for (std::uint64_t k = 0; k < 32; ++k) {
        for (const CounterRng& rng : {CounterRng(seed, stream), trajectory_rng(seed, stream)}) {
          const auto pair = rng.uniform_pair(k);
          others.insert(pair[0]);
          others.insert(pair[1]);
        }
      }
    }
    for (std::uint64_t start = 1; start <= 16; ++start) {
      const CounterRng rng = envelope_start_rng(seed, start);
      for (std::uint64_t k = 0; k < 32; ++k) {
        const auto pair = rng.uniform_pair(k);
        EXPECT_EQ(others.count(pair[0]) + others.count(pair[1]), 0u) << "seed " << seed << " start " << start;
      }
    }
  }
}

// On check_09's fixed-length tree at --seed 1: start 1's noise is not pi_ref's logits (it
// was, to the last bit), and its correlation with them is that of independent draws.
// 39 logits: |corr| of independent N(0,1) vectors has sd 1/sqrt(39) = 0.16; 0.8 is 5 sd.
TEST(EnvelopeStarts, StartNoiseIsIndependentOfTheTreesLogits) {
  const Tree tree = make_trees("random", {{"vocab", "3"}, {"horizon", "3"}, {"correct_fraction", "0.3"}}, 1).front();
  for (std::uint64_t start = 1; start <= 3; ++start) {
    const CounterRng rng = envelope_start_rng(1, start);
    double dot = 0, nz = 0, nl = 0;
    int equal = 0;
    for (std::size_t j = 0; j < tree.logits.size(); ++j) {
      const double z = rng.normal(j);
      equal += z == tree.logits[j];
      dot += z * tree.logits[j];
      nz += z * z;
      nl += tree.logits[j] * tree.logits[j];
    }
    EXPECT_EQ(equal, 0) << "start " << start;
    EXPECT_LT(std::fabs(dot / std::sqrt(nz * nl)), 0.8) << "start " << start;
  }
}

}  // namespace
}  // namespace disa::theory
