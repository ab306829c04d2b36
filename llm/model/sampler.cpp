#include "llm/model/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "llm/model/kv_cache.h"
#include "src/counter_rng.h"
#include "src/input_error.h"
#include "src/physical_memory.h"
#include "src/numerical_error.h"

namespace disa::llm {

void validate(const SamplingOptions& o) {
  if (!(o.temperature >= 0) || !std::isfinite(o.temperature)) {
    throw InputError(fmt::format("sampling: temperature = {} must be a finite number >= 0", o.temperature));
  }
  if (o.temperature > 0 && o.temperature < kMinTemperature) {
    throw InputError(fmt::format("sampling: temperature = {} must be 0 (greedy) or at least {} (logits / temperature "
                                 "must stay finite in float)",
                                 o.temperature, kMinTemperature));
  }
  if (!(o.top_p > 0 && o.top_p <= 1)) throw InputError(fmt::format("sampling: top_p = {} must be in (0, 1]", o.top_p));
  if (o.top_k < 0) throw InputError(fmt::format("sampling: top_k = {} must be >= 0 (0 = off)", o.top_k));
  if (o.max_new_tokens <= 0) {
    throw InputError(fmt::format("sampling: max_new_tokens = {} must be positive", o.max_new_tokens));
  }
  if (o.min_new_tokens < 0 || o.min_new_tokens > o.max_new_tokens) {
    throw InputError(fmt::format("sampling: min_new_tokens = {} must be in [0, max_new_tokens = {}]", o.min_new_tokens,
                                 o.max_new_tokens));
  }
  for (const std::string& s : o.stop_strings) {
    if (s.empty()) throw InputError("sampling: a stop string is empty");
  }
}

std::string finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::kEos: return "eos";
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
  }
  return "?";
}

namespace {

// The logits with every EOS id inside the vocabulary at -inf (a processor before the
// temperature and the truncations, as Hugging Face's MinNewTokensLengthLogitsProcessor).
torch::Tensor without_eos(const torch::Tensor& logits, const std::vector<std::int32_t>& eos_ids) {
  std::vector<std::int64_t> ids;
  for (const std::int32_t id : eos_ids) {
    if (id >= 0 && id < logits.size(-1)) ids.push_back(id);
  }
  if (ids.empty()) return logits;
  const torch::Tensor index = torch::tensor(ids, torch::kInt64).to(logits.device());
  return logits.index_fill(-1, index, -std::numeric_limits<float>::infinity());
}

}  // namespace

TokenDraw draw_tokens(const torch::Tensor& logits, const torch::Tensor& uniforms, const SamplingOptions& o,
                      bool suppress_eos) {
  torch::Tensor x = logits.to(torch::kFloat32);
  const std::int64_t vocab = x.size(-1);
  TokenDraw d;
  const torch::Tensor model_logp = torch::log_softmax(x, -1);
  if (suppress_eos) x = without_eos(x, o.eos_ids);
  if (o.temperature == 0) {
    d.tokens = x.argmax(-1);
    d.model_logprobs = model_logp.gather(-1, d.tokens.unsqueeze(-1)).squeeze(-1);
    d.sampling_logprobs = torch::zeros_like(d.model_logprobs);
    return d;
  }
  const float neg_inf = -std::numeric_limits<float>::infinity();
  torch::Tensor scaled = x / o.temperature;
  if (o.top_k > 0 && o.top_k < vocab) {
    const torch::Tensor kth = std::get<0>(scaled.topk(o.top_k, -1)).narrow(-1, o.top_k - 1, 1);
    scaled = scaled.masked_fill(scaled < kth, neg_inf);
  }
  if (o.top_p < 1) {
    // Hugging Face's TopPLogitsWarper op for op (vLLM's rule is the same), so that a
    // distribution compared with theirs differs by rounding only: ascending order, drop
    // every token whose cumulative probability from the bottom is at most 1 - top_p,
    // always keep the most probable. The sort is stable, so among tokens tied at the cut
    // the lower ids are dropped first and the higher ids kept, as there on CUDA (a stable
    // radix sort; HF's torch.sort(stable=False) promises no order of ties on the CPU).
    const auto [sorted, order] = scaled.sort(/*stable=*/true, -1, /*descending=*/false);
    const torch::Tensor drop_sorted = torch::softmax(sorted, -1).cumsum(-1) <= 1 - o.top_p;
    drop_sorted.narrow(-1, vocab - 1, 1).fill_(false);
    scaled = scaled.masked_fill(torch::zeros_like(drop_sorted).scatter(-1, order, drop_sorted), neg_inf);
  }
  const torch::Tensor q_logp = torch::log_softmax(scaled, -1);

  // Inverse CDF over the vocabulary in id order, in double: the first id whose cumulative
  // probability exceeds u * total. That id has positive probability by construction; the
  // fallback only covers u * total rounding up to the total.
  const torch::Tensor probs = q_logp.to(torch::kFloat64).exp();
  const torch::Tensor cdf = probs.cumsum(-1);
  const torch::Tensor threshold = uniforms.to(torch::kFloat64).unsqueeze(-1) * cdf.narrow(-1, vocab - 1, 1);
  torch::Tensor tokens = cdf.le(threshold).sum(-1).clamp_max(vocab - 1);
  const torch::Tensor chosen_ok = probs.gather(-1, tokens.unsqueeze(-1)).squeeze(-1) > 0;
  tokens = torch::where(chosen_ok, tokens, q_logp.argmax(-1));

  d.tokens = tokens;
  d.model_logprobs = model_logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1);
  d.sampling_logprobs = q_logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1);
  return d;
}

