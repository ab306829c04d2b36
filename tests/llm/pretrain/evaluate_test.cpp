#include "llm/pretrain/evaluate.h"

#include <algorithm>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "llm/model/pretrained.h"
#include "llm/pretrain/model_presets.h"
#include "llm/pretrain/trainer.h"

namespace disa::llm::pretrain {
namespace {

TEST(PassAtK, MatchesTheCombinatorialFormula) {
  EXPECT_DOUBLE_EQ(pass_at_k(16, 0, 4), 0.0);
  EXPECT_DOUBLE_EQ(pass_at_k(16, 16, 1), 1.0);
  EXPECT_DOUBLE_EQ(pass_at_k(16, 4, 1), 0.25);
  // 1 - C(12,4)/C(16,4) = 1 - 495/1820
  EXPECT_NEAR(pass_at_k(16, 4, 4), 1 - 495.0 / 1820.0, 1e-12);
  EXPECT_DOUBLE_EQ(pass_at_k(16, 13, 4), 1.0);
}

TEST(Evaluate, CountsEverySampleAndIsReproducible) {
  torch::set_num_threads(1);
  PretrainOptions o;
  o.model_size = "tiny";
  o.steps = 3;
  o.batch_size = 8;
  Trainer t(o);
  for (int i = 0; i < 3; ++i) t.train_step();
  EvalOptions e{.problems = 6, .samples_per_problem = 4, .max_new_tokens = 12, .batch_size = 5, .seed = 2};
  const EvalReport r = evaluate(*t.model(), t.tokenizer(), o.task, e);
  std::int64_t total = 0;
  for (const auto& [reason, count] : r.reasons) total += count;
  EXPECT_EQ(total, 24);
  EXPECT_GE(r.solutions_mean, 2.0);  // every problem has at least min_solutions = 2
  EXPECT_GE(r.accuracy, 0.0);
  EXPECT_LE(r.accuracy, 1.0);
  EXPECT_LE(r.distinct_correct_mean, 4.0);
  EXPECT_EQ(r.pass_at.size(), 3u);  // k = 1, 2, 4
  // Distinct problems up to the numbers' order, counted here independently.
  std::set<std::string> distinct;
  for (std::uint64_t i = 0; i < 6; ++i) {
    countdown::Problem p = countdown::generate(o.task, e.task_seed, countdown::Split::kEval, i);
    std::sort(p.numbers.begin(), p.numbers.end());
    distinct.insert(countdown::prompt_text(p));
  }
  EXPECT_EQ(r.distinct_problems, static_cast<std::int64_t>(distinct.size()));
  EXPECT_EQ(to_json(r)["distinct_problems"], r.distinct_problems);
  e.batch_size = 24;  // a batch size other than 5 changes nothing
  const EvalReport again = evaluate(*t.model(), t.tokenizer(), o.task, e);
  EXPECT_EQ(to_json(r).dump(), to_json(again).dump());
}

}  // namespace
}  // namespace disa::llm::pretrain
