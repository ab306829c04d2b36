// Prompt selection (src/train/prompt_selection.h) and the PACED accuracy estimate inside
// the trainer (THEORY.md item 12).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <vector>

#include "src/train/prompt_selection.h"
#include "src/train/trainer.h"
#include "tests/train/fixed_trees.h"
#include "toy_envs/divergences.h"
#include "toy_envs/flows.h"

namespace disa::train {
namespace {

TEST(PromptSelection, AllTakesEveryPrompt) {
  const std::vector<double> acc(5, 0.0);
  EXPECT_EQ(select_prompts({}, 5, acc, 1, 0), (std::vector<std::size_t>{0, 1, 2, 3, 4}));
}

TEST(PromptSelection, UniformDrawsKDistinctReproducibly) {
  const PromptSelectionOptions options{PromptSelection::uniform, 3};
  const std::vector<double> acc(10, 0.0);
  std::vector<int> count(10, 0);
  const int steps = 20000;
  for (int step = 0; step < steps; ++step) {
    const auto chosen = select_prompts(options, 10, acc, 7, step);
    ASSERT_EQ(chosen.size(), 3u);
    ASSERT_EQ(std::set<std::size_t>(chosen.begin(), chosen.end()).size(), 3u);
    ASSERT_EQ(chosen, select_prompts(options, 10, acc, 7, step));  // counter-based
    for (std::size_t p : chosen) ++count[p];
  }
  // Each prompt is in a step's draw with probability 3/10: binomial mean 6000, sd 64.8;
  // 6 sd bounds give a false-alarm rate below 1e-8 per prompt.
  for (int c : count) EXPECT_NEAR(c, 6000, 6 * 64.8);
}

TEST(PromptSelection, PacedPrefersPromptsNearTheTarget) {
  // Prompt 0 sits at tau, prompt 1 three widths away: weights 1 and e^{-4.5} = 0.011.
  const PromptSelectionOptions options{PromptSelection::paced, 1, 0.5, 0.1};
  const std::vector<double> acc = {0.5, 0.8};
  int first = 0;
  const int steps = 20000;
  for (int step = 0; step < steps; ++step) first += select_prompts(options, 2, acc, 3, step).front() == 0;
  // Exponential keys: P(prompt 0 first) = w0 / (w0 + w1) = 1/(1 + e^{-4.5}) = 0.98901;
  // binomial sd over 20000 draws 14.7; 6 sd.
  EXPECT_NEAR(first, 20000 / (1 + std::exp(-4.5)), 6 * 14.7);
}

// Item 12 through the trainer: log Z_old/beta - E_pi[r] = KL(pi || p*_pi)/beta exactly,
// where p*_pi tilts the current policy (not pi_ref).
TEST(PromptSelection, PacedEstimateErrorIsTheDroppedKl) {
  for (const auto& fixed : test::fixed_trees()) {
    Trainer trainer({fixed.tree}, TrainConfig::parse({"method=disa-online", "mode=exact",
                                                      fmt::format("beta={}", fixed.beta)}));
    for (int k = 0; k < 3; ++k) trainer.step();
    const TabularPolicy& pi = trainer.policy(0);
    const double dropped = kl_divergence(pi, target_policy(fixed.tree, pi, fixed.beta)) / fixed.beta;
    EXPECT_NEAR(trainer.metrics().paced_accuracy_error, dropped, 1e-12) << fixed.name;
    EXPECT_GE(trainer.metrics().paced_accuracy_error, -1e-15) << "the estimate is biased upward";
  }
}

// Only the selected prompts' logits move in a step.
TEST(PromptSelection, AStepTrainsOnlyTheSelectedPrompts) {
  const auto trees = test::fixed_trees();
  std::vector<Tree> prompts = {trees[0].tree, trees[0].tree, trees[0].tree};
  Trainer trainer(prompts, TrainConfig::parse({"method=disa-online", "mode=exact", "prompt_selection=uniform",
                                               "prompts_per_step=1", "seed=5"}));
  const std::vector<double> acc(3, 0.0);
  const auto chosen = select_prompts({PromptSelection::uniform, 1}, 3, acc, 5, 0);
  trainer.step();
  for (std::size_t p = 0; p < 3; ++p) {
    const bool moved = trainer.policy(p).log_prob != reference_policy(prompts[p]).log_prob;
    EXPECT_EQ(moved, p == chosen.front()) << "prompt " << p;
  }
}

// Under Adam, a prompt moves only in the steps that select it: each prompt has its own
// optimiser (a shared one would carry stale first moments into the following steps).
TEST(PromptSelection, AdamMovesAPromptOnlyWhenItIsSelected) {
  const auto trees = test::fixed_trees();
  std::vector<Tree> prompts = {trees[0].tree, trees[0].tree, trees[0].tree, trees[0].tree};
  const TrainConfig config = TrainConfig::parse({"method=disa-online", "mode=exact", "optimizer=adam",
                                                 "prompt_selection=uniform", "prompts_per_step=1", "seed=9"});
  Trainer trainer(prompts, config);
  const std::vector<double> acc(4, 0.0);
  for (int step = 0; step < 12; ++step) {
    std::vector<std::vector<double>> before;
    for (std::size_t p = 0; p < 4; ++p) before.push_back(trainer.policy(p).log_prob);
    const std::size_t chosen = select_prompts(config.selection, 4, acc, 9, step).front();
    trainer.step();
    for (std::size_t p = 0; p < 4; ++p) {
      EXPECT_EQ(trainer.policy(p).log_prob != before[p], p == chosen) << "step " << step << " prompt " << p;
    }
  }
}

}  // namespace
}  // namespace disa::train
