#include "llm/model/scorer.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "llm/model/sampler.h"  // kMinTemperature
#include "src/input_error.h"
#include "src/numerical_error.h"

#if defined(DISA_HAVE_CUDA_KERNELS)  // set by kernels/CMakeLists.txt when the CUDA kernels are built
#include "kernels/torch_kernels.h"
#endif

namespace disa::llm {
namespace {

// log p(target) per position of rows [B, W, V]. On the GPU (and inside a
// kernels::CpuDeviceScope) kernel 1: one pass over each row's V logits, float32 output
// from float32 or bf16 logits, and a backward that never stores the softmax; elsewhere
// LibTorch eager.
torch::Tensor target_logprobs(const torch::Tensor& rows, const torch::Tensor& targets) {
#if defined(DISA_HAVE_CUDA_KERNELS)
  const auto dtype = rows.scalar_type();
  if ((rows.is_cuda() || kernels::CpuDeviceScope::active()) && (dtype == torch::kFloat32 || dtype == torch::kBFloat16))
    return kernels::token_logprobs_autograd(rows, targets);
#endif
  const torch::Tensor target_logit = rows.gather(-1, targets.unsqueeze(-1)).squeeze(-1);
  return (target_logit - rows.logsumexp(-1)).to(torch::kFloat32);
}

}  // namespace

ContinuationLogprobs continuation_logprobs(TransformerImpl& model, const std::vector<ScoreRequest>& requests,
                                           double temperature) {
  if (!(temperature > 0) || !std::isfinite(temperature)) {
    throw InputError(fmt::format("score: temperature = {} must be a finite positive number", temperature));
  }
  if (temperature < kMinTemperature) {  // the logits / temperature must stay finite (sampler.h)
    throw InputError(fmt::format("score: temperature = {} must be at least {} (logits / temperature must stay finite "
                                 "in float)",
                                 temperature, kMinTemperature));
  }
  const std::int64_t batch = static_cast<std::int64_t>(requests.size());
  if (batch == 0) throw InputError("score: no requests");
  std::int64_t total = 0, longest = 0;
  const std::int64_t vocabulary = model.output_vocabulary();
  for (std::int64_t r = 0; r < batch; ++r) {
    if (requests[r].prompt.empty()) throw InputError(fmt::format("score: request {} has an empty prompt", r));
    // The logits cover the output vocabulary only (the tokenizer's ids: transformer.h).
    for (std::size_t k = 0; k < requests[r].continuation.size(); ++k) {
      const std::int64_t id = requests[r].continuation[k];
      if (id < 0 || id >= vocabulary) {
        throw InputError(fmt::format("score: request {} token {}: id {} is outside the output vocabulary [0, {})", r,
                                     k, id, vocabulary));
      }
    }
    total = std::max<std::int64_t>(total, requests[r].prompt.size() + requests[r].continuation.size());
    longest = std::max<std::int64_t>(longest, requests[r].continuation.size());
    // Positions past the model's range give logits it was never trained on, silently.
    const std::int64_t length = requests[r].prompt.size() + requests[r].continuation.size();
    if (length > model.config().max_position_embeddings) {
      throw InputError(fmt::format(
          "score: request {}: {} prompt + {} continuation tokens exceed the model's "
          "max_position_embeddings = {}",
          r, requests[r].prompt.size(), requests[r].continuation.size(), model.config().max_position_embeddings));
    }
  }
  const std::int64_t width = std::max<std::int64_t>(longest, 1);

  // Right padding; the last token of a row is never an input whose prediction is read,
  // but keeping it makes the layout the plain concatenation.
  std::vector<std::int64_t> ids(batch * total, 0), mask(batch * total, 0), targets(batch * width, 0),
      where(batch * width, 0);
  std::vector<float> valid(batch * width, 0.0f);
  for (std::int64_t r = 0; r < batch; ++r) {
    const auto& q = requests[r];
    const std::int64_t p = q.prompt.size(), c = q.continuation.size();
    std::copy(q.prompt.begin(), q.prompt.end(), ids.begin() + r * total);
    std::copy(q.continuation.begin(), q.continuation.end(), ids.begin() + r * total + p);
    std::fill_n(mask.begin() + r * total, p + c, 1);
    for (std::int64_t k = 0; k < c; ++k) {
      targets[r * width + k] = q.continuation[k];
      where[r * width + k] = p + k - 1;  // the logits that predict continuation token k
      valid[r * width + k] = 1.0f;
    }
  }
  const torch::Device device = model.parameters().front().device();
  const auto as_tensor = [&](std::vector<std::int64_t>& v, std::int64_t cols) {
    return torch::from_blob(v.data(), {batch, cols}, torch::kInt64).to(device).clone();
  };
  // The head runs on the W rows read, not on all T positions: [B, W, V] float32 logits
  // once (8 x 2048 x 151936 would be 10 GB per copy).
  const torch::Tensor hidden = model.hidden_states(as_tensor(ids, total), as_tensor(mask, total));  // [B, T, H]
  const torch::Tensor at = as_tensor(where, width);
  const torch::Tensor read = hidden.gather(1, at.unsqueeze(-1).expand({batch, width, hidden.size(-1)}));
  torch::Tensor rows = model.logits(read);  // [B, W, V]
  if (temperature != 1.0) rows = rows / temperature;
  const torch::Tensor m = torch::from_blob(valid.data(), {batch, width}, torch::kFloat32).to(device).clone();
  ContinuationLogprobs out;
  out.logprobs = (target_logprobs(rows, as_tensor(targets, width)) * m).narrow(1, 0, longest);
  out.mask = m.narrow(1, 0, longest);
  return out;
}

std::vector<std::vector<float>> score(TransformerImpl& model, const std::vector<ScoreRequest>& requests,
                                      std::int64_t batch_size, double temperature) {
  if (batch_size <= 0) throw InputError(fmt::format("score: batch_size = {} must be positive", batch_size));
  const bool was_training = model.is_training();
  model.eval();
  torch::NoGradGuard no_grad;
  std::vector<std::vector<float>> out;
  try {
    for (std::size_t begin = 0; begin < requests.size(); begin += batch_size) {
      const std::size_t end = std::min(requests.size(), begin + static_cast<std::size_t>(batch_size));
      const std::vector<ScoreRequest> chunk(requests.begin() + begin, requests.begin() + end);
      const torch::Tensor lp = continuation_logprobs(model, chunk, temperature).logprobs.to(torch::kCPU).contiguous();
      for (std::size_t r = 0; r < chunk.size(); ++r) {
        const float* row = lp.data_ptr<float>() + r * lp.size(1);
        // log_softmax of finite logits is finite: anything else is a broken model, and a
        // NaN written into a score or a trajectory file would come back as null.
        for (std::size_t k = 0; k < chunk[r].continuation.size(); ++k) {
          if (!std::isfinite(row[k])) {
            throw NumericalError(fmt::format("score: request {} token {}: log-probability {} is not finite (the "
                                             "model's logits are not)",
                                             begin + r, k, row[k]));
          }
        }
        out.emplace_back(row, row + chunk[r].continuation.size());
      }
    }
  } catch (...) {
    model.train(was_training);
    throw;
  }
  model.train(was_training);
  return out;
}

}  // namespace disa::llm
