#include "llm/pretrain/training_batch.h"

#include <cmath>

#include <gtest/gtest.h>

#include "llm/pretrain/model_presets.h"

namespace disa::llm::pretrain {
namespace {

TEST(TrainingBatch, LabelsCoverTheCompletionAndEosOnly) {
  const CharTokenizer tok = countdown_tokenizer();
  const countdown::TaskConfig task;
  std::vector<Example> examples;
  for (std::uint64_t i = 0; i < 6; ++i) examples.push_back(training_example(task, 1, i));
  const TokenBatch b = make_batch(tok, examples);
  ASSERT_EQ(b.input_ids.size(0), 6);
  std::int64_t expected_labels = 0;
  for (std::size_t r = 0; r < examples.size(); ++r) {
    const auto& e = examples[r];
    const auto n_prompt = static_cast<std::int64_t>(e.prompt.size()), n_completion = static_cast<std::int64_t>(e.completion.size());
    expected_labels += n_completion + 1;
    EXPECT_EQ(b.attention_mask[r].sum().item<std::int64_t>(), n_prompt + n_completion + 1);
    // The first label sits on the prompt's last character and predicts the completion's first.
    EXPECT_EQ(b.labels[r][n_prompt - 2].item<std::int64_t>(), -100);
    EXPECT_EQ(b.labels[r][n_prompt - 1].item<std::int64_t>(), *tok.token_to_id(e.completion.substr(0, 1)));
    EXPECT_EQ(b.labels[r][n_prompt + n_completion - 1].item<std::int64_t>(), *tok.special_ids().eos);
    EXPECT_EQ(b.labels[r][n_prompt + n_completion].item<std::int64_t>(), -100);
    const std::vector<std::int32_t> ids(b.input_ids[r].data_ptr<std::int64_t>(),
                                        b.input_ids[r].data_ptr<std::int64_t>() + n_prompt + n_completion);
    EXPECT_EQ(tok.decode(ids), e.prompt + e.completion);
  }
  EXPECT_EQ(b.completion_tokens, expected_labels);
  EXPECT_EQ((b.labels != -100).sum().item<std::int64_t>(), expected_labels);
}

// The completion is drawn uniformly among all correct solutions: the share of examples
// whose completion is the problem's first solution (by signature) should be
// mean(1/solutions). Fixed seed; tolerance 5 binomial standard deviations (false-alarm
// rate < 1e-6 if the draw is uniform).
TEST(TrainingBatch, CompletionIsUniformOverAllCorrectSolutions) {
  const countdown::TaskConfig task;
  const int n = 3000;
  double expected = 0, variance = 0, hits = 0;
  std::size_t most_solutions = 0;
  for (int i = 0; i < n; ++i) {
    const Example e = training_example(task, 2, static_cast<std::uint64_t>(i));
    const auto solutions = countdown::solve(e.problem);
    ASSERT_EQ(countdown::verify(e.problem, e.completion).reward, 1) << e.prompt << e.completion;
    ASSERT_EQ(solutions.size(), e.solutions);
    const double p = 1.0 / static_cast<double>(solutions.size());
    expected += p;
    variance += p * (1 - p);
    hits += e.completion == solutions.front().expression ? 1 : 0;
    most_solutions = std::max(most_solutions, solutions.size());
  }
  EXPECT_LT(std::abs(hits - expected), 5 * std::sqrt(variance)) << hits << " vs " << expected;
  EXPECT_GE(most_solutions, 3u);
  // Deterministic: the same index gives the same example.
  EXPECT_EQ(training_example(task, 2, 17).completion, training_example(task, 2, 17).completion);
}

}  // namespace
}  // namespace disa::llm::pretrain
