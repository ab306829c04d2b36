// Held-out evaluation of a Countdown model with the seeded sampler (llm/model/sampler.h):
// for each of the first K eval-split problems, N samples at temperature 1 and one greedy
// completion, each verified exactly (countdown::verify).
//
// Reported: accuracy = mean reward over all samples (temperature 1) and over greedy
// completions; pass@k for k in {1, 2, 4, 8, ...} <= N by the unbiased estimator
// 1 - C(N-c, k) / C(N, k) with c correct of N; distinct correct signatures per problem
// among the N samples, next to the number of solutions each problem has; and the count
// of each verdict reason. Sample (problem i, j) uses row id i*N + j under `seed`, so the
// numbers do not depend on the batch size.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "llm/model/transformer.h"
#include "llm/pipeline/eval_metrics.h"
#include "llm/tasks/countdown.h"
#include "llm/tokenizer/tokenizer.h"

namespace disa::llm::pretrain {

struct EvalOptions {
  std::int64_t problems = 200;            // K
  std::int64_t samples_per_problem = 16;  // N
  std::int64_t max_new_tokens = 40;
  std::int64_t batch_size = 512;          // rows per sampler call
  std::uint64_t seed = 1234;
  std::uint64_t task_seed = 1;            // the seed the problems are drawn with
};

struct EvalReport {
  std::int64_t problems = 0, samples_per_problem = 0;
  // The held-out split is small (72 of the 560 problems at the default
  // config), so K draws repeat problems: the averages are over the K draws (unbiased for
  // the split's distribution), on this many distinct problems (up to the numbers' order).
  std::int64_t distinct_problems = 0;
  double accuracy = 0;         // temperature 1, mean reward
  double greedy_accuracy = 0;  // temperature 0
  std::map<std::int64_t, double> pass_at;  // k -> mean pass@k
  double distinct_correct_mean = 0;        // distinct correct signatures per problem (of N samples)
  double solutions_mean = 0;               // correct solutions a problem has (the ceiling)
  double problems_with_two_or_more = 0;    // share of problems with >= 2 distinct correct samples
  std::map<std::string, std::int64_t> reasons;  // verdict reason -> count (temperature 1)
  std::vector<nlohmann::ordered_json> examples;  // the first few problems' samples, for reading
};

EvalReport evaluate(TransformerImpl& model, const Tokenizer& tokenizer, const countdown::TaskConfig& task,
                    const EvalOptions& options);

nlohmann::ordered_json to_json(const EvalReport& r);

// 1 - C(n-c, k) / C(n, k), the unbiased pass@k (llm/pipeline/eval_metrics.h).
using pipeline::pass_at_k;

}  // namespace disa::llm::pretrain
