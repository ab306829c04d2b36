// bench_exact_pass: the exact pass and the alias sampler on one tree file, at 1 and
// 2 OpenMP threads, plus the same machine's ceilings (memory bandwidth, exp, fork/join).
//
//   bench_exact_pass --tree=T.dtree [--beta=1] [--samples=100000] [--seed=1]
//                    [--validate-only] [google benchmark flags]
//
// The tree comes from --tree=PATH, else from $DISA_BENCH_TREE. Before anything is
// timed the program validates: log_flows at 1 and at 2 threads must agree bit for
// bit at every node, log Z must be finite, and log_partition(tree) (from logits)
// must equal log_flows(policy)[0]; otherwise it exits 1 (2 on a bad argument or an
// unreadable tree). --validate-only prints
//   {"log_z": ..., "vocab": V, "horizon": T, "eos": E, "num_internal": I, "num_leaves": L}
// and exits; bench/run_exact_pass_bench.py compares that log Z with numpy's
// (bench/exact_pass_numpy.py) before timing either.
//
// Benchmarks (all wall-clock time, UseRealTime, since the work is on OpenMP threads):
//   exact_pass/threads:N   log_partition(tree, beta): log-softmax of the logits
//                          (reference_policy) + log_flows. The same work as the numpy
//                          reference, so this is the one the ratio uses.
//   log_flows/threads:N    log_flows(tree, policy, beta) with the policy given.
//   sample/threads:N       AliasSampler::sample(seed, --samples) on the reference
//                          policy (alias tables built once, outside the timing).
//   memory_read/threads:N  sum of a 512 MiB array: the machine's read bandwidth.
//   memory_copy/threads:N  copy between two 256 MiB arrays (bytes = read + write).
//   compute_exp/threads:N  2^22 libm exp calls: the machine's compute scaling.
//   fork_join/threads:N    one empty parallel region (the exact pass opens T).
//
// Counters. With I internal nodes, L leaves, V actions per node:
//   nodes      = I + L: every node of the tree is visited once per pass;
//                nodes_per_second is this over the wall time.
//   bytes      = the minimum memory traffic of the pass (each array touched once,
//                8-byte doubles; caches and write-allocate reads not counted):
//     log_flows:  8*V*I (log-probs read) + 8*L (rewards read) + 8*I (flows written)
//                 + 8*(I-1) (flows of internal children read back one level up)
//     exact_pass: the above + 8*V*I (logits read) + 8*V*I (log-probs written)
//                 = 24*V*I + 8*L + 16*I - 8
//   bytes_per_second is bytes over the wall time: the bandwidth the pass achieves.
//   steps      = actions drawn (sum of trajectory lengths); steps_per_second.
#include <omp.h>
#include <sys/resource.h>

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_args.h"
#include "src/input_error.h"
#include "toy_envs/flows.h"
#include "toy_envs/sampler.h"
#include "toy_envs/tree_json.h"

namespace {

struct Setup {
  std::string path;
  double beta = 1.0;
  std::int64_t samples = 100000;
  std::uint64_t seed = 1;
  disa::Tree tree;
  disa::TabularPolicy policy;
  std::unique_ptr<disa::AliasSampler> sampler;
  double log_z = 0.0;
};

Setup* g = nullptr;

std::int64_t nodes(const disa::TreeShape& s) { return s.num_internal() + s.num_leaves(); }

double log_flows_bytes(const disa::TreeShape& s) {
  const double I = static_cast<double>(s.num_internal()), L = static_cast<double>(s.num_leaves());
  return 8.0 * s.vocab() * I + 8.0 * L + 8.0 * I + 8.0 * (I - 1.0);
}

double exact_pass_bytes(const disa::TreeShape& s) {
  return log_flows_bytes(s) + 16.0 * s.vocab() * static_cast<double>(s.num_internal());
}

void set_pass_counters(benchmark::State& state, int threads, const disa::TreeShape& s, double bytes) {
  using benchmark::Counter;
  state.counters["threads"] = threads;
  state.counters["nodes"] = static_cast<double>(nodes(s));
  state.counters["nodes_per_second"] = Counter(static_cast<double>(nodes(s)), Counter::kIsIterationInvariantRate);
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes) * state.iterations());
}

void BM_ExactPass(benchmark::State& state, int threads) {
  omp_set_num_threads(threads);
  for (auto _ : state) {
    double log_z = disa::log_partition(g->tree, g->beta);
    benchmark::DoNotOptimize(log_z);
  }
  set_pass_counters(state, threads, g->tree.shape, exact_pass_bytes(g->tree.shape));
}

