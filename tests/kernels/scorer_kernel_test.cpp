// The scorer's kernel path (llm/model/scorer.cpp: kernel 1 for the log-probs of the
// continuation tokens, on the GPU or inside a CpuDeviceScope) against its LibTorch eager
// path on the same tiny random model: log-probs, and the gradients of a weighted sum of
// them with respect to every parameter. GPU case SKIPPED without a CUDA LibTorch and
// device; the CPU-device case runs in CI.
#include <torch/torch.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kernels/cpu_device.h"
#include "kernels/torch_kernels.h"
#include "llm/model/scorer.h"
#include "tests/llm/model/tiny_models.h"

namespace {

using namespace disa::llm;

struct Scored {
  torch::Tensor logprobs;
  std::map<std::string, torch::Tensor> grads;
};

Scored score_with_grads(Transformer& model, const std::vector<ScoreRequest>& requests, const torch::Tensor& weights) {
  model->zero_grad();
  const ContinuationLogprobs b = continuation_logprobs(*model, requests, /*temperature=*/0.7);
  (b.logprobs * weights.to(b.logprobs.device())).sum().backward();
  Scored s{b.logprobs.detach().cpu(), {}};
  for (const auto& item : model->named_parameters())
    if (item.value().grad().defined()) s.grads[item.key()] = item.value().grad().cpu().clone();
  return s;
}

void kernel_path_matches_eager(torch::Device device, bool cpu_device) {
  Transformer model = model_test::tiny_model(model_test::qwen2_config_json(), 21);
  model->to(device);
  const std::vector<ScoreRequest> requests = {{{1, 2, 3}, {4, 5}}, {{6}, {7, 8, 9, 10}}, {{11, 12}, {}}};
  torch::manual_seed(4);
  const torch::Tensor weights = torch::randn({3, 4});
  const Scored eager = [&] {
    // The eager reference: CPU tensors outside a scope; on the GPU, the same model on the CPU.
    if (device.is_cuda()) {
      Transformer cpu = model_test::tiny_model(model_test::qwen2_config_json(), 21);
      return score_with_grads(cpu, requests, weights);
    }
    return score_with_grads(model, requests, weights);
  }();
  Scored kernel;
  if (cpu_device) {
    disa::kernels::CpuDeviceScope scope;
    const std::uint64_t before = disa::kernels::cpu_device::launch_count();
    kernel = score_with_grads(model, requests, weights);
    EXPECT_EQ(disa::kernels::cpu_device::launch_count() - before, 2u);  // kernel 1 forward and backward
  } else {
    kernel = score_with_grads(model, requests, weights);
  }
  EXPECT_TRUE(torch::allclose(kernel.logprobs, eager.logprobs, 1e-5, 1e-5))
      << (kernel.logprobs - eager.logprobs).abs().max().item<float>();
  ASSERT_EQ(kernel.grads.size(), eager.grads.size());
  for (const auto& [name, g] : eager.grads) {
    const torch::Tensor& k = kernel.grads.at(name);
    EXPECT_TRUE(torch::allclose(k, g, 1e-4, 1e-6)) << name << ": " << (k - g).abs().max().item<float>();
  }
}

TEST(ScorerKernelGpu, KernelPathMatchesEagerLogprobsAndGradients) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device visible to LibTorch: skipped";
  kernel_path_matches_eager(torch::kCUDA, false);
}

TEST(ScorerKernelCpuDevice, KernelPathMatchesEagerLogprobsAndGradients) {
  kernel_path_matches_eager(torch::kCPU, true);
}

}  // namespace
