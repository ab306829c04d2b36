#include "llm/pretrain/evaluate.h"

#include <algorithm>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "llm/model/sampler.h"
#include "src/input_error.h"

namespace disa::llm::pretrain {
namespace {

// Completions of `rows` (prompt index, row id) in chunks; tokens do not depend on chunking.
std::vector<std::string> complete(TransformerImpl& model, const Tokenizer& tokenizer,
                                  const std::vector<std::vector<std::int32_t>>& prompts,
                                  const std::vector<std::uint64_t>& row_ids, SamplingOptions o, std::int64_t batch_size) {
  o.eos_ids = {*tokenizer.special_ids().eos};
  std::vector<std::string> out;
  for (std::size_t begin = 0; begin < prompts.size(); begin += static_cast<std::size_t>(batch_size)) {
    const std::size_t end = std::min(prompts.size(), begin + static_cast<std::size_t>(batch_size));
    const std::vector<std::vector<std::int32_t>> chunk(prompts.begin() + begin, prompts.begin() + end);
    const std::vector<Completion> done =
        sample(model, chunk, o, std::span<const std::uint64_t>(row_ids.data() + begin, end - begin));
    for (const Completion& c : done) out.push_back(tokenizer.decode(c.tokens));
  }
  return out;
}

}  // namespace

EvalReport evaluate(TransformerImpl& model, const Tokenizer& tokenizer, const countdown::TaskConfig& task,
                    const EvalOptions& o) {
  if (o.problems <= 0) throw InputError(fmt::format("--eval-problems = {} must be positive", o.problems));
  if (o.samples_per_problem <= 0) {
    throw InputError(fmt::format("--eval-samples = {} must be positive", o.samples_per_problem));
  }
  if (!tokenizer.special_ids().eos) throw InputError("evaluate: the tokenizer has no EOS token");
  const std::string eos = *tokenizer.id_to_token(*tokenizer.special_ids().eos);
  const auto n = o.samples_per_problem;

  std::vector<countdown::Problem> problems;
  std::vector<std::vector<std::int32_t>> prompts, sampled_prompts;
  std::vector<std::uint64_t> greedy_rows, sample_rows;
  for (std::int64_t i = 0; i < o.problems; ++i) {
    problems.push_back(countdown::generate(task, o.task_seed, countdown::Split::kEval, static_cast<std::uint64_t>(i)));
    prompts.push_back(tokenizer.encode(countdown::prompt_text(problems.back())));
    greedy_rows.push_back(static_cast<std::uint64_t>(i));
    for (std::int64_t j = 0; j < n; ++j) {
      sampled_prompts.push_back(prompts.back());
      sample_rows.push_back(static_cast<std::uint64_t>(i * n + j));
    }
  }
  SamplingOptions sampling{.temperature = 1.0, .max_new_tokens = o.max_new_tokens, .seed = o.seed};
  const std::vector<std::string> samples = complete(model, tokenizer, sampled_prompts, sample_rows, sampling, o.batch_size);
  sampling.temperature = 0.0;
  const std::vector<std::string> greedy = complete(model, tokenizer, prompts, greedy_rows, sampling, o.batch_size);

  EvalReport r;
  r.problems = o.problems;
  {
    // Up to the order of the numbers, as the split counts problems.
    std::set<std::pair<std::vector<std::int64_t>, std::int64_t>> distinct;
    for (const countdown::Problem& p : problems) {
      std::vector<std::int64_t> numbers = p.numbers;
      std::sort(numbers.begin(), numbers.end());
      distinct.emplace(std::move(numbers), p.target);
    }
    r.distinct_problems = static_cast<std::int64_t>(distinct.size());
  }
  r.samples_per_problem = n;
  for (std::int64_t k = 1; k <= n; k *= 2) r.pass_at[k] = 0;
  double correct_total = 0;
  for (std::int64_t i = 0; i < o.problems; ++i) {
    const countdown::Problem& p = problems[i];
    std::int64_t c = 0;
    std::set<std::string> distinct;
    nlohmann::ordered_json example{{"prompt", countdown::prompt_text(p)}, {"samples", nlohmann::ordered_json::array()}};
    for (std::int64_t j = 0; j < n; ++j) {
      const std::string& text = samples[i * n + j];
      const countdown::Verdict v = countdown::verify(p, text, eos);
      ++r.reasons[countdown::reason_name(v.reason)];
      if (v.reward == 1) {
        ++c;
        distinct.insert(v.signature);
      }
      if (i < 8) example["samples"].push_back(text.substr(0, text.find(eos)) + " [" + countdown::reason_name(v.reason) + "]");
    }
    const countdown::Verdict g = countdown::verify(p, greedy[i], eos);
    r.greedy_accuracy += g.reward;
    correct_total += static_cast<double>(c);
    for (auto& [k, sum] : r.pass_at) sum += pass_at_k(n, c, k);
    r.distinct_correct_mean += static_cast<double>(distinct.size());
    r.problems_with_two_or_more += distinct.size() >= 2 ? 1.0 : 0.0;
    const std::size_t solutions = countdown::solve(p).size();
    r.solutions_mean += static_cast<double>(solutions);
    if (i < 8) {
      example["greedy"] = greedy[i].substr(0, greedy[i].find(eos)) + " [" + countdown::reason_name(g.reason) + "]";
      example["solutions"] = solutions;
      r.examples.push_back(std::move(example));
    }
  }
  const auto k_problems = static_cast<double>(o.problems);
  r.accuracy = correct_total / (k_problems * static_cast<double>(n));
  r.greedy_accuracy /= k_problems;
  for (auto& [k, sum] : r.pass_at) sum /= k_problems;
  r.distinct_correct_mean /= k_problems;
  r.solutions_mean /= k_problems;
  r.problems_with_two_or_more /= k_problems;
  return r;
}

nlohmann::ordered_json to_json(const EvalReport& r) {
  nlohmann::ordered_json j;
  j["problems"] = r.problems;
  j["distinct_problems"] = r.distinct_problems;
  j["samples_per_problem"] = r.samples_per_problem;
  j["accuracy_temperature_1"] = r.accuracy;
  j["accuracy_greedy"] = r.greedy_accuracy;
  for (const auto& [k, v] : r.pass_at) j["pass_at_k"][std::to_string(k)] = v;
  j["distinct_correct_per_problem"] = r.distinct_correct_mean;
  j["solutions_per_problem"] = r.solutions_mean;
  j["share_with_two_or_more_distinct_correct"] = r.problems_with_two_or_more;
  for (const auto& [reason, count] : r.reasons) j["reasons"][reason] = count;
  j["examples"] = r.examples;
  return j;
}

}  // namespace disa::llm::pretrain
