// bench_kernels: the CUDA kernels of kernels/ at the sizes, each validated against
// its CPU reference on a slice before it is timed (every output poisoned with NaN first);
// prints ms, achieved GB/s (bytes formula beside each) and its fraction of the theoretical
// peak bandwidth and of a device-to-device copy measured in the same run.
//
//   bench_kernels [--rows=16384] [--vocab=151936] [--reps=10] [--fp32] [--validate-only]
//                 [--loss-rows=1024] [--loss-columns=4096] [--segments=10000]
//                 [--segment-size=10000] [--no-torch]
//
// Kernel 1 (token log-probs, bf16; fp32 with --fp32), kernel 2 (loss heads, float32),
// kernel 3 (log Zhat + ESS), and LibTorch eager log_softmax + gather (fwd+bwd) beside
// kernel 1 when LibTorch sees a CUDA device. Without a device: prints
// "no CUDA device: skipped" and exits 0.
#include <cuda_runtime.h>  // the typed cudaMalloc overload

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_args.h"
#include "bench/bench_kernels_common.h"
#include "kernels/log_z_hat.h"
#include "kernels/token_logprobs.h"

namespace disa::bench {

// bench_kernels_loss.cpp; bench_kernels_torch.cpp (or its stub without LibTorch).
void bench_loss_heads(const KernelBenchOptions& o, const Bandwidths& bw);
void bench_torch_eager(std::int64_t rows, std::int64_t vocab, int reps, const Bandwidths& bw, double ours_ms);

namespace {

using disa::kernels::bf16;

bool close(double got, double want, double abs, double rel) {
  if (std::isnan(want)) return std::isnan(got);
  if (std::isinf(want)) return got == want;
  return std::fabs(got - want) <= abs + rel * std::fabs(want);
}

template <class Elem>
double bench_token_logprobs(const KernelBenchOptions& o, const Bandwidths& bw, const char* dtype) {
  const std::int64_t N = o.rows, V = o.vocab;
  const std::size_t total = std::size_t(N) * std::size_t(V);
  Elem* logits = nullptr;
  std::int64_t* target = nullptr;
  float *logp = nullptr, *lse = nullptr, *ent = nullptr, *g = nullptr;
  cuda_check(cudaMalloc(&logits, total * sizeof(Elem)), "cudaMalloc logits");
  cuda_check(cudaMalloc(&target, N * sizeof(std::int64_t)), "cudaMalloc");
  cuda_check(cudaMalloc(&logp, N * sizeof(float)), "cudaMalloc");
  cuda_check(cudaMalloc(&lse, N * sizeof(float)), "cudaMalloc");
  cuda_check(cudaMalloc(&ent, N * sizeof(float)), "cudaMalloc");
  cuda_check(cudaMalloc(&g, N * sizeof(float)), "cudaMalloc");
  // Seeded logits: one random tile copied over the buffer (the values do not matter for
  // the timing; the validation below reads the real buffer).
  std::mt19937_64 rng(1);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  const std::size_t tile = std::min<std::size_t>(total, std::size_t(1) << 23);
  std::vector<Elem> host(tile);
  for (auto& x : host) x = disa::kernels::from_float<Elem>(normal(rng));
  for (std::size_t at = 0; at < total; at += tile)
    cuda_check(cudaMemcpy(logits + at, host.data(), std::min(tile, total - at) * sizeof(Elem), cudaMemcpyHostToDevice),
               "fill logits");
  std::vector<std::int64_t> t(N);
  std::vector<float> gh(N);
  for (std::int64_t r = 0; r < N; ++r) {
    t[r] = std::int64_t(rng() % std::uint64_t(V));
    gh[r] = normal(rng);
  }
  cuda_check(cudaMemcpy(target, t.data(), N * sizeof(std::int64_t), cudaMemcpyHostToDevice), "copy");
  cuda_check(cudaMemcpy(g, gh.data(), N * sizeof(float), cudaMemcpyHostToDevice), "copy");

  // Validate on the first rows (forward with entropy, then backward out of place).
  const std::int64_t vn = std::min<std::int64_t>(N, 16);
  {
    std::vector<Elem> slice(std::size_t(vn) * V);
    cuda_check(cudaMemcpy(slice.data(), logits, slice.size() * sizeof(Elem), cudaMemcpyDeviceToHost), "copy");
    for (float* p : {logp, lse, ent}) poison(p, N * sizeof(float));
    cuda_check(disa::kernels::token_logprobs_cuda(logits, target, vn, V, logp, lse, ent), "forward");
    std::vector<float> glp(vn), gls(vn), gen(vn), rlp(vn), rls(vn), ren(vn);
    cuda_check(cudaMemcpy(glp.data(), logp, vn * sizeof(float), cudaMemcpyDeviceToHost), "copy");
    cuda_check(cudaMemcpy(gls.data(), lse, vn * sizeof(float), cudaMemcpyDeviceToHost), "copy");
    cuda_check(cudaMemcpy(gen.data(), ent, vn * sizeof(float), cudaMemcpyDeviceToHost), "copy");
    disa::kernels::token_logprobs_ref(slice.data(), t.data(), vn, V, rlp.data(), rls.data(), ren.data());
    int bad = 0;
    for (std::int64_t r = 0; r < vn; ++r) {
      // the checker's tolerances (tests/kernels/token_logprobs_test.cpp)
      const bool row_ok = close(glp[r], rlp[r], 1e-4, 1e-5) && close(gls[r], rls[r], 1e-4, 1e-5) &&
                          close(gen[r], ren[r], 2e-3, 1e-4);
      if (!row_ok && bad++ < 5) {
        std::printf("  row %lld: logp %g vs %g, lse %g vs %g, entropy %g vs %g\n", (long long)r, glp[r], rlp[r],
                    gls[r], rls[r], gen[r], ren[r]);
      }
    }
    Elem* out = nullptr;
    cuda_check(cudaMalloc(&out, slice.size() * sizeof(Elem)), "cudaMalloc");
    poison(out, slice.size() * sizeof(Elem));
    cuda_check(disa::kernels::token_logprobs_backward_cuda(logits, target, lse, logp, g, vn, V, out), "backward");
    std::vector<Elem> got(slice.size()), want(slice.size());
    cuda_check(cudaMemcpy(got.data(), out, got.size() * sizeof(Elem), cudaMemcpyDeviceToHost), "copy");
    cudaFree(out);
    disa::kernels::token_logprobs_backward_ref(slice.data(), t.data(), gls.data(), glp.data(), gh.data(), vn, V,
                                               want.data());
    const double rel = sizeof(Elem) == 2 ? 0x1p-7 : 1e-5;
    for (std::size_t k = 0; k < got.size(); ++k) {
      const double a = disa::kernels::to_float(got[k]), b = disa::kernels::to_float(want[k]);
      if (!close(a, b, 1e-6, rel) && bad++ < 5) std::printf("  dlogits[%zu]: %g vs %g\n", k, a, b);
    }
    validated(std::string("token_logprobs ") + dtype, bad);
  }
  if (o.validate_only) {
    cudaFree(logits);
    return 0;
  }
  const double s = sizeof(Elem);
  // forward: read N V logits + N targets (8 B), write logp and lse (4 B each) [+ entropy]
  const double fwd_bytes = double(N) * V * s + N * 8.0 + N * 8.0;
  const double fwd_ms =
      time_ms([&] { cuda_check(disa::kernels::token_logprobs_cuda(logits, target, N, V, logp, lse, nullptr), "fwd"); },
              o.reps);
  report(std::string("token_logprobs fwd ") + dtype, fwd_ms, fwd_bytes, bw);
  const double fwd_ent_ms =
      time_ms([&] { cuda_check(disa::kernels::token_logprobs_cuda(logits, target, N, V, logp, lse, ent), "fwd"); },
              o.reps);
  report(std::string("token_logprobs fwd+entropy ") + dtype, fwd_ent_ms, fwd_bytes + N * 4.0, bw);
  // backward in place: read and write N V logits, read N targets, lse, logp and g (8 + 4 + 4 + 4 B)
  const double bwd_bytes = 2.0 * N * V * s + N * 20.0;
  const double bwd_ms = time_ms(
      [&] {
        cuda_check(disa::kernels::token_logprobs_backward_cuda(logits, target, lse, logp, g, N, V, logits), "bwd");
      },
      o.reps);
  report(std::string("token_logprobs bwd (in place) ") + dtype, bwd_ms, bwd_bytes, bw);
  // forward + backward: the sum of both formulas
  report(std::string("token_logprobs fwd+bwd ") + dtype, fwd_ms + bwd_ms, fwd_bytes + bwd_bytes, bw);
  cudaFree(logits);
  cudaFree(target);
  cudaFree(logp);
  cudaFree(lse);
  cudaFree(ent);
  cudaFree(g);
  return fwd_ms + bwd_ms;
}

void bench_log_z_hat(const KernelBenchOptions& o, const Bandwidths& bw) {
  const std::int64_t S = o.segments, L = o.segment_size, total = S * L;
  std::vector<double> x(total);
  std::mt19937_64 rng(3);
  std::normal_distribution<double> normal(-20.0, 5.0);
  for (double& v : x) v = normal(rng);
  std::vector<std::int64_t> offset(S + 1);
  for (std::int64_t s = 0; s <= S; ++s) offset[s] = s * L;
  double *dx, *lz, *ess, *mw;
  std::int64_t* doff;
  int* st;
  cuda_check(cudaMalloc(&dx, total * sizeof(double)), "cudaMalloc");
  cuda_check(cudaMalloc(&doff, (S + 1) * sizeof(std::int64_t)), "cudaMalloc");
  cuda_check(cudaMalloc(&lz, S * sizeof(double)), "cudaMalloc");
  cuda_check(cudaMalloc(&ess, S * sizeof(double)), "cudaMalloc");
  cuda_check(cudaMalloc(&mw, S * sizeof(double)), "cudaMalloc");
  cuda_check(cudaMalloc(&st, S * sizeof(int)), "cudaMalloc");
  cuda_check(cudaMemcpy(dx, x.data(), total * sizeof(double), cudaMemcpyHostToDevice), "copy");
  cuda_check(cudaMemcpy(doff, offset.data(), (S + 1) * sizeof(std::int64_t), cudaMemcpyHostToDevice), "copy");
  {  // validate the first segments
    const std::int64_t vs = std::min<std::int64_t>(S, 50);
    for (double* p : {lz, ess, mw}) poison(p, S * sizeof(double));
    poison(st, S * sizeof(int));
    cuda_check(disa::kernels::log_z_hat_cuda(dx, doff, vs, lz, ess, mw, st), "log_z_hat");
    std::vector<double> g1(vs), g2(vs), g3(vs), r1(vs), r2(vs), r3(vs);
    std::vector<int> gs(vs), rs(vs);
    cuda_check(cudaMemcpy(g1.data(), lz, vs * sizeof(double), cudaMemcpyDeviceToHost), "copy");
    cuda_check(cudaMemcpy(g2.data(), ess, vs * sizeof(double), cudaMemcpyDeviceToHost), "copy");
    cuda_check(cudaMemcpy(g3.data(), mw, vs * sizeof(double), cudaMemcpyDeviceToHost), "copy");
    cuda_check(cudaMemcpy(gs.data(), st, vs * sizeof(int), cudaMemcpyDeviceToHost), "copy");
    disa::kernels::log_z_hat_ref(x.data(), offset.data(), vs, r1.data(), r2.data(), r3.data(), rs.data());
    int bad = 0;
    for (std::int64_t s = 0; s < vs; ++s) {
      bad += !close(g1[s], r1[s], 1e-12, 1e-12) + !close(g2[s], r2[s], 1e-12, 1e-12) +
             !close(g3[s], r3[s], 1e-12, 1e-12) + (gs[s] != rs[s]);
    }
    validated("log_z_hat", bad);
  }
  if (!o.validate_only) {
    // read S L log-weights (8 B) and S + 1 offsets (8 B); write 3 doubles and a status per segment
    const double bytes = total * 8.0 + (S + 1) * 8.0 + S * 28.0;
    const double ms =
        time_ms([&] { cuda_check(disa::kernels::log_z_hat_cuda(dx, doff, S, lz, ess, mw, st), "log_z_hat"); }, o.reps);
    report("log_z_hat (" + std::to_string(S) + " x " + std::to_string(L) + ")", ms, bytes, bw);
  }
  cudaFree(dx);
  cudaFree(doff);
  cudaFree(lz);
  cudaFree(ess);
  cudaFree(mw);
  cudaFree(st);
}

}  // namespace
}  // namespace disa::bench

