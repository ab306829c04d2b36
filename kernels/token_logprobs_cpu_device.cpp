// Kernel 1's launchers on the CPU device (cpu_device.h): the kernels of
// token_logprobs_device.cuh, launched as token_logprobs.cu launches them.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/token_logprobs.h"
#include "kernels/token_logprobs_device.cuh"

namespace disa::kernels {
namespace {

using namespace token_logprobs_device;

void check_shape(const char* who, std::int64_t N, std::int64_t V) {
  if (!launchable(N, V))
    throw std::invalid_argument(std::string(who) + ": N = " + std::to_string(N) + ", V = " + std::to_string(V) +
                                " (need 0 <= N <= 2^31 - 1 and V >= 1)");
}

}  // namespace

template <class Elem>
void token_logprobs_cpu_device(const Elem* logits, const std::int64_t* target, std::int64_t N, std::int64_t V,
                               float* logp, float* lse, float* entropy, const cpu_device::LaunchOptions& options) {
  check_shape("token_logprobs_cpu_device", N, V);
  cpu_device::launch(&token_logprobs_kernel<Elem>, {static_cast<unsigned>(N)}, {kThreads}, options, logits, target,
                     V, logp, lse, entropy);
}

template <class Elem>
void token_logprobs_backward_cpu_device(const Elem* logits, const std::int64_t* target, const float* lse,
                                        const float* logp, const float* grad_logp, std::int64_t N, std::int64_t V,
                                        Elem* dlogits, const cpu_device::LaunchOptions& options) {
  check_shape("token_logprobs_backward_cpu_device", N, V);
  const bool vector_out = same_vector_alignment(logits, dlogits);
  cpu_device::launch(&token_logprobs_backward_kernel<Elem>, {static_cast<unsigned>(N)}, {kThreads}, options, logits,
                     target, lse, logp, grad_logp, V, dlogits, vector_out);
}

template void token_logprobs_cpu_device<float>(const float*, const std::int64_t*, std::int64_t, std::int64_t, float*,
                                               float*, float*, const cpu_device::LaunchOptions&);
template void token_logprobs_cpu_device<bf16>(const bf16*, const std::int64_t*, std::int64_t, std::int64_t, float*,
                                              float*, float*, const cpu_device::LaunchOptions&);
template void token_logprobs_backward_cpu_device<float>(const float*, const std::int64_t*, const float*, const float*,
                                                        const float*, std::int64_t, std::int64_t, float*,
                                                        const cpu_device::LaunchOptions&);
template void token_logprobs_backward_cpu_device<bf16>(const bf16*, const std::int64_t*, const float*, const float*,
                                                       const float*, std::int64_t, std::int64_t, bf16*,
                                                       const cpu_device::LaunchOptions&);

}  // namespace disa::kernels