void BM_LogFlows(benchmark::State& state, int threads) {
  omp_set_num_threads(threads);
  for (auto _ : state) {
    std::vector<double> log_f = disa::log_flows(g->tree, g->policy, g->beta);
    benchmark::DoNotOptimize(log_f.data());
  }
  set_pass_counters(state, threads, g->tree.shape, log_flows_bytes(g->tree.shape));
}

void BM_Sample(benchmark::State& state, int threads) {
  omp_set_num_threads(threads);
  std::int64_t steps = 0;
  for (auto _ : state) {
    disa::SampleBatch batch = g->sampler->sample(g->seed, g->samples);
    steps = static_cast<std::int64_t>(batch.action.size());
    benchmark::DoNotOptimize(batch.leaf.data());
  }
  using benchmark::Counter;
  state.counters["threads"] = threads;
  state.counters["trajectories"] = static_cast<double>(g->samples);
  state.counters["steps"] = static_cast<double>(steps);
  state.counters["steps_per_second"] = Counter(static_cast<double>(steps), Counter::kIsIterationInvariantRate);
  state.SetItemsProcessed(g->samples * state.iterations());
}

// The bandwidth ceiling: arrays far larger than the caches, first-touched in
// parallel with the same static schedule the timed loop uses.
constexpr std::int64_t kBandwidthBytes = std::int64_t{512} << 20;

void BM_MemoryRead(benchmark::State& state, int threads) {
  omp_set_num_threads(threads);
  const std::int64_t n = kBandwidthBytes / 8;
  std::unique_ptr<double[]> a(new double[n]);
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) a[i] = 1.0;
  for (auto _ : state) {
    double sum = 0.0;
    // simd: lets the compiler keep several partial sums, so the loop is limited
    // by memory rather than by the latency of one chain of additions.
#pragma omp parallel for simd schedule(static) reduction(+ : sum)
    for (std::int64_t i = 0; i < n; ++i) sum += a[i];
    benchmark::DoNotOptimize(sum);
  }
  state.counters["threads"] = threads;
  state.SetBytesProcessed(kBandwidthBytes * state.iterations());
}

void BM_MemoryCopy(benchmark::State& state, int threads) {
  omp_set_num_threads(threads);
  const std::int64_t n = kBandwidthBytes / 16;
  std::unique_ptr<double[]> a(new double[n]), b(new double[n]);
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) a[i] = b[i] = 1.0;
  for (auto _ : state) {
#pragma omp parallel for schedule(static)
    for (std::int64_t i = 0; i < n; ++i) b[i] = a[i];
    benchmark::DoNotOptimize(b.get());
    benchmark::ClobberMemory();
  }
  state.counters["threads"] = threads;
  state.SetBytesProcessed(kBandwidthBytes * state.iterations());  // n reads + n writes of 8 bytes
}

// The compute ceiling: libm exp (what the exact pass spends most of its time in)
// on independent arguments, in cache. Its 2-thread/1-thread ratio is the speed-up
// the machine gives compute-bound work at the time of the run (2 vCPUs may share a
// physical core).
void BM_ComputeExp(benchmark::State& state, int threads) {
  omp_set_num_threads(threads);
  constexpr std::int64_t n = std::int64_t{1} << 22;
  for (auto _ : state) {
    double sum = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : sum)
    for (std::int64_t i = 0; i < n; ++i) sum += std::exp(-1e-7 * static_cast<double>(i & 0xffff));
    benchmark::DoNotOptimize(sum);
  }
  state.counters["threads"] = threads;
  state.SetItemsProcessed(n * state.iterations());
}

// One empty OpenMP parallel region: what each level of the exact pass pays to fork
// and join (backward_pass opens one region per level, T per pass). Normally a few
// microseconds; on a virtual machine whose 2 vCPUs share a physical core it can
// reach milliseconds (the idle thread spins before it sleeps).
void BM_ForkJoin(benchmark::State& state, int threads) {
  omp_set_num_threads(threads);
  for (auto _ : state) {
    int count = 0;
#pragma omp parallel reduction(+ : count)
    count += 1;
    benchmark::DoNotOptimize(count);
  }
  state.counters["threads"] = threads;
}

long max_rss_kib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "bench_exact_pass: %s\n", what.c_str());
  std::exit(1);
}

