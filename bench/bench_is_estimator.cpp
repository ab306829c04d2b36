// bench_is_estimator: the importance-sampled log Zhat (src/is_estimator.h) over
// 10^8 log-weights (800 MB), PSIS off and on, flat and segmented, at 1 and 2 OpenMP
// threads, beside the same machine's memory read bandwidth.
//
//   bench_is_estimator [--n=100000000] [--segment-size=10000] [--validate-only]
//                      [google benchmark flags, e.g. --benchmark_filter=psis:0]
//
// Input: log w_i = z_i, z_i ~ N(0, 1) from the counter-based RNG (seed 1), so the
// weights are lognormal(0, 1) (chi2 = e - 1, log Z = 1/2).
//
// Before anything is timed the program validates, and exits 1 on a failure:
//   - constant log-weights c (the whole array): log Zhat = c (to 1e-12), ESS = N,
//     flat and segmented;
//   - the random array: segmented results identical bit for bit at 1 and 2
//     threads, equal to estimate_log_partition on the segments (first and last),
//     and log Zhat within 6 sd of the exact 1/2.
// --validate-only stops there and prints {"log_z_hat": ..., "n": ..., "ess": ...}.
//
// Benchmarks (wall-clock, UseRealTime):
//   flat/psis:P                 estimate_log_partition on all N (one prompt; serial)
//   segmented/S x L/psis:P/threads:T
//                               estimate_log_partition_segmented, S segments of L
//                               (default 10^4 x 10^4) and 1 x N (one segment: the
//                               OpenMP loop is over segments, so it stays serial)
//   memory_read/threads:T       sum of the same 800 MB array: the read-bandwidth ceiling
//
// Counters. bytes = 8 N per call: the input read once (the estimator reads it
// twice, a check pass and a weight pass, and PSIS copies it and partially sorts
// its tail; none of that is counted, so GBps (= bytes_per_second / 1e9) is the rate
// at which a caller's log-weights are consumed). read_GBps is the memory_read rate
// at the same thread count, measured in this program before the benchmarks run
// (best of 5 sums over the same array); read_bw_fraction = GBps / read_GBps.
#include <omp.h>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_args.h"
#include "src/counter_rng.h"
#include "src/is_estimator.h"

namespace {

struct Setup {
  std::int64_t n = 100000000;
  std::int64_t segment_size = 10000;
  std::vector<double> log_w;
  std::vector<std::int64_t> offset_many, offset_one;
  double read_bw[3] = {0, 0, 0};  // bytes/s at 1 and 2 threads
};
Setup* g = nullptr;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "bench_is_estimator: %s\n", what.c_str());
  std::exit(1);
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

bool identical(const disa::IsEstimate& a, const disa::IsEstimate& b) {
  return a.n == b.n && same_bits(a.log_z_hat, b.log_z_hat) && same_bits(a.ess, b.ess) &&
         same_bits(a.chi2_hat, b.chi2_hat) && same_bits(a.max_weight, b.max_weight) &&
         same_bits(a.k_hat, b.k_hat) && same_bits(a.log_z_psis, b.log_z_psis) && same_bits(a.ci_low, b.ci_low) &&
         same_bits(a.ci_high, b.ci_high) && a.flags == b.flags;
}

double sum_array(const double* a, std::int64_t n) {
  double sum = 0.0;
  // simd: several partial sums, so the loop is limited by memory, not by one chain.
#pragma omp parallel for simd schedule(static) reduction(+ : sum)
  for (std::int64_t i = 0; i < n; ++i) sum += a[i];
  return sum;
}

double measure_read_bandwidth(int threads) {
  omp_set_num_threads(threads);
  double best = 1e300;
  for (int rep = 0; rep < 5; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    double s = sum_array(g->log_w.data(), g->n);
    benchmark::DoNotOptimize(s);
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return 8.0 * static_cast<double>(g->n) / best;
}

void fill(double constant, bool random) {
  const disa::CounterRng rng(1, 0);
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < g->n; ++i) g->log_w[i] = random ? rng.normal(static_cast<std::uint64_t>(i)) : constant;
}

