// bench_loss_heads: each loss head's forward + backward through the LibTorch adapter
// (llm/loss_autograd.h, what the LLM trainer runs) beside the same formula composed from
// LibTorch eager ops with autograd (tests/torch/loss_torch_reference.h), in one process,
// on one float32 CPU batch.
//
//   bench_loss_heads [--rows=256] [--columns=4096] [--threads=1] [--seed=1]
//                    [--validate-only] [google benchmark flags]
//
// The batch: `rows` sequences in groups of 8 (one prompt, 8 rollouts), right-padded to
// `columns`; response lengths log-normal around columns/4 (median), cut at `columns`
// (about 5% truncated); token log-probs -Exp(0.7); logp_old = logp + N(0, 0.05),
// logp_ref = logp + N(0, 0.2); binary rewards (p = 0.4); log Z ~ N(0, 1); padding 0.
//
// Before anything is timed, every head is validated: the adapter's loss and gradients
// and the eager float32 formula's must both agree with the formula evaluated in float64
// on the same inputs (relative 1e-4; gradients relative to their largest entry), else
// exit 1. --validate-only prints the errors as JSON and exits.
//
// Benchmarks (wall-clock time, UseRealTime):
//   ours/<head>   disa::llm::loss + backward (the head in the Function, grad x grad_output)
//   head/<head>   disa::loss::compute_loss<float> alone (no tensors, no autograd)
//   torch/<head>  disa::torch_reference::loss + backward: eager ops and autograd
//   stream/<k>    out = sum of k B x T float arrays (the bandwidth ceiling for k reads + 1 write)
// Counters: bytes per iteration of ours/head = the head's minimal memory traffic,
//   4 B T (mask, read) + 4 N (K - 1) (the other K - 1 B x T inputs, read on the N valid
//   tokens only: padding sits at row ends) + 4 B T (d/dlogp, written) + per-row fields;
// bytes_per_second = that / time: the effective bandwidth. torch/<head> reports the same
// bytes (the same work), although eager ops move several times more.
#include <omp.h>

#include <torch/torch.h>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_args.h"
#include "llm/loss_autograd.h"
#include "src/loss/objective.h"
#include "tests/torch/loss_torch_reference.h"

