// The GPU driver of kernel 2 (loss_heads.h): pass 1 on the device, pass 2 on the host
// (LossPlan), pass 3 on the device, finish on the host. Host C++ calling the CUDA
// runtime; the kernels are in loss_heads.cu.
#include <cuda_runtime_api.h>

#include <climits>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/loss_heads.h"
#include "kernels/loss_heads_kernels.h"

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

template <class T>
std::vector<T> to_host(const T* d, std::size_t n, cudaStream_t stream) {
  std::vector<T> h(n);
  if (d != nullptr && n > 0)
    check(cudaMemcpyAsync(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost, stream), "copy to host");
  return h;
}

}  // namespace

template <class Real>
disa::loss::LossResult<Real> compute_loss_cuda(const disa::loss::Objective& objective,
                                               const DeviceLossBatch<Real>& batch, Real* grad_logp, Real* grad_log_z,
                                               cudaStream_t stream) {
  using namespace disa::loss;
  const std::size_t B = batch.rows, T = batch.columns;
  LossPlan<Real> plan(objective, B, T, batch.advantages_size);
  if (B > static_cast<std::size_t>(INT_MAX)) throw LossFallback("more than 2^31 - 1 rows");
  if (grad_logp == nullptr) throw std::invalid_argument("compute_loss_cuda: grad_logp is required");
  const unsigned f = plan.fields();
  auto field = [&](unsigned bit, const Real* p) -> const Real* {
    if (!(f & bit)) return nullptr;
    if (p == nullptr) throw LossFallback("a needed field is missing");
    return p;
  };
  TokenFields<Real> tf;
  tf.logp = field(kLogp, batch.logp);
  tf.mask = field(kMask, batch.mask);
  tf.logp_old = field(kLogpOld, batch.logp_old);
  tf.logp_ref = field(kLogpRef, batch.logp_ref);
  if ((f & kAdvantages) && plan.advantages() == AdvantageSource::per_token) tf.advantages = batch.advantages;
  const auto rows = static_cast<std::int64_t>(B);
  const auto columns = static_cast<std::int64_t>(T);

  // Pass 1, and the per-sequence inputs for pass 2.
  DeviceScratch<RowSums> d_sums(B, stream);
  check(launch_row_sums(tf, rows, columns, d_sums.get(), stream), "row sums launch");
  const std::vector<RowSums> sums = to_host(d_sums.get(), B, stream);
  HostRowInputs<Real> in;
  if (batch.reward) in.reward = to_host(batch.reward, B, stream);
  if (batch.log_z) in.log_z = to_host(batch.log_z, B, stream);
  if (batch.group) in.group = to_host(batch.group, B, stream);
  if (batch.advantages && plan.advantages() == AdvantageSource::given_per_sequence)
    in.advantages = to_host(batch.advantages, batch.advantages_size, stream);
  check(cudaStreamSynchronize(stream), "row sums");

  // Pass 2 (host), pass 3.
  plan.plan_rows(sums, in);
  DeviceScratch<RowPlan> d_plans(B, stream);
  check(cudaMemcpyAsync(d_plans.get(), plan.rows().data(), B * sizeof(RowPlan), cudaMemcpyHostToDevice, stream),
        "copy row plans");
  DeviceScratch<TokenSums> d_token_sums(B, stream);
  TokenSums* token_out = plan.needs_token_sums() ? d_token_sums.get() : nullptr;
  check(launch_token_pass(tf, rows, columns, plan.params(), d_plans.get(), grad_logp, token_out, stream),
        "token pass launch");
  const std::vector<TokenSums> token_sums =
      plan.needs_token_sums() ? to_host(d_token_sums.get(), B, stream) : std::vector<TokenSums>{};
  check(cudaStreamSynchronize(stream), "token pass");

  LossResult<Real> result = plan.finish(token_sums);
  if (grad_log_z != nullptr && plan.has_log_z_gradient()) {
    check(cudaMemcpyAsync(grad_log_z, result.grad_log_z.data(), B * sizeof(Real), cudaMemcpyHostToDevice, stream),
          "copy grad_log_z");
    check(cudaStreamSynchronize(stream), "copy grad_log_z");
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