void validate() {
  disa::IsOptions off;
  off.psis = false;
  // Constant log-weights: log Zhat = c exactly up to the rounding of m + log S - log N.
  const double c = -3.375;
  fill(c, false);
  const disa::IsEstimate flat = disa::estimate_log_partition(g->log_w, off);
  if (!(std::fabs(flat.log_z_hat - c) < 1e-12) || !(std::fabs(flat.ess / g->n - 1.0) < 1e-12)) {
    fail("constant log-weights: log Zhat = " + std::to_string(flat.log_z_hat) + ", ESS = " + std::to_string(flat.ess));
  }
  omp_set_num_threads(2);
  for (const disa::IsEstimate& e : disa::estimate_log_partition_segmented(g->log_w, g->offset_many, off)) {
    if (!(std::fabs(e.log_z_hat - c) < 1e-12)) fail("constant log-weights, segmented: " + std::to_string(e.log_z_hat));
  }
  // Random log-weights: thread count and segmentation change nothing.
  fill(0.0, true);
  for (const bool psis : {false, true}) {
    disa::IsOptions o;
    o.psis = psis;
    omp_set_num_threads(1);
    const std::vector<disa::IsEstimate> one = disa::estimate_log_partition_segmented(g->log_w, g->offset_many, o);
    omp_set_num_threads(2);
    const std::vector<disa::IsEstimate> two = disa::estimate_log_partition_segmented(g->log_w, g->offset_many, o);
    for (std::size_t s = 0; s < one.size(); ++s) {
      if (!identical(one[s], two[s])) fail("segmented: segment " + std::to_string(s) + " differs between 1 and 2 threads");
    }
    for (const std::size_t s : {std::size_t{0}, one.size() - 1}) {
      const std::span<const double> seg(g->log_w.data() + g->offset_many[s],
                                        static_cast<std::size_t>(g->offset_many[s + 1] - g->offset_many[s]));
      if (!identical(one[s], disa::estimate_log_partition(seg, o))) {
        fail("segmented: segment " + std::to_string(s) + " differs from estimate_log_partition");
      }
    }
  }
  const disa::IsEstimate e = disa::estimate_log_partition(g->log_w, off);
  // lognormal(0, 1) weights: log Z = 1/2, sd(log Zhat) = sqrt((e - 1) / N).
  const double sd = std::sqrt((std::exp(1.0) - 1.0) / static_cast<double>(g->n));
  if (!(std::fabs(e.log_z_hat - 0.5) < 6 * sd)) fail("random log-weights: log Zhat = " + std::to_string(e.log_z_hat));
}

using Clock = std::chrono::steady_clock;

// `seconds`: wall time of the timed loop, measured around it (iterations take
// >= 60 ms, so the loop's own overhead is negligible).
void set_counters(benchmark::State& state, int threads, double seconds) {
  const double bytes = 8.0 * static_cast<double>(g->n) * static_cast<double>(state.iterations());
  state.counters["threads"] = threads;
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  state.counters["GBps"] = bytes / seconds / 1e9;
  state.counters["read_GBps"] = g->read_bw[threads] / 1e9;
  state.counters["read_bw_fraction"] = bytes / seconds / g->read_bw[threads];
}

void BM_Flat(benchmark::State& state, bool psis) {
  disa::IsOptions o;
  o.psis = psis;
  const auto t0 = Clock::now();
  for (auto _ : state) {
    disa::IsEstimate e = disa::estimate_log_partition(g->log_w, o);
    benchmark::DoNotOptimize(e.log_z_hat);
  }
  set_counters(state, 1, std::chrono::duration<double>(Clock::now() - t0).count());
}

void BM_Segmented(benchmark::State& state, bool psis, int threads, bool one_segment) {
  disa::IsOptions o;
  o.psis = psis;
  omp_set_num_threads(threads);
  const std::vector<std::int64_t>& offset = one_segment ? g->offset_one : g->offset_many;
  const auto t0 = Clock::now();
  for (auto _ : state) {
    std::vector<disa::IsEstimate> e = disa::estimate_log_partition_segmented(g->log_w, offset, o);
    benchmark::DoNotOptimize(e.data());
  }
  set_counters(state, threads, std::chrono::duration<double>(Clock::now() - t0).count());
  state.counters["segments"] = static_cast<double>(offset.size() - 1);
}

