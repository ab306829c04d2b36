// Kernel 1's launchers on the GPU; the kernels are in token_logprobs_device.cuh.
#include <cuda_runtime.h>

#include <climits>
#include <cstdint>

#include "kernels/token_logprobs.h"
#include "kernels/token_logprobs_device.cuh"

namespace disa::kernels {
namespace {

using namespace token_logprobs_device;

cudaError_t check_shape(std::int64_t N, std::int64_t V) { return launchable(N, V) ? cudaSuccess : cudaErrorInvalidValue; }

}  // namespace

template <class Elem>
cudaError_t token_logprobs_cuda(const Elem* logits, const std::int64_t* target, std::int64_t N, std::int64_t V,
                                float* logp, float* lse, float* entropy, cudaStream_t stream) {
  if (const cudaError_t e = check_shape(N, V); e != cudaSuccess) return e;
  if (N == 0) return cudaSuccess;
  token_logprobs_kernel<Elem><<<static_cast<unsigned>(N), kThreads, 0, stream>>>(logits, target, V, logp, lse, entropy);
  return cudaGetLastError();
}

template <class Elem>
cudaError_t token_logprobs_backward_cuda(const Elem* logits, const std::int64_t* target, const float* lse,
                                         const float* logp, const float* grad_logp, std::int64_t N, std::int64_t V,
                                         Elem* dlogits, cudaStream_t stream) {
  if (const cudaError_t e = check_shape(N, V); e != cudaSuccess) return e;
  if (N == 0) return cudaSuccess;
  const bool vector_out = same_vector_alignment(logits, dlogits);
  token_logprobs_backward_kernel<Elem>
      <<<static_cast<unsigned>(N), kThreads, 0, stream>>>(logits, target, lse, logp, grad_logp, V, dlogits, vector_out);
  return cudaGetLastError();
}

template cudaError_t token_logprobs_cuda<float>(const float*, const std::int64_t*, std::int64_t, std::int64_t, float*,
                                                float*, float*, cudaStream_t);
template cudaError_t token_logprobs_cuda<bf16>(const bf16*, const std::int64_t*, std::int64_t, std::int64_t, float*,
                                               float*, float*, cudaStream_t);
template cudaError_t token_logprobs_backward_cuda<float>(const float*, const std::int64_t*, const float*, const float*,
                                                         const float*, std::int64_t, std::int64_t, float*,
                                                         cudaStream_t);
template cudaError_t token_logprobs_backward_cuda<bf16>(const bf16*, const std::int64_t*, const float*, const float*,
                                                        const float*, std::int64_t, std::int64_t, bf16*, cudaStream_t);

}  // namespace disa::kernels
