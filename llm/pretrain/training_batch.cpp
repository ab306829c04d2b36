#include "llm/pretrain/training_batch.h"

#include <algorithm>

#include "src/counter_rng.h"

namespace disa::llm::pretrain {
namespace {
// The solution draws' own key, apart from the problem draws' and the sampler's.
constexpr std::uint64_t kSolutionTag = 0x5EED50107104ull;
}  // namespace

Example training_example(const countdown::TaskConfig& task, std::uint64_t seed, std::uint64_t index) {
  Example e;
  e.problem = countdown::generate(task, seed, countdown::Split::kTrain, index);
  const std::vector<countdown::Solution> solutions = countdown::solve(e.problem);
  const double u = CounterRng(splitmix64(seed ^ kSolutionTag), index).uniform(0);
  const auto pick = std::min(solutions.size() - 1, static_cast<std::size_t>(u * static_cast<double>(solutions.size())));
  e.prompt = countdown::prompt_text(e.problem);
  e.completion = solutions[pick].expression;
  e.solutions = solutions.size();
  return e;
}

TokenBatch make_batch(const CharTokenizer& tokenizer, const std::vector<Example>& examples) {
  const std::int32_t eos = *tokenizer.special_ids().eos, pad = *tokenizer.special_ids().pad;
  std::vector<std::vector<std::int32_t>> seqs;
  std::vector<std::size_t> prompt_lengths;
  std::size_t longest = 0;
  for (const Example& e : examples) {
    std::vector<std::int32_t> ids = tokenizer.encode(e.prompt);
    prompt_lengths.push_back(ids.size());
    const std::vector<std::int32_t> c = tokenizer.encode(e.completion);
    ids.insert(ids.end(), c.begin(), c.end());
    ids.push_back(eos);
    longest = std::max(longest, ids.size());
    seqs.push_back(std::move(ids));
  }
  const auto b = static_cast<std::int64_t>(seqs.size()), t = static_cast<std::int64_t>(longest);
  TokenBatch batch;
  batch.input_ids = torch::full({b, t}, pad, torch::kInt64);
  batch.attention_mask = torch::zeros({b, t}, torch::kInt64);
  batch.labels = torch::full({b, t}, -100, torch::kInt64);
  auto ids = batch.input_ids.accessor<std::int64_t, 2>();
  auto mask = batch.attention_mask.accessor<std::int64_t, 2>();
  auto labels = batch.labels.accessor<std::int64_t, 2>();
  for (std::int64_t r = 0; r < b; ++r) {
    const auto& s = seqs[r];
    for (std::size_t i = 0; i < s.size(); ++i) {
      ids[r][i] = s[i];
      mask[r][i] = 1;
      // Position i predicts token i+1; only completion tokens (and the EOS) are targets.
      if (i + 1 < s.size() && i + 1 >= prompt_lengths[r]) {
        labels[r][i] = s[i + 1];
        ++batch.completion_tokens;
      }
    }
    batch.tokens += static_cast<std::int64_t>(s.size());
  }
  return batch;
}

}  // namespace disa::llm::pretrain