namespace {

namespace L = disa::loss;
using torch::Tensor;

struct Head {
  std::string name;
  L::Objective objective;
  double bytes = 0;
};

struct Setup {
  std::int64_t rows = 256, columns = 4096;
  int threads = 1;
  std::uint64_t seed = 1;
  L::BatchData<float> data;
  std::int64_t valid_tokens = 0;
  disa::llm::LossTensors ours;
  disa::torch_reference::Batch theirs;
  std::vector<Head> heads;
};

Setup* g = nullptr;

std::vector<Head> make_heads() {
  L::GrpoOptions grpo;  // verl's GRPO recipe: token-mean, k3 KL at 0.001
  grpo.kl_coef = 0.001;
  L::FlowRlOptions flowrl;
  flowrl.weight_clip = L::FlowRlWeightClip::max10;
  return {{"tb", {"tb", L::TrajectoryBalanceOptions{}}},
          {"flowrl", {"flowrl", flowrl}},
          {"grpo", {"grpo", grpo}},
          {"gspo", {"gspo", L::GspoOptions{}}},
          {"sft", {"sft", L::SftOptions{}}},
          {"kl", {"kl", L::KlLossOptions{}}}};
}

double head_bytes(const L::Objective& objective, std::int64_t B, std::int64_t T, std::int64_t valid) {
  const unsigned f = L::needed_fields(objective);
  int token_inputs = 0;  // besides the mask
  for (unsigned bit : {L::kLogp, L::kLogpOld, L::kLogpRef}) token_inputs += (f & bit) != 0;
  // Per-row inputs (4-byte reward and log_z, 8-byte group); advantages come from reward + group.
  double row_bytes = 0;
  if (f & L::kLogZ) row_bytes += 4;
  if (f & (L::kReward | L::kAdvantages)) row_bytes += 4;
  if (f & (L::kGroup | L::kAdvantages)) row_bytes += 8;
  return 4.0 * B * T + 4.0 * valid * token_inputs + 4.0 * B * T + row_bytes * B;
}

void make_batch(Setup& s) {
  std::mt19937_64 rng(s.seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::exponential_distribution<double> exponential(1.0 / 0.7);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  const std::int64_t B = s.rows, T = s.columns;
  L::BatchData<float>& d = s.data;
  d.rows = B;
  d.columns = T;
  d.logp.assign(B * T, 0.f);
  d.logp_old.assign(B * T, 0.f);
  d.logp_ref.assign(B * T, 0.f);
  d.mask.assign(B * T, 0.f);
  d.reward.resize(B);
  d.log_z.resize(B);
  d.group.resize(B);
  s.valid_tokens = 0;
  for (std::int64_t i = 0; i < B; ++i) {
    const double length = std::exp(std::log(T / 4.0) + 0.8 * normal(rng));
    const std::int64_t n = std::clamp<std::int64_t>(std::llround(length), 1, T);
    s.valid_tokens += n;
    for (std::int64_t t = 0; t < n; ++t) {
      const std::int64_t k = i * T + t;
      const double lp = -exponential(rng);
      d.mask[k] = 1.f;
      d.logp[k] = float(lp);
      d.logp_old[k] = float(lp + 0.05 * normal(rng));
      d.logp_ref[k] = float(lp + 0.2 * normal(rng));
    }
    d.reward[i] = uniform(rng) < 0.4 ? 1.f : 0.f;
    d.log_z[i] = float(normal(rng));
    d.group[i] = i / 8;
  }
  // The tensors borrow the batch's storage: ours and head/ read the same bytes.
  const auto tensor = [](auto& v, std::vector<std::int64_t> sizes) {
    using Value = typename std::decay_t<decltype(v)>::value_type;
    return torch::from_blob(v.data(), sizes, torch::TensorOptions().dtype(c10::CppTypeToScalarType<Value>::value));
  };
  disa::llm::LossTensors& o = s.ours;
  o.logp = tensor(d.logp, {B, T}).requires_grad_(true);
  o.logp_old = tensor(d.logp_old, {B, T});
  o.logp_ref = tensor(d.logp_ref, {B, T});
  o.mask = tensor(d.mask, {B, T});
  o.reward = tensor(d.reward, {B});
  o.group = tensor(d.group, {B});
  o.log_z = tensor(d.log_z, {B}).requires_grad_(true);
  // Separate leaves for the eager formula, so the two never share a .grad.
  disa::torch_reference::Batch& r = s.theirs;
  r.logp = o.logp.detach().clone().requires_grad_(true);
  r.logp_old = o.logp_old;
  r.logp_ref = o.logp_ref;
  r.mask = o.mask.to(torch::kBool);
  r.reward = o.reward;
  r.group = o.group;
  r.log_z = o.log_z.detach().clone().requires_grad_(true);
}

void reset_grads(const Tensor& logp, const Tensor& log_z) {
  logp.mutable_grad() = Tensor();
  log_z.mutable_grad() = Tensor();
}

// Largest |got - want| / max_j |want_j|, and |loss - want| / max(1, |want|).
double tensor_error(const Tensor& got, const Tensor& want) {
  if (!want.defined()) return got.defined() ? got.abs().max().item<double>() : 0.0;
  const double scale = want.abs().max().item<double>();
  const double diff = (got.to(torch::kFloat64) - want).abs().max().item<double>();
  return diff == 0 ? 0.0 : diff / scale;
}

struct Errors {
  double loss = 0, grad_logp = 0, grad_log_z = 0;
  double worst() const { return std::max({loss, grad_logp, grad_log_z}); }
};

// Runs both implementations once and compares each with the float64 formula.
bool validate(Setup& s, std::FILE* out) {
  constexpr double kTolerance = 1e-4;
  bool ok = true;
  std::fprintf(out, "{\"rows\": %lld, \"columns\": %lld, \"valid_tokens\": %lld, \"threads\": %d, \"heads\": {",
               static_cast<long long>(s.rows), static_cast<long long>(s.columns),
               static_cast<long long>(s.valid_tokens), s.threads);
  for (std::size_t h = 0; h < s.heads.size(); ++h) {
    const Head& head = s.heads[h];
    const bool has_log_z = L::has_log_z_gradient(head.objective);
    // float64 truth: the eager formula on the same (float) inputs, widened.
    disa::torch_reference::Batch wide = s.theirs;
    for (Tensor* x : {&wide.logp_old, &wide.logp_ref, &wide.reward}) *x = x->to(torch::kFloat64);
    wide.logp = s.theirs.logp.detach().to(torch::kFloat64).requires_grad_(true);
    wide.log_z = s.theirs.log_z.detach().to(torch::kFloat64).requires_grad_(true);
    const Tensor truth = disa::torch_reference::loss(head.objective, wide);
    truth.backward();
    const double want = truth.item<double>();
    const auto errors = [&](const Tensor& loss, const Tensor& logp, const Tensor& log_z) {
      Errors e;
      e.loss = std::abs(loss.item<double>() - want) / std::max(1.0, std::abs(want));
      e.grad_logp = tensor_error(logp.grad(), wide.logp.grad());
      if (has_log_z) e.grad_log_z = tensor_error(log_z.grad(), wide.log_z.grad());
      return e;
    };
    reset_grads(s.ours.logp, s.ours.log_z);
    const Tensor ours = disa::llm::loss(head.objective, s.ours);
    ours.backward();
    const Errors e_ours = errors(ours, s.ours.logp, s.ours.log_z);
    reset_grads(s.theirs.logp, s.theirs.log_z);
    const Tensor theirs = disa::torch_reference::loss(head.objective, s.theirs);
    theirs.backward();
    const Errors e_torch = errors(theirs, s.theirs.logp, s.theirs.log_z);
    const bool head_ok = e_ours.worst() <= kTolerance && e_torch.worst() <= kTolerance;
    ok = ok && head_ok;
    std::fprintf(out,
                 "%s\"%s\": {\"loss\": %.9g, \"ours_error\": [%.3g, %.3g, %.3g], \"torch_error\": [%.3g, %.3g, "
                 "%.3g], \"ok\": %s}",
                 h ? ", " : "", head.name.c_str(), want, e_ours.loss, e_ours.grad_logp, e_ours.grad_log_z,
                 e_torch.loss, e_torch.grad_logp, e_torch.grad_log_z, head_ok ? "true" : "false");
  }
  std::fprintf(out, "}, \"tolerance\": %g, \"ok\": %s}\n", kTolerance, ok ? "true" : "false");
  return ok;
}

void BM_Ours(benchmark::State& state, const Head* head) {
  for (auto _ : state) {
    reset_grads(g->ours.logp, g->ours.log_z);
    const Tensor loss = disa::llm::loss(head->objective, g->ours);
    loss.backward();
    benchmark::DoNotOptimize(g->ours.logp.grad().data_ptr());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * head->bytes));
  state.counters["tokens"] = double(g->valid_tokens);
}

void BM_Head(benchmark::State& state, const Head* head) {
  const L::LossBatch<float> batch = g->data.view();
  for (auto _ : state) {
    L::LossResult<float> r = L::compute_loss<float>(head->objective, batch);
    benchmark::DoNotOptimize(r.grad_logp.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * head->bytes));
  state.counters["tokens"] = double(g->valid_tokens);
}

void BM_Torch(benchmark::State& state, const Head* head) {
  for (auto _ : state) {
    reset_grads(g->theirs.logp, g->theirs.log_z);
    const Tensor loss = disa::torch_reference::loss(head->objective, g->theirs);
    loss.backward();
    benchmark::DoNotOptimize(g->theirs.logp.grad().data_ptr());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * head->bytes));
  state.counters["tokens"] = double(g->valid_tokens);
}

