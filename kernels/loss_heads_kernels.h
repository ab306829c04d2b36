// The two device passes of kernel 2 (loss_heads.h), as plain launchers over POD
// arguments so that the driver (loss_heads_driver.cpp, C++20 with src/loss) and the
// kernels (loss_heads.cu, nvcc C++17, no src/ headers) meet only here.
// One block per row; asynchronous on `stream`; return the launch error
// (cudaErrorInvalidValue for more than 2^31 - 1 rows).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/loss_heads_math.h"

namespace disa::kernels {

// out[i] = sum over row i of accumulate_row (rows x columns entries).
template <class Real>
cudaError_t launch_row_sums(const TokenFields<Real>& f, std::int64_t rows, std::int64_t columns, RowSums* out,
                            cudaStream_t stream);

// grad[k] = token_step(params, plans[i], f, k, .) for every entry; out[i] = the row's
// TokenSums when out is not null.
template <class Real>
cudaError_t launch_token_pass(const TokenFields<Real>& f, std::int64_t rows, std::int64_t columns,
                              const HeadParams& params, const RowPlan* plans, Real* grad, TokenSums* out,
                              cudaStream_t stream);

}  // namespace disa::kernels
