// Kernel 2 on the CPU device (cpu_device.h): the kernels of loss_heads_device.cuh under
// the same driver as the GPU's (run_loss_passes), host memory standing in for device
// memory.
#include <cstring>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/loss_heads.h"
#include "kernels/loss_heads_passes.h"
// Last: it defines the CUDA names as macros.
#include "kernels/loss_heads_device.cuh"

namespace disa::kernels {
namespace {

using namespace loss_heads_device;

template <class T>
class HostScratch {
 public:
  explicit HostScratch(std::size_t n) : data_(n + 1) {}  // + 1: a valid pointer for n = 0, as cudaMalloc's
  T* get() { return data_.data(); }

 private:
  std::vector<T> data_;
};

// run_loss_passes' device; launches as loss_heads.cu launches.
class CpuDevicePasses {
 public:
  explicit CpuDevicePasses(const cpu_device::LaunchOptions& options) : options_(options) {}
  template <class T>
  HostScratch<T> scratch(std::size_t n) const {
    return HostScratch<T>(n);
  }
  template <class T>
  std::vector<T> to_host(const T* p, std::size_t n) const {
    return p == nullptr ? std::vector<T>(n) : std::vector<T>(p, p + n);
  }
  template <class T>
  void to_device(T* dst, const T* src, std::size_t n) const {
    if (n > 0) std::memcpy(dst, src, n * sizeof(T));
  }
  template <class Real>
  void row_sums(const TokenFields<Real>& f, std::int64_t rows, std::int64_t columns, RowSums* out) const {
    check_rows(rows);
    cpu_device::launch(&row_sums_kernel<Real>, {static_cast<unsigned>(rows)}, {kThreads}, options_, f, columns, out);
  }
  template <class Real>
  void token_pass(const TokenFields<Real>& f, std::int64_t rows, std::int64_t columns, const HeadParams& params,
                  const RowPlan* plans, Real* grad, TokenSums* out) const {
    check_rows(rows);
    cpu_device::launch(&token_pass_kernel<Real>, {static_cast<unsigned>(rows)}, {kThreads}, options_, f, columns,
                       params, plans, grad, out);
  }
  void sync(const char*) const {}

 private:
  static void check_rows(std::int64_t rows) {
    if (!launchable(rows)) throw std::invalid_argument("loss heads on the CPU device: rows = " + std::to_string(rows));
  }
  const cpu_device::LaunchOptions& options_;
};

// A field the objective reads must have its full size; a ragged one is the CPU head's
// error to report (so the driver sees it as missing and falls back).
template <class T>
const T* sized(std::span<const T> x, std::size_t size) {
  return x.size() == size ? x.data() : nullptr;
}

}  // namespace

template <class Real>
disa::loss::LossResult<Real> compute_loss_cpu_device(const disa::loss::Objective& objective,
                                                     const DeviceLossBatch<Real>& batch, Real* grad_logp,
                                                     Real* grad_log_z, const cpu_device::LaunchOptions& options) {
  CpuDevicePasses device(options);
  disa::loss::LossResult<Real> result = run_loss_passes(objective, batch, grad_logp, device);
  if (grad_log_z != nullptr && !result.grad_log_z.empty())
    std::memcpy(grad_log_z, result.grad_log_z.data(), batch.rows * sizeof(Real));
  result.grad_log_z.clear();
  return result;
}

template <class Real>
disa::loss::LossResult<Real> compute_loss_cpu_device(const disa::loss::Objective& objective,
                                                     const disa::loss::LossBatch<Real>& batch,
                                                     const cpu_device::LaunchOptions& options) {
  const std::size_t B = batch.rows, T = batch.columns;
  DeviceLossBatch<Real> d;
  d.rows = B;
  d.columns = T;
  d.logp = sized(batch.logp, B * T);
  d.logp_old = sized(batch.logp_old, B * T);
  d.logp_ref = sized(batch.logp_ref, B * T);
  d.mask = sized(batch.mask, B * T);
  d.reward = sized(batch.reward, B);
  d.log_z = sized(batch.log_z, B);
  d.group = sized(batch.group, B);
  d.advantages = batch.advantages.empty() ? nullptr : batch.advantages.data();
  d.advantages_size = batch.advantages.size();
  // NaN, not zeros: the GPU's grad_logp is the caller's uninitialised buffer, so an entry
  // the token pass skips must show here too (the checkers compare every entry).
  std::vector<Real> grad(B * T, std::numeric_limits<Real>::quiet_NaN());
  CpuDevicePasses device(options);
  disa::loss::LossResult<Real> result = run_loss_passes(objective, d, grad.data(), device);
  result.grad_logp = std::move(grad);
  return result;
}

#define DISA_INSTANTIATE(Real)                                                                                     \
  template disa::loss::LossResult<Real> compute_loss_cpu_device<Real>(                                            \
      const disa::loss::Objective&, const DeviceLossBatch<Real>&, Real*, Real*, const cpu_device::LaunchOptions&); \
  template disa::loss::LossResult<Real> compute_loss_cpu_device<Real>(                                            \
      const disa::loss::Objective&, const disa::loss::LossBatch<Real>&, const cpu_device::LaunchOptions&);
DISA_INSTANTIATE(float)
DISA_INSTANTIATE(double)
#undef DISA_INSTANTIATE

}  // namespace disa::kernels