// out = a_1 + ... + a_k over B x T floats: what the hardware gives for k reads + 1 write.
void BM_Stream(benchmark::State& state, int k) {
  const std::int64_t n = g->rows * g->columns;
  const float* in[4] = {g->data.logp.data(), g->data.logp_old.data(), g->data.logp_ref.data(), g->data.mask.data()};
  std::vector<float> out(n);
  for (auto _ : state) {
#pragma omp parallel for schedule(static)
    for (std::int64_t j = 0; j < n; ++j) {
      float x = in[0][j];
      for (int a = 1; a < k; ++a) x += in[a][j];
      out[j] = x;
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * 4.0 * (k + 1) * n));
}

}  // namespace

int main(int argc, char** argv) {
  Setup setup;
  g = &setup;
  bool validate_only = false;
  std::vector<char*> rest{argv[0]};
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      using disa::bench::take_flag;
      if (arg == "--validate-only") {
        validate_only = true;
      } else if (!(take_flag(arg, "--rows", &setup.rows) || take_flag(arg, "--columns", &setup.columns) ||
          take_flag(arg, "--threads", &setup.threads) || take_flag(arg, "--seed", &setup.seed))) {
        rest.push_back(argv[i]);  // google benchmark's
      }
    }
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "bench_loss_heads: %s\n", e.what());
    return 2;
  }
  if (setup.rows < 1 || setup.columns < 1 || setup.threads < 1) {
    std::fprintf(stderr, "bench_loss_heads: need rows, columns, threads >= 1\n");
    return 2;
  }
  // LibTorch resets OpenMP to its own count on first use: pin both after that.
  at::set_num_threads(setup.threads);
  omp_set_num_threads(setup.threads);
  make_batch(setup);
  setup.heads = make_heads();
  for (Head& h : setup.heads) h.bytes = head_bytes(h.objective, setup.rows, setup.columns, setup.valid_tokens);
  try {
    if (!validate(setup, validate_only ? stdout : stderr)) {
      std::fprintf(stderr, "bench_loss_heads: validation failed (see the errors above); nothing timed\n");
      return 1;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_loss_heads: validation threw: %s\n", e.what());
    return 1;
  }
  if (validate_only) return 0;

  benchmark::AddCustomContext("rows", std::to_string(setup.rows));
  benchmark::AddCustomContext("columns", std::to_string(setup.columns));
  benchmark::AddCustomContext("valid_tokens", std::to_string(setup.valid_tokens));
  benchmark::AddCustomContext("threads", std::to_string(setup.threads));
  benchmark::AddCustomContext("torch_threads", std::to_string(at::get_num_threads()));
  benchmark::AddCustomContext("omp_threads", std::to_string(omp_get_max_threads()));
  for (const Head& h : setup.heads) {
    benchmark::RegisterBenchmark(("ours/" + h.name).c_str(), BM_Ours, &h)->UseRealTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("head/" + h.name).c_str(), BM_Head, &h)->UseRealTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("torch/" + h.name).c_str(), BM_Torch, &h)->UseRealTime()->Unit(benchmark::kMillisecond);
  }
  for (int k : {2, 4})
    benchmark::RegisterBenchmark(("stream/" + std::to_string(k)).c_str(), BM_Stream, k)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  int rest_argc = static_cast<int>(rest.size());
  benchmark::Initialize(&rest_argc, rest.data());
  if (benchmark::ReportUnrecognizedArguments(rest_argc, rest.data())) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