int main(int argc, char** argv) {
  using namespace disa::bench;
  KernelBenchOptions o;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--fp32") o.fp32 = true;
      else if (a == "--validate-only") o.validate_only = true;
      else if (a == "--no-torch") o.torch = false;
      else if (!(take_flag(a, "--rows", &o.rows) || take_flag(a, "--vocab", &o.vocab) || take_flag(a, "--reps", &o.reps) ||
                 take_flag(a, "--loss-rows", &o.loss_rows) || take_flag(a, "--loss-columns", &o.loss_columns) ||
                 take_flag(a, "--segments", &o.segments) || take_flag(a, "--segment-size", &o.segment_size))) {
        std::fprintf(stderr, "bench_kernels: unknown argument %s (see the comment at the top of bench_kernels.cpp)\n",
                     a.c_str());
        return 2;
      }
    }
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "bench_kernels: %s\n", e.what());
    return 2;
  }
  if (o.rows < 1 || o.vocab < 1 || o.reps < 1 || o.loss_rows < 1 || o.loss_columns < 1 || o.segments < 1 ||
      o.segment_size < 1) {
    std::fprintf(stderr, "bench_kernels: --rows, --vocab, --reps, --loss-rows, --loss-columns, --segments and "
                         "--segment-size must be >= 1\n");
    return 2;
  }
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    std::printf("no CUDA device: skipped (cudaGetDeviceCount: %s)\n", cudaGetErrorString(e));
    return 0;
  }
  int device = 0;
  cuda_check(cudaGetDevice(&device), "cudaGetDevice");
  cudaDeviceProp prop;
  cuda_check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
  Bandwidths bw;
  bw.peak = peak_bandwidth(device);
  std::printf("device %s (sm_%d%d), theoretical peak bandwidth %.1f GB/s\n", prop.name, prop.major, prop.minor,
              bw.peak / 1e9);
  bw.copy = measure_copy_bandwidth(o.reps, bw.peak);
  std::printf("kernel 1: N = %lld rows, V = %lld\n", (long long)o.rows, (long long)o.vocab);
  const double ours_ms = bench_token_logprobs<disa::kernels::bf16>(o, bw, "bf16");
  if (o.fp32) bench_token_logprobs<float>(o, bw, "fp32");
  if (o.torch && !o.validate_only) bench_torch_eager(o.rows, o.vocab, o.reps, bw, ours_ms);
  bench_loss_heads(o, bw);
  bench_log_z_hat(o, bw);
  return 0;
}
