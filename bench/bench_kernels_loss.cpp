// bench_kernels, kernel 2: the loss heads on the GPU (float32), each validated against
// disa::loss::compute_loss on a small batch, then timed end to end (two passes, the
// host plan and the three small copies between them) on a B x T batch.
#include <cuda_runtime.h>  // the typed cudaMalloc overload

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/bench_kernels_common.h"
#include "kernels/loss_heads.h"
#include "tests/kernels/loss_batches.h"

namespace disa::bench {

namespace {

namespace L = disa::loss;
using disa::kernels_test::make_batch;

template <class T>
T* upload(const std::vector<T>& h) {
  if (h.empty()) return nullptr;
  T* d = nullptr;
  cuda_check(cudaMalloc(&d, h.size() * sizeof(T)), "cudaMalloc");
  cuda_check(cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice), "copy");
  return d;
}

struct OnDevice {
  disa::kernels::DeviceLossBatch<float> batch;
  float *grad = nullptr, *grad_log_z = nullptr;
  std::vector<void*> owned;
  explicit OnDevice(const L::BatchData<float>& d) {
    batch.rows = d.rows;
    batch.columns = d.columns;
    auto keep = [&](auto* p) { owned.push_back(p); return p; };
    batch.logp = keep(upload(d.logp));
    batch.logp_old = keep(upload(d.logp_old));
    batch.logp_ref = keep(upload(d.logp_ref));
    batch.mask = keep(upload(d.mask));
    batch.reward = keep(upload(d.reward));
    batch.log_z = keep(upload(d.log_z));
    batch.group = keep(upload(d.group));
    batch.advantages = keep(upload(d.advantages));
    batch.advantages_size = d.advantages.size();
    cuda_check(cudaMalloc(&grad, d.rows * d.columns * sizeof(float)), "cudaMalloc");
    cuda_check(cudaMalloc(&grad_log_z, d.rows * sizeof(float)), "cudaMalloc");
    poison(grad, d.rows * d.columns * sizeof(float));  // the validation reads both back
    poison(grad_log_z, d.rows * sizeof(float));
  }
  ~OnDevice() {
    for (void* p : owned) cudaFree(p);
    cudaFree(grad);
    cudaFree(grad_log_z);
  }
  L::LossResult<float> run(const L::Objective& objective) {
    L::LossResult<float> r = disa::kernels::compute_loss_cuda<float>(objective, batch, grad, grad_log_z);
    r.grad_logp.resize(batch.rows * batch.columns);
    cuda_check(cudaMemcpy(r.grad_logp.data(), grad, r.grad_logp.size() * sizeof(float), cudaMemcpyDeviceToHost), "copy");
    if (L::has_log_z_gradient(objective)) {
      r.grad_log_z.resize(batch.rows);
      cuda_check(cudaMemcpy(r.grad_log_z.data(), grad_log_z, batch.rows * sizeof(float), cudaMemcpyDeviceToHost), "copy");
    }
    return r;
  }
};

}  // namespace

void bench_loss_heads(const KernelBenchOptions& o, const Bandwidths& bw) {
  struct Head {
    const char* label;
    const char* name;
    std::vector<std::string> settings;
    int token_arrays;  // B x T float arrays pass 1 reads (mask, logp and the head's logp_old, logp_ref)
    int pass3_arrays;  // those pass 3 reads at a valid token besides the mask
  };
  const std::vector<Head> heads = {
      {"tb", "tb", {}, 3, 0},  // pass 3 writes the row's fill at valid tokens
      {"flowrl", "flowrl", {}, 4, 0},
      {"grpo (kl k3)", "grpo", {"kl_coef=0.1"}, 4, 3},  // logp, logp_old (clip), logp_ref (KL)
      {"gspo", "gspo", {}, 3, 0},  // the sequence ratio comes from pass 1's sums
  };
  const L::BatchData<float> small = disa::kernels_test::to_float(make_batch({32, 257, 11}));
  L::BatchData<float> big;
  if (!o.validate_only) {
    std::printf("kernel 2: B = %lld rows, T = %lld tokens, float32\n", (long long)o.loss_rows, (long long)o.loss_columns);
    disa::kernels_test::BatchSpec spec;
    spec.rows = std::size_t(o.loss_rows);
    spec.columns = std::size_t(o.loss_columns);
    spec.seed = 12;
    spec.holes = false;
    big = disa::kernels_test::to_float(make_batch(spec));
  }
  for (const Head& h : heads) {
    const L::Objective objective = L::make_objective(h.name, h.settings);
    {
      OnDevice d(small);
      const L::LossResult<float> want = L::compute_loss<float>(objective, small.view());
      const L::LossResult<float> got = d.run(objective);
      // abs + rel * |ref| in float32, as tests/kernels/loss_heads_test.cpp
      int bad = 0;
      if (std::fabs(got.loss - want.loss) > 1e-6 + 1e-5 * std::fabs(want.loss)) ++bad;
      for (std::size_t k = 0; k < want.grad_logp.size(); ++k)
        bad += std::fabs(got.grad_logp[k] - want.grad_logp[k]) > 1e-6 + 1e-5 * std::fabs(want.grad_logp[k]);
      for (std::size_t k = 0; k < want.grad_log_z.size(); ++k)
        bad += std::fabs(got.grad_log_z[k] - want.grad_log_z[k]) > 1e-6 + 1e-5 * std::fabs(want.grad_log_z[k]);
      validated(std::string("loss_heads ") + h.label, bad);
    }
    if (o.validate_only) continue;
    OnDevice d(big);
    // Both passes read the whole mask and skip a padded token before any other load
    // (loss_heads_math.h), so the other arrays cost only at the V valid tokens: pass 1
    // reads token_arrays - 1 of them, pass 3 pass3_arrays, and writes grad_logp (B x T,
    // 0 at padding). Per-row traffic (B x ~100 B) is ignored. The batch's arrays are 16 MB
    // each at the default shape, under the H100's 50 MB L2: pass 3's re-reads may partly
    // hit L2, so the GB/s is an upper bound on DRAM traffic.
    const double BT = double(big.rows) * double(big.columns);
    double valid = 0;
    for (const float m : big.mask) valid += m != 0.0f;
    const double bytes = 4.0 * (3.0 * BT + valid * double(h.token_arrays - 1 + h.pass3_arrays));
    if (&h == &heads.front()) std::printf("kernel 2: %.3f of the B x T tokens are valid\n", valid / BT);
    const double ms = time_ms([&] { disa::kernels::compute_loss_cuda<float>(objective, d.batch, d.grad, d.grad_log_z); },
                              o.reps);
    report(std::string("loss_heads ") + h.label, ms, bytes, bw);
  }
}

}  // namespace disa::bench