namespace {

// Restores a module's training flag when sampling leaves.
class EvalModeGuard {
 public:
  explicit EvalModeGuard(torch::nn::Module& m) : module_(m), was_training_(m.is_training()) { m.eval(); }
  ~EvalModeGuard() { module_.train(was_training_); }

 private:
  torch::nn::Module& module_;
  bool was_training_;
};

bool contains_stop(const std::string& text, const std::vector<std::string>& stops) {
  return std::any_of(stops.begin(), stops.end(), [&](const std::string& s) { return text.find(s) != std::string::npos; });
}

}  // namespace

std::vector<Completion> sample(TransformerImpl& model, const std::vector<std::vector<std::int32_t>>& prompts,
                               const SamplingOptions& o, std::span<const std::uint64_t> row_ids,
                               const TextDecoder& decode) {
  validate(o);
  const std::int64_t batch = static_cast<std::int64_t>(prompts.size());
  if (batch == 0) return {};
  if (!row_ids.empty() && static_cast<std::int64_t>(row_ids.size()) != batch) {
    throw InputError(fmt::format("sample: {} row ids for {} prompts", row_ids.size(), batch));
  }
  if (!o.stop_strings.empty() && !decode) throw InputError("sample: stop strings need a tokenizer to decode with");
  std::int64_t longest = 0;
  for (std::int64_t r = 0; r < batch; ++r) {
    if (prompts[r].empty()) throw InputError(fmt::format("sample: prompt {} is empty", r));
    longest = std::max<std::int64_t>(longest, static_cast<std::int64_t>(prompts[r].size()));
  }
  if (o.min_new_tokens > 0) {
    // Before min_new_tokens every EOS id is held back: some other token must be left.
    std::vector<std::int32_t> eos_in_vocabulary;
    for (const std::int32_t id : o.eos_ids) {
      if (id >= 0 && id < model.output_vocabulary()) eos_in_vocabulary.push_back(id);
    }
    std::sort(eos_in_vocabulary.begin(), eos_in_vocabulary.end());
    eos_in_vocabulary.erase(std::unique(eos_in_vocabulary.begin(), eos_in_vocabulary.end()), eos_in_vocabulary.end());
    if (static_cast<std::int64_t>(eos_in_vocabulary.size()) == model.output_vocabulary()) {
      throw InputError(
          fmt::format("sample: min_new_tokens = {} with every one of the {} token ids an EOS id: no "
                      "token could be drawn before it",
                      o.min_new_tokens, model.output_vocabulary()));
    }
  }
  // Positions count a row's real tokens (left padding takes none), so the longest prompt
  // reaches the last; past the model's range the logits are ones it was never trained on.
  if (longest + o.max_new_tokens > model.config().max_position_embeddings) {
    throw InputError(
        fmt::format("sample: a prompt of {} tokens + max_new_tokens = {} exceeds the model's "
                    "max_position_embeddings = {}",
                    longest, o.max_new_tokens, model.config().max_position_embeddings));
  }

  // The KV cache holds every position of every row from the start: with a model whose
  // max_position_embeddings is 2^63 - 1, max_new_tokens = 1e8 asked the allocator for
  // 12.8 GB and ended in LibTorch's backtrace. Refused before allocating, naming its sizes.
  {
    const ModelConfig& c = model.config();
    const double element = model.parameters().front().element_size();
    const double positions = static_cast<double>(longest) + static_cast<double>(o.max_new_tokens);
    const double cache_bytes = 2.0 * static_cast<double>(c.num_hidden_layers) * static_cast<double>(batch) *
                               static_cast<double>(c.num_key_value_heads) * static_cast<double>(c.head_dim) *
                               positions * element;
    const double memory = static_cast<double>(physical_memory_bytes());
    if (cache_bytes > memory) {
      throw InputError(fmt::format(
          "sample: max_new_tokens = {} after a prompt of {} tokens, {} rows at once: the KV cache needs {:.3g} GB "
          "(2 x {} layers x {} kv heads x {} head_dim x {} positions x {} bytes a row), above this machine's {:.3g} "
          "GB of memory; lower max_new_tokens or the batch size",
          o.max_new_tokens, longest, batch, cache_bytes / 1e9, c.num_hidden_layers, c.num_key_value_heads, c.head_dim,
          static_cast<std::int64_t>(positions), element, memory / 1e9));
    }
  }
  EvalModeGuard eval(model);
  torch::NoGradGuard no_grad;
  const torch::Device device = model.parameters().front().device();
  const std::int32_t pad = o.eos_ids.empty() ? 0 : o.eos_ids.front();

  // Left padding: every row's last prompt token sits in the same column.
  std::vector<std::int64_t> ids_host(batch * longest, pad), mask_host(batch * (longest + o.max_new_tokens), 1);
  for (std::int64_t r = 0; r < batch; ++r) {
    const std::int64_t offset = longest - static_cast<std::int64_t>(prompts[r].size());
    std::fill_n(mask_host.begin() + r * (longest + o.max_new_tokens), offset, 0);
    std::copy(prompts[r].begin(), prompts[r].end(), ids_host.begin() + r * longest + offset);
  }
  torch::Tensor ids = torch::from_blob(ids_host.data(), {batch, longest}, torch::kInt64).to(device);
  torch::Tensor mask = torch::from_blob(mask_host.data(), {batch, longest + o.max_new_tokens}, torch::kInt64).to(device);
  torch::Tensor next_position = mask.narrow(1, 0, longest).sum(1, /*keepdim=*/true);  // [B, 1]

  std::vector<CounterRng> rngs;
  for (std::int64_t r = 0; r < batch; ++r) rngs.emplace_back(o.seed, row_ids.empty() ? r : row_ids[r]);

  KvCache cache(longest + o.max_new_tokens);
  torch::Tensor logits = model.forward(ids, mask.narrow(1, 0, longest), {}, &cache).select(1, longest - 1);

  std::vector<Completion> out(batch);
  std::vector<bool> done(batch, false);
  std::int64_t running = batch;
  std::vector<double> u(batch);
  for (std::int64_t t = 0; t < o.max_new_tokens && running > 0; ++t) {
    for (std::int64_t r = 0; r < batch; ++r) u[r] = rngs[r].uniform(static_cast<std::uint64_t>(t));
    const TokenDraw d =
        draw_tokens(logits, torch::from_blob(u.data(), {batch}, torch::kFloat64).to(device), o, t < o.min_new_tokens);
    const torch::Tensor tokens = d.tokens.to(torch::kCPU), lp = d.model_logprobs.to(torch::kCPU),
                        lq = d.sampling_logprobs.to(torch::kCPU);
    const auto tok = tokens.accessor<std::int64_t, 1>();
    const auto lpa = lp.accessor<float, 1>(), lqa = lq.accessor<float, 1>();
    std::vector<std::int64_t> fed(batch, pad);
    for (std::int64_t r = 0; r < batch; ++r) {
      if (done[r]) continue;
      // A drawn token has positive probability under a finite model: a non-finite
      // log-probability means the logits are not finite (a diverged policy), which must
      // stop here rather than sample garbage that scores as a wrong answer.
      if (!std::isfinite(lpa[r]) || !std::isfinite(lqa[r])) {
        throw NumericalError(fmt::format("sample: row {} token {}: log-probability {} (model) / {} (sampling) is not "
                                         "finite: the model's logits are not",
                                         row_ids.empty() ? r : row_ids[r], t, lpa[r], lqa[r]));
      }
      Completion& c = out[r];
      c.tokens.push_back(static_cast<std::int32_t>(tok[r]));
      c.model_logprobs.push_back(lpa[r]);
      c.sampling_logprobs.push_back(lqa[r]);
      fed[r] = tok[r];
      if (std::find(o.eos_ids.begin(), o.eos_ids.end(), c.tokens.back()) != o.eos_ids.end()) {
        c.finish = FinishReason::kEos;
      } else if (!o.stop_strings.empty() && contains_stop(decode(c.tokens), o.stop_strings)) {
        c.finish = FinishReason::kStop;
      } else {
        continue;
      }
      done[r] = true;
      --running;
    }
    if (running == 0 || t + 1 == o.max_new_tokens) break;
    // Finished rows keep running on a pad token (their outputs are never read), so the
    // batch and the cache keep their shape.
    const torch::Tensor step = torch::from_blob(fed.data(), {batch, 1}, torch::kInt64).to(device);
    logits = model.forward(step, mask.narrow(1, 0, longest + t + 1), next_position, &cache).select(1, 0);
    next_position = next_position + 1;
  }
  return out;
}

}  // namespace disa::llm
