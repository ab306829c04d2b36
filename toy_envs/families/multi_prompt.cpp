// Family "multi_prompt": P prompts, each a random tree whose reference accuracy is
// set by choosing correct leaves by mass, spread geometrically from accuracy_min
// (hard prompts) to accuracy_max (easy ones). The ground on which prompt selection
// (PACED-RL, THEORY.md item 12) is checked.
#include <cmath>

#include "toy_envs/families/family.h"
#include "toy_envs/leaf_distribution.h"

namespace disa {

Family multi_prompt_family() {
  return {
      "multi_prompt",
      "P random trees with reference accuracies spread geometrically in [accuracy_min, "
      "accuracy_max]; binary rewards.",
      {
          {"prompts", "8", "number of prompts P"},
          {"vocab", "3", "actions per node V"},
          {"horizon", "4", "maximum trajectory length T"},
          {"eos", "false", "true: action V-1 is EOS"},
          {"temperature", "1", "reference temperature"},
          {"accuracy_min", "0.02", "reference accuracy of the hardest prompt"},
          {"accuracy_max", "0.9", "reference accuracy of the easiest prompt"},
      },
      [](const FamilyArgs& args, std::uint64_t seed) {
        const int prompts = args.get_int("prompts", 1, 100000);
        const int vocab = args.get_int("vocab", 2, 1 << 16);
        const int horizon = args.get_int("horizon", 1, 4096);
        const bool eos = args.get_bool("eos");
        const double temperature = args.get_double("temperature", 1e-3, 1e3);
        const double acc_min = args.get_double("accuracy_min", 1e-9, 1.0);
        const double acc_max = args.get_double("accuracy_max", acc_min, 1.0);
        const TreeShape shape = TreeShape::make(vocab, horizon, eos ? vocab - 1 : kNoEos);
        check_set_fits_in_memory(shape, prompts);  // all P at once, before the first is built
        std::vector<Tree> trees;
        for (int p = 0; p < prompts; ++p) {
          const double t = prompts == 1 ? 0.0 : static_cast<double>(p) / (prompts - 1);
          const double target = acc_min * std::pow(acc_max / acc_min, t);
          Tree tree = Tree::zeros(shape);
          const std::uint64_t stream = 16 * static_cast<std::uint64_t>(p);
          fill_random_logits(tree, temperature, seed, stream + 1);
          label_strategies_by_first_action(tree);
          const std::vector<double> log_p = leaf_log_probs(reference_policy(tree));
          std::vector<std::int64_t> all(static_cast<std::size_t>(shape.num_leaves()));
          for (std::int64_t y = 0; y < shape.num_leaves(); ++y) all[y] = y;
          assign_correct_by_mass(tree, all, log_p, 1.0, target, seed, stream + 2);
          trees.push_back(std::move(tree));
        }
        return trees;
      },
  };
}

}  // namespace disa