void BM_MemoryRead(benchmark::State& state, int threads) {
  omp_set_num_threads(threads);
  const auto t0 = Clock::now();
  for (auto _ : state) {
    double s = sum_array(g->log_w.data(), g->n);
    benchmark::DoNotOptimize(s);
  }
  set_counters(state, threads, std::chrono::duration<double>(Clock::now() - t0).count());
}

using disa::bench::take_flag;

}  // namespace

int main(int argc, char** argv) {
  Setup setup;
  g = &setup;
  bool validate_only = false;
  std::vector<char*> rest{argv[0]};
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg == "--validate-only") {
        validate_only = true;
      } else if (!(take_flag(arg, "--n", &setup.n) || take_flag(arg, "--segment-size", &setup.segment_size))) {
        rest.push_back(argv[i]);  // google benchmark's
      }
    }
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "bench_is_estimator: %s\n", e.what());
    return 2;
  }
  if (setup.n < 1 || setup.segment_size < 1 || setup.n % setup.segment_size != 0) {
    std::fprintf(stderr, "bench_is_estimator: need n >= 1 and segment-size >= 1 dividing n\n");
    return 2;
  }
  setup.log_w.resize(static_cast<std::size_t>(setup.n));
  for (std::int64_t s = 0; s <= setup.n / setup.segment_size; ++s) setup.offset_many.push_back(s * setup.segment_size);
  setup.offset_one = {0, setup.n};
  validate();  // leaves the random log-weights in place
  if (validate_only) {
    disa::IsOptions off;
    off.psis = false;
    const disa::IsEstimate e = disa::estimate_log_partition(setup.log_w, off);
    std::printf("{\"log_z_hat\": %.17g, \"n\": %lld, \"ess\": %.17g}\n", e.log_z_hat,
                static_cast<long long>(setup.n), e.ess);
    return 0;
  }
  setup.read_bw[1] = measure_read_bandwidth(1);
  setup.read_bw[2] = measure_read_bandwidth(2);
  benchmark::AddCustomContext("n", std::to_string(setup.n));
  benchmark::AddCustomContext("segment_size", std::to_string(setup.segment_size));
  benchmark::AddCustomContext("read_bw_GBps_1_thread", std::to_string(setup.read_bw[1] / 1e9));
  benchmark::AddCustomContext("read_bw_GBps_2_threads", std::to_string(setup.read_bw[2] / 1e9));

  const std::string many = std::to_string(setup.n / setup.segment_size) + "x" + std::to_string(setup.segment_size);
  const std::string one = "1x" + std::to_string(setup.n);
  for (int threads : {1, 2}) {
    benchmark::RegisterBenchmark(("memory_read/threads:" + std::to_string(threads)).c_str(), BM_MemoryRead, threads)
        ->UseRealTime()->Unit(benchmark::kMillisecond);
  }
  for (bool psis : {false, true}) {
    const std::string p = psis ? "/psis:1" : "/psis:0";
    // One iteration of the flat PSIS run selects the tail of all N (nth_element, then a
    // sort of the tail): seconds at this N, so time it once.
    auto* flat = benchmark::RegisterBenchmark(("flat" + p).c_str(), BM_Flat, psis)->UseRealTime()->Unit(benchmark::kMillisecond);
    if (psis) flat->Iterations(1);
    for (int threads : {1, 2}) {
      const std::string t = "/threads:" + std::to_string(threads);
      benchmark::RegisterBenchmark(("segmented/" + many + p + t).c_str(), BM_Segmented, psis, threads, false)
          ->UseRealTime()->Unit(benchmark::kMillisecond);
    }
    auto* single = benchmark::RegisterBenchmark(("segmented/" + one + p + "/threads:2").c_str(), BM_Segmented, psis, 2, true)
                       ->UseRealTime()->Unit(benchmark::kMillisecond);
    if (psis) single->Iterations(1);
  }
  int rest_argc = static_cast<int>(rest.size());
  benchmark::Initialize(&rest_argc, rest.data());
  if (benchmark::ReportUnrecognizedArguments(rest_argc, rest.data())) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
