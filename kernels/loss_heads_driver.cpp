// Kernel 2 on the GPU (loss_heads.h): run_loss_passes (loss_heads_passes.h) over the
// CUDA runtime; the launchers are in loss_heads.cu.
#include <cuda_runtime_api.h>

#include <climits>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/loss_heads.h"
#include "kernels/loss_heads_kernels.h"
#include "kernels/loss_heads_passes.h"

namespace disa::kernels {
namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess)
    throw std::runtime_error(std::string("loss heads on the GPU: ") + what + ": " + cudaGetErrorString(e));
}

// Stream-ordered device scratch, freed on every exit path.
template <class T>
class DeviceScratch {
 public:
  DeviceScratch(std::size_t n, cudaStream_t stream) : stream_(stream) {
    check(cudaMallocAsync(reinterpret_cast<void**>(&p_), n * sizeof(T) + 1, stream), "cudaMallocAsync");
  }
  ~DeviceScratch() { cudaFreeAsync(p_, stream_); }
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;
  T* get() const { return p_; }

 private:
  T* p_ = nullptr;
  cudaStream_t stream_;
};

// run_loss_passes' device: the CUDA runtime on one stream.
class CudaPasses {
 public:
  explicit CudaPasses(cudaStream_t stream) : stream_(stream) {}
  template <class T>
  DeviceScratch<T> scratch(std::size_t n) const {
    return DeviceScratch<T>(n, stream_);
  }
  template <class T>
  std::vector<T> to_host(const T* d, std::size_t n) const {
    std::vector<T> h(n);
    if (d != nullptr && n > 0)
      check(cudaMemcpyAsync(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost, stream_), "copy to host");
    return h;
  }
  template <class T>
  void to_device(T* d, const T* h, std::size_t n) const {
    check(cudaMemcpyAsync(d, h, n * sizeof(T), cudaMemcpyHostToDevice, stream_), "copy to device");
  }
  template <class Real>
  void row_sums(const TokenFields<Real>& f, std::int64_t rows, std::int64_t columns, RowSums* out) const {
    check(launch_row_sums(f, rows, columns, out, stream_), "row sums launch");
  }
  template <class Real>
  void token_pass(const TokenFields<Real>& f, std::int64_t rows, std::int64_t columns, const HeadParams& params,
                  const RowPlan* plans, Real* grad, TokenSums* out) const {
    check(launch_token_pass(f, rows, columns, params, plans, grad, out, stream_), "token pass launch");
  }
  void sync(const char* what) const { check(cudaStreamSynchronize(stream_), what); }

 private:
  cudaStream_t stream_;
};

}  // namespace

template <class Real>
disa::loss::LossResult<Real> compute_loss_cuda(const disa::loss::Objective& objective,
                                               const DeviceLossBatch<Real>& batch, Real* grad_logp, Real* grad_log_z,
                                               cudaStream_t stream) {
  CudaPasses device(stream);
  disa::loss::LossResult<Real> result = run_loss_passes(objective, batch, grad_logp, device);
  if (grad_log_z != nullptr && !result.grad_log_z.empty()) {
    device.to_device(grad_log_z, result.grad_log_z.data(), batch.rows);
    device.sync("copy grad_log_z");
  }
  result.grad_log_z.clear();
  return result;
}

template disa::loss::LossResult<float> compute_loss_cuda<float>(const disa::loss::Objective&,
                                                                const DeviceLossBatch<float>&, float*, float*,
                                                                cudaStream_t);
template disa::loss::LossResult<double> compute_loss_cuda<double>(const disa::loss::Objective&,
                                                                  const DeviceLossBatch<double>&, double*, double*,
                                                                  cudaStream_t);

}  // namespace disa::kernels
