// bench_kernels: LibTorch eager beside kernel 1 - log_softmax + gather forward and
// backward on bf16 logits N x V - when LibTorch was built with CUDA and sees a device
// (a CPU-only LibTorch compiles this and skips at run time with a message).
#include <torch/torch.h>

#include <cstdio>

#include "bench/bench_kernels_common.h"

namespace disa::bench {

void bench_torch_eager(std::int64_t rows, std::int64_t vocab, int reps, const Bandwidths& bw, double ours_ms) {
  if (!torch::cuda::is_available()) {
    std::printf("torch eager: LibTorch sees no CUDA device (CPU-only build?): skipped\n");
    return;
  }
  torch::NoGradGuard no_grad_outside;  // autograd is enabled explicitly below
  const auto opts = torch::TensorOptions().dtype(torch::kBFloat16).device(torch::kCUDA);
  torch::Tensor logits = torch::randn({rows, vocab}, opts);
  const torch::Tensor target =
      torch::randint(0, vocab, {rows, 1}, torch::TensorOptions().dtype(torch::kInt64).device(torch::kCUDA));
  const torch::Tensor g = torch::randn({rows, 1}, opts);
  auto step = [&] {
    torch::AutoGradMode grad_on(true);
    torch::Tensor x = logits.detach().requires_grad_(true);
    torch::Tensor lp = torch::log_softmax(x, -1).gather(-1, target);
    lp.backward(g);
  };
  // Torch launches on its current stream; the legacy default stream's events order with it
  // as long as no other stream was set (none is here).
  const double ms = time_ms(step, reps);
  // the same traffic formula as ours (fwd + bwd), so the GB/s compare directly
  const double bytes = 3.0 * double(rows) * double(vocab) * 2.0;
  report("torch eager log_softmax+gather fwd+bwd bf16", ms, bytes, bw);
  std::printf("speed-up of kernel 1 over torch eager (fwd+bwd): %.2fx (target >= 3x)\n", ms / ours_ms);
}

}  // namespace disa::bench
