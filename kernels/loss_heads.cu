// Kernel 2's launchers on the GPU (loss_heads_kernels.h); the kernels are in
// loss_heads_device.cuh, the driver around them in loss_heads_driver.cpp.
#include <cuda_runtime.h>

#include "kernels/loss_heads_device.cuh"
#include "kernels/loss_heads_kernels.h"

namespace disa::kernels {

using namespace loss_heads_device;

template <class Real>
cudaError_t launch_row_sums(const TokenFields<Real>& f, std::int64_t rows, std::int64_t columns, RowSums* out,
                            cudaStream_t stream) {
  if (!launchable(rows)) return cudaErrorInvalidValue;
  if (rows == 0) return cudaSuccess;
  row_sums_kernel<Real><<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(f, columns, out);
  return cudaGetLastError();
}

template <class Real>
cudaError_t launch_token_pass(const TokenFields<Real>& f, std::int64_t rows, std::int64_t columns,
                              const HeadParams& params, const RowPlan* plans, Real* grad, TokenSums* out,
                              cudaStream_t stream) {
  if (!launchable(rows)) return cudaErrorInvalidValue;
  if (rows == 0) return cudaSuccess;
  token_pass_kernel<Real><<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(f, columns, params, plans, grad, out);
  return cudaGetLastError();
}

template cudaError_t launch_row_sums<float>(const TokenFields<float>&, std::int64_t, std::int64_t, RowSums*,
                                            cudaStream_t);
template cudaError_t launch_row_sums<double>(const TokenFields<double>&, std::int64_t, std::int64_t, RowSums*,
                                             cudaStream_t);
template cudaError_t launch_token_pass<float>(const TokenFields<float>&, std::int64_t, std::int64_t,
                                              const HeadParams&, const RowPlan*, float*, TokenSums*, cudaStream_t);
template cudaError_t launch_token_pass<double>(const TokenFields<double>&, std::int64_t, std::int64_t,
                                               const HeadParams&, const RowPlan*, double*, TokenSums*, cudaStream_t);

}  // namespace disa::kernels