// Loads the tree and checks the pass before anything is timed.
void load_and_validate(Setup& s) {
  s.tree = disa::load_tree(s.path);
  s.policy = disa::reference_policy(s.tree);
  omp_set_num_threads(1);
  const std::vector<double> one = disa::log_flows(s.tree, s.policy, s.beta);
  omp_set_num_threads(2);
  const std::vector<double> two = disa::log_flows(s.tree, s.policy, s.beta);
  if (one.size() != static_cast<std::size_t>(s.tree.shape.num_internal())) fail("log_flows: wrong size");
  if (std::memcmp(one.data(), two.data(), one.size() * sizeof(double)) != 0) {
    fail("log_flows differs between 1 and 2 threads");
  }
  s.log_z = one[0];
  if (!std::isfinite(s.log_z)) fail("log Z is not finite");
  const double from_logits = disa::log_partition(s.tree, s.beta);
  if (from_logits != s.log_z) {
    fail("log_partition(tree) = " + std::to_string(from_logits) + " but log_flows(policy)[0] = " +
         std::to_string(s.log_z));
  }
}

using disa::bench::take_flag;

}  // namespace

int main(int argc, char** argv) {
  Setup setup;
  g = &setup;
  bool validate_only = false;
  if (const char* env = std::getenv("DISA_BENCH_TREE")) setup.path = env;
  // Our flags first; the rest goes to google benchmark.
  std::vector<char*> rest{argv[0]};
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg == "--validate-only") {
        validate_only = true;
      } else if (!(take_flag(arg, "--tree", &setup.path) || take_flag(arg, "--beta", &setup.beta) ||
          take_flag(arg, "--samples", &setup.samples) || take_flag(arg, "--seed", &setup.seed))) {
        rest.push_back(argv[i]);  // google benchmark's
      }
    }
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "bench_exact_pass: %s\n", e.what());
    return 2;
  }
  if (setup.path.empty()) {
    std::fprintf(stderr, "bench_exact_pass: give the tree with --tree=PATH.dtree or DISA_BENCH_TREE\n");
    return 2;
  }
  if (setup.samples < 1) {
    std::fprintf(stderr, "bench_exact_pass: --samples must be >= 1\n");
    return 2;
  }
  try {
    load_and_validate(setup);
  } catch (const disa::InputError& e) {
    std::fprintf(stderr, "bench_exact_pass: %s\n", e.what());
    return 2;
  }
  const disa::TreeShape& shape = setup.tree.shape;
  if (validate_only) {
    std::printf(
        "{\"log_z\": %.17g, \"beta\": %.17g, \"vocab\": %d, \"horizon\": %d, \"eos\": %d, "
        "\"num_internal\": %lld, \"num_leaves\": %lld}\n",
        setup.log_z, setup.beta, shape.vocab(), shape.horizon(), shape.eos(),
        static_cast<long long>(shape.num_internal()), static_cast<long long>(shape.num_leaves()));
    return 0;
  }
  const long rss_exact = max_rss_kib();
  setup.sampler = std::make_unique<disa::AliasSampler>(setup.policy);
  const long rss_sampler = max_rss_kib();

  char log_z[64];
  std::snprintf(log_z, sizeof log_z, "%.17g", setup.log_z);
  benchmark::AddCustomContext("tree", setup.path);
  benchmark::AddCustomContext("tree_shape", shape.describe());
  benchmark::AddCustomContext("num_internal", std::to_string(shape.num_internal()));
  benchmark::AddCustomContext("num_leaves", std::to_string(shape.num_leaves()));
  benchmark::AddCustomContext("beta", std::to_string(setup.beta));
  benchmark::AddCustomContext("log_z", log_z);
  benchmark::AddCustomContext("samples", std::to_string(setup.samples));
  benchmark::AddCustomContext("omp_max_threads", std::to_string(omp_get_num_procs()));
  // Peak resident memory (KiB) after loading + reference policy + validation (the
  // exact pass's working set), and after building the alias tables.
  benchmark::AddCustomContext("max_rss_kib_exact_pass", std::to_string(rss_exact));
  benchmark::AddCustomContext("max_rss_kib_with_sampler", std::to_string(rss_sampler));

  for (int threads : {1, 2}) {
    const std::string t = "/threads:" + std::to_string(threads);
    benchmark::RegisterBenchmark(("exact_pass" + t).c_str(), BM_ExactPass, threads)->UseRealTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("log_flows" + t).c_str(), BM_LogFlows, threads)->UseRealTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("sample" + t).c_str(), BM_Sample, threads)->UseRealTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("memory_read" + t).c_str(), BM_MemoryRead, threads)->UseRealTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("memory_copy" + t).c_str(), BM_MemoryCopy, threads)->UseRealTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("compute_exp" + t).c_str(), BM_ComputeExp, threads)->UseRealTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("fork_join" + t).c_str(), BM_ForkJoin, threads)->UseRealTime()->Unit(benchmark::kMicrosecond);
  }
  int rest_argc = static_cast<int>(rest.size());
  benchmark::Initialize(&rest_argc, rest.data());
  if (benchmark::ReportUnrecognizedArguments(rest_argc, rest.data())) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
