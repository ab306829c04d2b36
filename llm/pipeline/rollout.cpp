#include "llm/pipeline/rollout.h"

#include <fmt/format.h>

#include "llm/pipeline/loaded_model.h"
#include "src/byte_size.h"
#include "src/input_error.h"
#include "toy_envs/tree.h"  // tree_memory_budget

namespace disa::llm::pipeline {

std::vector<Rollout> roll_out(TransformerImpl& model, const Tokenizer& tokenizer,
                              const std::vector<std::int32_t>& stop_ids, const PromptTask& task,
                              const std::vector<TaskPrompt>& prompts, std::int64_t samples, SamplingOptions options,
                              std::int64_t batch_size, std::string_view samples_key) {
  double held = 0;
  for (const TaskPrompt& p : prompts) {
    held += static_cast<double>(samples) *
            held_sample_bytes(static_cast<std::int64_t>(p.tokens.size()), options.max_new_tokens);
  }
  const double budget = static_cast<double>(tree_memory_budget());
  if (held > budget) {
    throw InputError(fmt::format(
        "{}={} x max_new_tokens={}: {} rollouts of each of {} prompts (up to {} new tokens each) need more than "
        "the {} budget (80% of memory, or DISA_MAX_TREE_BYTES)",
        samples_key, samples, options.max_new_tokens, samples, prompts.size(), options.max_new_tokens,
        byte_size(budget)));
  }
  options.eos_ids = stop_ids;
  std::vector<Rollout> out;
  std::vector<std::vector<std::int32_t>> rows;
  std::vector<std::uint64_t> row_ids;
  for (std::size_t p = 0; p < prompts.size(); ++p) {
    for (std::int64_t j = 0; j < samples; ++j) {
      Rollout r;
      r.prompt = static_cast<std::int64_t>(p);
      r.sample = j;
      out.push_back(std::move(r));
      rows.push_back(prompts[p].tokens);
      row_ids.push_back(static_cast<std::uint64_t>(prompts[p].index * samples + j));
    }
  }
  const std::size_t chunk = static_cast<std::size_t>(std::max<std::int64_t>(batch_size, 1));
  for (std::size_t begin = 0; begin < rows.size(); begin += chunk) {
    const std::size_t end = std::min(rows.size(), begin + chunk);
    const std::vector<std::vector<std::int32_t>> batch(rows.begin() + begin, rows.begin() + end);
    std::vector<Completion> done =
        sample(model, batch, options, std::span<const std::uint64_t>(row_ids.data() + begin, end - begin));
    for (std::size_t i = 0; i < done.size(); ++i) {
      Rollout& r = out[begin + i];
      r.completion = std::move(done[i]);
      r.response = decode_response(tokenizer, stop_ids, r.completion.tokens);
      // A completion cut off at max_new_tokens is not a finished answer: its last number
      // or expression may be the prefix of another ("... is 12" of "... is 123"), so it
      // is not verified; reward 0, reason "truncated".
      r.verdict = r.completion.finish == FinishReason::kLength
                      ? TaskVerdict{.reward = 0, .reason = "truncated", .signature = "", .strategy = ""}
                      : task.verify(prompts[r.prompt], r.response);
    }
  }
  return out;
}

}  // namespace disa::llm::pipeline
