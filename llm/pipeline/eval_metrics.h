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
//   ngram_dispersion     mean over pairs of correct samples of 1 - Jaccard(4-gram sets of
//                        their whitespace tokens, characters for texts without spaces):
//                        0 = every correct sample says the same thing, 1 = no shared 4-gram.
//                        A strategy-level measure that needs no external judge and works on
//                        any text (math derivations, programs); NaN with < 2 correct samples.
#pragma once

#include <cstdint>
#include <map>
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
  std::string text;       // the response, for the n-gram dispersion
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
// none); the distinct counts and the share are NaN when the prompts' are.
struct MetricsSummary {
  std::int64_t prompts = 0, samples_per_prompt = 0;
  double mean_at_k = 0;
  std::map<std::int64_t, double> pass_at;
  double distinct_correct = 0;
  double distinct_strategies = 0;
  double ngram_dispersion = 0;
  double share_two_or_more_distinct = 0;  // prompts with >= 2 distinct correct solutions
};
MetricsSummary summarise(const std::vector<PromptMetrics>& prompts);

// The text's n-grams (n = 4) as hashed keys: whitespace tokens when the text has spaces,
// characters otherwise. Exposed for tests.
std::vector<std::uint64_t> ngram_keys(const std::string& text, int n = 4);
double jaccard_distance(std::vector<std::uint64_t> a, std::vector<std::uint64_t> b);

}  // namespace disa::llm::pipeline
