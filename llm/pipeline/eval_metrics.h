// Per-prompt evaluation metrics from k verified samples, and their averages.
//
//   Mean@k   mean reward of the k samples (the accuracy a user sees per sample)
//   pass@j   1 - C(k-c, j) / C(k, j) for j <= k, c correct of k: the chance that j of the
//            k samples (drawn without replacement) include a correct one. Unbiased for
//            the pass@j of the model (Chen et al. 2021). Computed in the stable product
//            form 1 - prod_{i=k-c+1}^{k} (1 - j/i): no binomial coefficient overflows.
//   distinct_correct     distinct solution signatures among the correct samples (NaN for a
//                        task without signatures: math; llm/pipeline/prompt_task.h)
//   distinct_strategies  distinct derivation keys among the correct samples (NaN for a
//                        task without them: math, code)
//   ngram_dispersion     mean over pairs of correct samples of 1 - Jaccard(sets of 4-grams
//                        of their token ids, the model's own tokenizer's): 0 = every correct
//                        sample says the same thing, 1 = no shared 4-gram. One unit for every
//                        text and task (whitespace words would make a Countdown expression
//                        one word, and mixing units per text made "answer is 6" and
//                        "the answer is 6" share nothing); the unit of distinct-n (Li et al.
//                        2016). A measure that needs no external judge and works on any text
//                        (derivations, programs); NaN with < 2 correct samples. Comparable
//                        between models of one tokenizer only. Each model's average is over
//                        the prompts where it has >= 2 correct samples, a set that differs
//                        between models: per_prompt.csv has the rows for a paired comparison.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace disa::llm::pipeline {

double pass_at_k(std::int64_t n, std::int64_t c, std::int64_t k);

// Which diversity keys a task's verdicts carry (llm/pipeline/prompt_task.h): Countdown both,
// code a signature only, math neither.
struct DiversityKeys {
  bool signature = false, strategy = false;
};
// For a task spec as make_task takes it (a ":rl" suffix allowed); unknown specs throw.
DiversityKeys diversity_keys(std::string_view spec);

struct SampleOutcome {
  double reward = 0;
  std::string signature;  // empty unless correct
  std::string strategy;   // empty unless correct, or when the task has none
  std::vector<std::int32_t> tokens;  // the response's token ids (no stop token), for the n-gram dispersion
};

struct PromptMetrics {
  std::int64_t samples = 0, correct = 0;
  double mean_reward = 0;
  std::map<std::int64_t, double> pass_at;  // j -> pass@j, j = 1, 2, 4, ... <= samples, and j = samples
  double distinct_correct = 0;             // counts, or NaN where the task has no such key
  double distinct_strategies = 0;
  double ngram_dispersion = 0;             // NaN with fewer than 2 correct samples
};

// Throws InputError on an empty sample list. `keys`: which of the samples' signature and
// strategy the task defines (prompt_task.h: diversity_keys).
PromptMetrics prompt_metrics(const std::vector<SampleOutcome>& samples, DiversityKeys keys = {true, true});

// Averages over prompts; ngram_dispersion over the prompts where it is defined (NaN if
// none); the distinct counts and the share are NaN when the prompts' are; every average is
// NaN over no prompts. Throws InputError when the prompts' sample counts differ (pass@j
// and Mean@k would then mix estimates at different k).
struct MetricsSummary {
  std::int64_t prompts = 0, samples_per_prompt = 0;
  double mean_at_k = 0;
  std::map<std::int64_t, double> pass_at;
  double distinct_correct = 0;
  double distinct_strategies = 0;
  double ngram_dispersion = 0;
  double share_two_or_more_distinct = 0;  // prompts with >= 2 distinct correct solutions
  // Prompts admitting several right answers that are compared with the one stored
  // (PromptTask::judged_by_one_stored_answer): set by the eval stage, not by summarise.
  std::int64_t prompts_judged_by_one_stored_answer = 0;
};
MetricsSummary summarise(const std::vector<PromptMetrics>& prompts);

// The token sequence's n-grams (n = 4) as hashed keys; a sequence shorter than n is one
// n-gram of what it has (so two short responses still compare), an empty one has none.
// Exposed for tests.
std::vector<std::uint64_t> ngram_keys(std::span<const std::int32_t> tokens, int n = 4);
double jaccard_distance(std::vector<std::uint64_t> a, std::vector<std::uint64_t> b);

}  // namespace disa::llm::pipeline
