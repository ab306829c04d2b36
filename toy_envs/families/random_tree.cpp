// Family "random": Gaussian reference logits at a temperature, binary or graded
// rewards, optional EOS (the last action), strategies labelled by first action.
#include <cmath>

#include "src/counter_rng.h"
#include "toy_envs/families/family.h"
#include "toy_envs/tree_passes.h"

namespace disa {

Family random_family() {
  return {
      "random",
      "Random reference logits N(0,1)/temperature; rewards binary (each leaf correct with "
      "probability correct_fraction) or graded (uniform in [0,1]).",
      {
          {"vocab", "3", "actions per node V (with EOS, one of them ends the trajectory)"},
          {"horizon", "4", "maximum trajectory length T"},
          {"eos", "false", "true: action V-1 is EOS (variable-length trajectories)"},
          {"temperature", "1", "reference temperature: logits are N(0,1)/temperature"},
          {"reward", "binary", "binary or graded"},
          {"correct_fraction", "0.3", "binary rewards: probability that a leaf is correct"},
      },
      [](const FamilyArgs& args, std::uint64_t seed) {
        const int vocab = args.get_int("vocab", 2, 1 << 16);
        const int horizon = args.get_int("horizon", 1, 4096);
        const bool eos = args.get_bool("eos");
        const double temperature = args.get_double("temperature", 1e-3, 1e3);
        const bool binary = args.get_choice("reward", {"binary", "graded"}) == "binary";
        const double p_correct = args.get_double("correct_fraction", 0.0, 1.0);
        if (!binary) args.refuse_given("correct_fraction", "binary rewards only; reward=graded draws uniform rewards");
        Tree tree = Tree::zeros(TreeShape::make(vocab, horizon, eos ? vocab - 1 : kNoEos));
        fill_random_logits(tree, temperature, seed, /*stream=*/1);
        const CounterRng rng(seed, /*stream=*/2);
        const std::int64_t n = tree.shape.num_leaves();
#pragma omp parallel for schedule(static) if (n >= kMinParallelWork)
        for (std::int64_t y = 0; y < n; ++y) {
          const double u = rng.uniform(static_cast<std::uint64_t>(y));
          tree.reward[y] = binary ? (u < p_correct ? 1.0 : 0.0) : u;
        }
        label_strategies_by_first_action(tree);
        return std::vector<Tree>{std::move(tree)};
      },
  };
}

}  // namespace disa
