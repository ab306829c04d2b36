#include "llm/pipeline/eval_metrics.h"

#include <algorithm>
#include <iterator>
#include <cmath>
#include <limits>
#include <set>
#include <span>
#include <string_view>

#include <fmt/format.h>

#include "llm/verify/code_benchmarks.h"
#include "llm/verify/math_benchmarks.h"
#include "src/input_error.h"

namespace disa::llm::pipeline {

double pass_at_k(std::int64_t n, std::int64_t c, std::int64_t k) {
  if (n <= 0 || c < 0 || c > n || k <= 0 || k > n) {
    throw InputError("pass_at_k: need 0 <= c <= n and 1 <= k <= n, got n = " + std::to_string(n) +
                     ", c = " + std::to_string(c) + ", k = " + std::to_string(k));
  }
  if (n - c < k) return 1.0;
  double fail = 1.0;
  for (std::int64_t i = n - c + 1; i <= n; ++i) fail *= 1.0 - static_cast<double>(k) / static_cast<double>(i);
  return 1.0 - fail;
}

std::vector<std::uint64_t> ngram_keys(std::span<const std::int32_t> tokens, int n) {
  if (n <= 0) throw InputError(fmt::format("ngram_keys: n = {} must be positive", n));
  std::vector<std::uint64_t> keys;
  const std::size_t width = std::min<std::size_t>(static_cast<std::size_t>(n), tokens.size());
  for (std::size_t start = 0; width > 0 && start + width <= tokens.size(); ++start) {
    // FNV-1a over the ids' four bytes each, seeded with the width: a short response's
    // one gram is not keyed as the 4-gram it starts.
    std::uint64_t h = 1469598103934665603ull ^ width;
    for (std::size_t t = start; t < start + width; ++t) {
      const auto id = static_cast<std::uint32_t>(tokens[t]);
      for (int byte = 0; byte < 4; ++byte) h = (h ^ ((id >> (8 * byte)) & 0xffu)) * 1099511628211ull;
    }
    keys.push_back(h);
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

double jaccard_distance(std::vector<std::uint64_t> a, std::vector<std::uint64_t> b) {
  std::sort(a.begin(), a.end());
  a.erase(std::unique(a.begin(), a.end()), a.end());
  std::sort(b.begin(), b.end());
  b.erase(std::unique(b.begin(), b.end()), b.end());
  if (a.empty() && b.empty()) return 0.0;
  std::vector<std::uint64_t> shared;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(shared));
  const double intersection = static_cast<double>(shared.size());
  return 1.0 - intersection / (static_cast<double>(a.size() + b.size()) - intersection);
}

DiversityKeys diversity_keys(std::string_view spec) {
  if (spec.size() >= 3 && spec.substr(spec.size() - 3) == ":rl") spec.remove_suffix(3);
  if (spec == "countdown") return {true, true};
  if (verify::parse_benchmark(spec)) return {false, false};
  if (verify::parse_code_benchmark(spec)) return {true, false};
  throw InputError(fmt::format("task={}: unknown (countdown, math500, gsm8k, aime24, aime25, amc23, minerva, "
                               "olympiadbench, humaneval, humanevalplus, livecodebench, codeforces)",
                               spec));
}

PromptMetrics prompt_metrics(const std::vector<SampleOutcome>& samples, DiversityKeys keys) {
  if (samples.empty()) throw InputError("prompt_metrics: no samples");
  PromptMetrics m;
  m.samples = static_cast<std::int64_t>(samples.size());
  std::set<std::string> signatures, strategies;
  std::vector<std::vector<std::uint64_t>> correct_keys;
  double reward_sum = 0;
  for (const SampleOutcome& s : samples) {
    reward_sum += s.reward;
    if (s.reward != 1) continue;
    ++m.correct;
    signatures.insert(s.signature);
    if (!s.strategy.empty()) strategies.insert(s.strategy);
    correct_keys.push_back(ngram_keys(s.tokens));
  }
  m.mean_reward = reward_sum / static_cast<double>(m.samples);
  for (std::int64_t j = 1; j <= m.samples; j *= 2) m.pass_at[j] = pass_at_k(m.samples, m.correct, j);
  m.pass_at[m.samples] = pass_at_k(m.samples, m.correct, m.samples);  // pass@k itself, k a power of 2 or not
  constexpr double kNotDefined = std::numeric_limits<double>::quiet_NaN();
  m.distinct_correct = keys.signature ? static_cast<double>(signatures.size()) : kNotDefined;
  m.distinct_strategies = keys.strategy ? static_cast<double>(strategies.size()) : kNotDefined;
  if (correct_keys.size() < 2) {
    m.ngram_dispersion = std::numeric_limits<double>::quiet_NaN();
  } else {
    double sum = 0;
    std::int64_t pairs = 0;
    for (std::size_t a = 0; a < correct_keys.size(); ++a) {
      for (std::size_t b = a + 1; b < correct_keys.size(); ++b, ++pairs) sum += jaccard_distance(correct_keys[a], correct_keys[b]);
    }
    m.ngram_dispersion = sum / static_cast<double>(pairs);
  }
  return m;
}

MetricsSummary summarise(const std::vector<PromptMetrics>& prompts) {
  MetricsSummary s;
  s.prompts = static_cast<std::int64_t>(prompts.size());
  if (prompts.empty()) {
    constexpr double kNone = std::numeric_limits<double>::quiet_NaN();
    s.mean_at_k = s.distinct_correct = s.distinct_strategies = s.ngram_dispersion = s.share_two_or_more_distinct = kNone;
    return s;
  }
  s.samples_per_prompt = prompts.front().samples;
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    if (prompts[i].samples != s.samples_per_prompt) {
      throw InputError(fmt::format("summarise: prompt {} has {} samples, prompt 0 has {}: Mean@k and pass@j "
                                   "need the same k for every prompt",
                                   i, prompts[i].samples, s.samples_per_prompt));
    }
  }
  std::int64_t dispersed = 0;
  for (const PromptMetrics& p : prompts) {
    s.mean_at_k += p.mean_reward;
    for (const auto& [j, v] : p.pass_at) s.pass_at[j] += v;
    // NaN (a key the task lacks) stays NaN in the sums.
    s.distinct_correct += p.distinct_correct;
    s.distinct_strategies += p.distinct_strategies;
    s.share_two_or_more_distinct += std::isnan(p.distinct_correct) ? p.distinct_correct
                                    : p.distinct_correct >= 2     ? 1.0
                                                                  : 0.0;
    if (!std::isnan(p.ngram_dispersion)) {
      s.ngram_dispersion += p.ngram_dispersion;
      ++dispersed;
    }
  }
  const double n = static_cast<double>(prompts.size());
  s.mean_at_k /= n;
  for (auto& [j, v] : s.pass_at) v /= n;
  s.distinct_correct /= n;
  s.distinct_strategies /= n;
  s.share_two_or_more_distinct /= n;
  s.ngram_dispersion = dispersed > 0 ? s.ngram_dispersion / static_cast<double>(dispersed)
                                     : std::numeric_limits<double>::quiet_NaN();
  return s;
}

}  // namespace disa::llm::pipeline
