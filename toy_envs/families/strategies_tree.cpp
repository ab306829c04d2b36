// Family "strategies": the first action picks one of K strategies with given
// reference masses (an easy strategy carries most mass, hard ones little); inside
// strategy k a fraction accuracy_k of the reference mass is on correct leaves.
// Binary rewards. Reward maximisation should collapse onto one strategy here,
// while p* keeps every strategy with mass ∝ m_k * accuracy_k (THEORY.md item 13).
//
// V = K: every node has K actions, the root's are the strategies.
#include <cmath>

#include <fmt/format.h>

#include "src/input_error.h"
#include "toy_envs/families/family.h"
#include "toy_envs/leaf_distribution.h"

namespace disa {

Family strategies_family() {
  return {
      "strategies",
      "K strategies (first action) with reference masses `masses` and conditional reference "
      "accuracy `accuracy` inside each; binary rewards; vocab = K.",
      {
          {"masses", "0.85,0.1,0.04,0.01", "reference mass of each strategy (K >= 2 values summing to 1)"},
          {"accuracy", "0.5", "reference accuracy inside each strategy: one value, or K values"},
          {"horizon", "4", "trajectory length T (fixed)"},
          {"temperature", "1", "temperature of the random logits below the root"},
      },
      [](const FamilyArgs& args, std::uint64_t seed) {
        const std::vector<double> masses = args.get_doubles("masses", 1e-12, 1.0);
        std::vector<double> acc = args.get_doubles("accuracy", 0.0, 1.0);
        const int horizon = args.get_int("horizon", 1, 4096);
        const double temperature = args.get_double("temperature", 1e-3, 1e3);
        const int K = static_cast<int>(masses.size());
        double total = 0.0;
        for (double m : masses) total += m;
        if (K < 2 || std::fabs(total - 1.0) > 1e-9) {
          throw InputError(fmt::format("--set masses: need at least 2 masses summing to 1, got {} summing to {}",
                                       K, total));
        }
        if (acc.size() == 1) acc.assign(K, acc[0]);
        if (static_cast<int>(acc.size()) != K) {
          throw InputError(fmt::format("--set accuracy: need 1 or {} values (one per strategy), got {}", K,
                                       acc.size()));
        }
        Tree tree = Tree::zeros(TreeShape::make(K, horizon));
        fill_random_logits(tree, temperature, seed, /*stream=*/1);
        for (int k = 0; k < K; ++k) tree.logits[k] = std::log(masses[k]);  // the root's row
        label_strategies_by_first_action(tree);
        const std::vector<double> log_p = leaf_log_probs(reference_policy(tree));
        std::vector<std::vector<std::int64_t>> by_strategy(K);
        for (std::int64_t y = 0; y < tree.shape.num_leaves(); ++y) by_strategy[tree.strategy[y]].push_back(y);
        for (int k = 0; k < K; ++k) {
          assign_correct_by_mass(tree, by_strategy[k], log_p, masses[k], acc[k], seed, /*stream=*/3 + k);
        }
        return std::vector<Tree>{std::move(tree)};
      },
  };
}

}  // namespace disa
