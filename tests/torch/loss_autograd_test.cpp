// The loss heads against autograd, and the LibTorch adapter that the LLM trainer uses.
//
// 1. Heads vs autograd: every objective, under each option that changes its formula,
//    on seeded random batches (empty rows, singleton and scattered groups, interior
//    padding, NaN/inf padding, ratios past every clip), compared with
//    tests/torch/loss_torch_reference.h (the same equations as torch ops, written
//    independently of src/loss/, differentiated by autograd): value, d/dlogp, d/dlog_z.
// 2. The adapter (llm/loss_autograd.h): loss.backward() leaves exactly compute_loss's
//    gradients in logp.grad / log_z.grad (float and double), scales them by grad_output,
//    chains into the tensors logp and log_z were computed from, accepts the equivalent
//    layouts it documents and rejects the rest.
#include <torch/torch.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "llm/loss_autograd.h"
#include "src/input_error.h"
#include "src/loss/objective.h"
#include "tests/torch/loss_test_batches.h"
#include "tests/torch/loss_torch_reference.h"

namespace {

namespace L = disa::loss;
using torch::Tensor;
using namespace disa::loss_test;

// ---- tolerances -------------------------------------------------------------------
// An error is |got - want| / max(|want|, floor): floor = 1 for the loss (every input is
// O(1), so the loss's terms are), and the tensor's largest |want| for a gradient (entries
// of one tensor share a scale; a small entry can be a difference of larger terms, e.g. a
// FlowRL residual log_z + Lbar - 15 R - Lref).
//
// double: both sides evaluate the same closed forms in double from the same inputs, in
// different orders. A value is a sum of at most B*T = 640 terms, each a product of a few
// correctly rounded operations; sequential summation errs by at most (n - 1) u sum|x|
// with u = 2^-53 = 1.1e-16, i.e. 7e-14 sum|x|, and sum|x| stays within ~10x the floor
// (residuals cancel at most against beta = 15 times an O(1) advantage). Hence 1e-12.
constexpr double kDoubleTolerance = 1e-12;
// float: the heads read float inputs, evaluate in double and round each gradient once
// to float (relative error <= u_f = 2^-24 = 6e-8); the reference evaluates the same
// float inputs in double, so nothing else differs (the loss itself stays double).
// 4 u_f leaves room for a float rounding or two on the way, but not for a row sum
// accumulated in float (up to n u_f sum|x|: 40 u_f on these rows, 4096 u_f on an LLM's),
// which would be a loss of accuracy worth failing on.
constexpr double kFloatTolerance = 4.0 / (1 << 24);

// Every configuration runs on each: shapes from one token to 16 x 40, binary and normal
// rewards, ratios from on-policy (1e-3) to far off (0.6, dual clip), k3 past its clamp
// (ref noise 3), padding inside rows, log-ratios of +-25.
const std::vector<BatchSpec>& batch_specs() {
  static const std::vector<BatchSpec> specs = {
      {1, 1, 1, true, 0.1, 0.3, false, false},     {3, 5, 2, false, 1e-3, 0.3, false, false},
      {3, 5, 3, true, 0.6, 3.0, true, true},       {8, 13, 4, true, 0.1, 0.3, false, false},
      {8, 13, 5, false, 1e-3, 0.3, true, false},   {16, 40, 6, true, 0.6, 3.0, false, true},
      {16, 40, 7, false, 0.1, 0.3, true, false},   {16, 40, 8, true, 1e-3, 0.3, false, false},
      {16, 40, 9, false, 0.6, 0.3, true, true},
  };
  return specs;
}

// ---- objectives under test ----------------------------------------------------------------
struct Config {
  std::string label;
  L::Objective objective;
  AdvantageSource advantages = AdvantageSource::grpo;
};

const char* mode_name(L::LossAggMode m) {
  switch (m) {
    case L::LossAggMode::token_mean: return "token-mean";
    case L::LossAggMode::seq_mean_token_sum: return "seq-mean-token-sum";
    case L::LossAggMode::seq_mean_token_mean: return "seq-mean-token-mean";
    case L::LossAggMode::seq_mean_token_sum_norm: return "seq-mean-token-sum-norm";
  }
  return "?";
}

const char* estimator_name(L::KlEstimator e) {
  switch (e) {
    case L::KlEstimator::k1: return "k1";
    case L::KlEstimator::abs: return "abs";
    case L::KlEstimator::k2: return "k2";
    case L::KlEstimator::k3: return "k3";
  }
  return "?";
}

constexpr L::LossAggMode kModes[] = {L::LossAggMode::token_mean, L::LossAggMode::seq_mean_token_sum,
                                     L::LossAggMode::seq_mean_token_mean, L::LossAggMode::seq_mean_token_sum_norm};
constexpr L::KlEstimator kEstimators[] = {L::KlEstimator::k1, L::KlEstimator::abs, L::KlEstimator::k2,
                                          L::KlEstimator::k3};

std::vector<Config> configs() {
  std::vector<Config> c;
  const auto add = [&](std::string label, std::string name, L::ObjectiveOptions options,
                       AdvantageSource a = AdvantageSource::grpo) {
    c.push_back({std::move(label), L::Objective{std::move(name), std::move(options)}, a});
  };
  // grpo: every aggregation, every KL estimator, both clip settings, advantage variants.
  for (const auto mode : kModes) {
    L::GrpoOptions o;
    o.clip = {0.2, 0.28, 3.0};
    o.loss_agg_mode = mode;
    add(std::string("grpo ") + mode_name(mode) + " clip 0.2/0.28 c 3", "grpo", o);
    o.kl_coef = 0.05;
    add(std::string("grpo ") + mode_name(mode) + " + 0.05 k3", "grpo", o);
  }
  for (const auto e : kEstimators) {
    L::GrpoOptions o;
    o.kl_coef = 0.1;
    o.kl_estimator = e;
    add(std::string("grpo token-mean + 0.1 ") + estimator_name(e), "grpo", o);
  }
  {
    L::GrpoOptions o;
    o.clip = {0.2, 0.2, 10.0};
    add("grpo clip 0.2/0.2 c 10", "grpo", o);
    o = {};
    o.advantage.singleton_groups = L::SingletonGroups::zero;
    add("grpo singleton_groups zero", "grpo", o);
    o = {};
    o.advantage.norm_adv_by_std = false;
    add("grpo norm_adv_by_std false (Dr.GRPO)", "grpo", o);
    add("grpo advantages per sequence", "grpo", L::GrpoOptions{}, AdvantageSource::per_sequence);
    add("grpo advantages per token", "grpo", L::GrpoOptions{}, AdvantageSource::per_token);
  }
  // gspo
  {
    add("gspo clip 3e-4/4e-4", "gspo", L::GspoOptions{});
    L::GspoOptions o;
    o.clip_ratio_low = 0.2;
    o.clip_ratio_high = 0.28;
    add("gspo clip 0.2/0.28", "gspo", o);
    add("gspo advantages per token", "gspo", o, AdvantageSource::per_token);
    o.advantage.singleton_groups = L::SingletonGroups::zero;
    add("gspo singleton_groups zero", "gspo", o);
  }
  // sft
  for (const auto mode : kModes) {
    L::SftOptions o;
    o.loss_agg_mode = mode;
    add(std::string("sft ") + mode_name(mode), "sft", o);
  }
  {
    L::SftOptions o;
    o.reward_threshold = 5.0;
    add("sft threshold 5 (nothing kept)", "sft", o);
  }
  // kl
  for (const auto e : kEstimators) {
    L::KlLossOptions o;
    o.kl_estimator = e;
    add(std::string("kl ") + estimator_name(e), "kl", o);
  }
  for (const auto mode : kModes) {
    L::KlLossOptions o;
    o.loss_agg_mode = mode;
    o.kl_coef = 0.3;
    add(std::string("kl k3 ") + mode_name(mode) + " coef 0.3", "kl", o);
  }
  // tb / disa
  {
    add("tb beta 1", "tb", L::TrajectoryBalanceOptions{});
    L::TrajectoryBalanceOptions o;
    o.beta = 3.0;
    o.length_normalize = true;
    add("disa beta 3 length_normalize", "disa", o);
    o = {};
    o.weight = L::TbWeight::clipped;
    add("tb weight clipped", "tb", o);
    o.weight = L::TbWeight::importance;
    add("tb weight importance", "tb", o);
    o.length_normalize = true;
    add("tb weight importance length_normalize", "tb", o);
  }
  // flowrl: the three reference versions, the paper's text, advantage variants.
  {
    add("flowrl weight_clip none", "flowrl", L::FlowRlOptions{});
    L::FlowRlOptions o;
    o.weight_clip = L::FlowRlWeightClip::max10;
    add("flowrl weight_clip max10", "flowrl", o);
    o.weight_clip = L::FlowRlWeightClip::cispo;
    add("flowrl weight_clip cispo 0.2/0.28", "flowrl", o);
    o.clip_ratio_high = 0.2;
    add("flowrl weight_clip cispo 0.2/0.2", "flowrl", o);
    add("flowrl weight_clip cispo, advantages per token", "flowrl", o, AdvantageSource::per_token);
    o = {};
    o.weight_clip = L::FlowRlWeightClip::symmetric;
    add("flowrl weight_clip symmetric", "flowrl", o);
    o.advantage.norm_adv_by_std = false;
    add("flowrl symmetric, norm_adv_by_std false", "flowrl", o);
    o = {};
    o.advantage.singleton_groups = L::SingletonGroups::zero;
    add("flowrl singleton_groups zero", "flowrl", o);
    add("flowrl advantages per sequence", "flowrl", L::FlowRlOptions{}, AdvantageSource::per_sequence);
  }
  return c;
}

// ---- comparison --------------------------------------------------------------------------
// How often the batches reach the branches worth testing; each must be reached.
using Coverage = std::map<std::string, int>;

template <class Real>
void tally(const Config& config, const L::BatchData<Real>& d, const L::LossResult<Real>& r, Coverage& c) {
  const auto scalar = [&](const char* key) {
    const auto it = r.diagnostics.scalars.find(key);
    return it == r.diagnostics.scalars.end() ? 0.0 : it->second;
  };
  const std::string& name = config.objective.name;
  if (name == "grpo") {
    c["grpo: PPO clip active"] += scalar("pg_clipfrac") > 0;
    c["grpo: dual clip active"] += scalar("pg_clipfrac_lower") > 0;
  }
  if (name == "gspo") c["gspo: clipped and unclipped rows in one batch"] += scalar("pg_clipfrac") > 0 && scalar("pg_clipfrac") < 0.99;
  if (name == "flowrl") c["flowrl cispo: tokens dropped"] += scalar("dropped_token_fraction") > 0;
  std::map<std::int64_t, int> group_size;
  for (const auto g : d.group) ++group_size[g];
  for (std::size_t i = 0; i < d.rows; ++i) {
    std::size_t n = 0;
    bool padding_seen = false;
    for (std::size_t t = 0; t < d.columns; ++t) {
      const std::size_t k = i * d.columns + t;
      if (d.mask[k] == Real(0)) {
        padding_seen = true;
        continue;
      }
      ++n;
      const double x = double(d.logp_ref[k]) - double(d.logp[k]);
      c["data: k3 clamp at 10"] += std::exp(x) - x - 1 > 10;
      c["data: log-ratio past +-20"] += std::abs(double(d.logp[k]) - double(d.logp_old[k])) > 20;
      c["data: interior padding"] += padding_seen;
    }
    c["data: empty row"] += n == 0;
    c["data: singleton group"] += group_size[d.group[i]] == 1;
  }
}

struct Worst {
  double value = 0, grad_logp = 0, grad_log_z = 0;
  int batches = 0;
};

// Largest |got - want| / max(|want|, max_j |want_j|) over a tensor; 0 when both are all 0.
template <class Real>
double gradient_error(const std::vector<Real>& got, const Tensor& want_tensor, std::size_t* worst_index) {
  const Tensor want = want_tensor.contiguous();
  const double* w = want.data_ptr<double>();
  double scale = 0;
  for (std::size_t k = 0; k < got.size(); ++k) scale = std::max(scale, std::abs(w[k]));
  double worst = 0;
  for (std::size_t k = 0; k < got.size(); ++k) {
    const double diff = std::abs(double(got[k]) - w[k]);
    const double e = diff == 0 ? 0.0 : (scale == 0 ? kInf : diff / scale);
    if (!(e <= worst)) {  // also catches NaN
      worst = std::isnan(e) ? kInf : e;
      *worst_index = k;
    }
  }
  return worst;
}

template <class Real>
void check_head(const Config& config, const BatchSpec& spec, double tolerance, Worst& worst, Coverage& coverage) {
  SCOPED_TRACE(config.label + " on " + describe(spec) + (sizeof(Real) == 4 ? " (float)" : " (double)"));
  const L::BatchData<Real> data = cast<Real>(make_batch(spec, config.advantages));
  L::LossResult<Real> ours;
  try {
    ours = L::compute_loss<Real>(config.objective, data.view());
  } catch (const std::exception& e) {
    ADD_FAILURE() << "compute_loss threw: " << e.what();
    return;
  }
  tally(config, data, ours, coverage);
  const disa::torch_reference::Batch ref = reference_batch(data);
  const Tensor value = disa::torch_reference::loss(config.objective, ref);
  value.backward();
  const double want = value.item<double>();
  const double value_error = std::abs(ours.loss - want) / std::max(std::abs(want), 1.0);
  EXPECT_LE(value_error, tolerance) << "loss: got " << ours.loss << ", want " << want;

  const std::size_t B = data.rows, T = data.columns;
  ASSERT_EQ(ours.grad_logp.size(), B * T);
  const Tensor want_logp = ref.logp.grad().defined() ? ref.logp.grad() : torch::zeros({std::int64_t(B), std::int64_t(T)}, torch::kFloat64);
  std::size_t k = 0;
  const double logp_error = gradient_error(ours.grad_logp, want_logp, &k);
  EXPECT_LE(logp_error, tolerance) << "d/dlogp[" << k / T << "," << k % T << "]: got " << ours.grad_logp[k]
                                   << ", want " << want_logp.view(-1)[k].item<double>();
  for (std::size_t j = 0; j < B * T; ++j) {
    if (data.mask[j] == Real(0) && ours.grad_logp[j] != Real(0)) {
      ADD_FAILURE() << "d/dlogp at padding [" << j / T << "," << j % T << "] = " << ours.grad_logp[j];
      break;
    }
  }

  double log_z_error = 0;
  if (L::has_log_z_gradient(config.objective)) {
    ASSERT_EQ(ours.grad_log_z.size(), B);
    log_z_error = gradient_error(ours.grad_log_z, ref.log_z.grad(), &k);
    EXPECT_LE(log_z_error, tolerance) << "d/dlog_z[" << k << "]: got " << ours.grad_log_z[k] << ", want "
                                      << ref.log_z.grad()[k].item<double>();
  } else {
    EXPECT_TRUE(ours.grad_log_z.empty());
  }
  worst.value = std::max(worst.value, value_error);
  worst.grad_logp = std::max(worst.grad_logp, logp_error);
  worst.grad_log_z = std::max(worst.grad_log_z, log_z_error);
  ++worst.batches;
}

template <class Real>
void check_every_head(double tolerance) {
  std::map<std::string, Worst> worst;
  Coverage coverage;
  for (const Config& config : configs())
    for (const BatchSpec& spec : batch_specs())
      check_head<Real>(config, spec, tolerance, worst[config.objective.name], coverage);
  for (const char* branch : {"grpo: PPO clip active", "grpo: dual clip active", "gspo: clipped and unclipped rows in one batch",
                             "flowrl cispo: tokens dropped", "data: k3 clamp at 10", "data: log-ratio past +-20",
                             "data: interior padding", "data: empty row", "data: singleton group"})
    EXPECT_GT(coverage[branch], 0) << "no batch reaches: " << branch;
  std::printf("branches reached (rows, tokens or batches):");
  for (const auto& [branch, count] : coverage) std::printf(" %s %d;", branch.c_str(), count);
  std::printf("\n");
  std::printf("%s, tolerance %g; largest errors (value, d/dlogp, d/dlog_z) per objective:\n",
              sizeof(Real) == 4 ? "float" : "double", tolerance);
  for (const auto& [name, w] : worst)
    std::printf("  %-7s %3d batches  %.2e  %.2e  %.2e\n", name.c_str(), w.batches, w.value, w.grad_logp, w.grad_log_z);
}

TEST(HeadsVsAutograd, EveryObjectiveDouble) { check_every_head<double>(kDoubleTolerance); }

TEST(HeadsVsAutograd, EveryObjectiveFloat) { check_every_head<float>(kFloatTolerance); }

// ---- the adapter ---------------------------------------------------------------------------
// One configuration per objective, with log_z learned for tb and flowrl.
std::vector<Config> adapter_configs() {
  std::vector<Config> c;
  L::GrpoOptions grpo;
  grpo.kl_coef = 0.1;
  c.push_back({"grpo + k3", {"grpo", grpo}});
  c.push_back({"gspo", {"gspo", L::GspoOptions{}}});
  c.push_back({"sft", {"sft", L::SftOptions{}}});
  c.push_back({"kl", {"kl", L::KlLossOptions{}}});
  L::TrajectoryBalanceOptions tb;
  tb.weight = L::TbWeight::clipped;
  c.push_back({"tb clipped", {"tb", tb}});
  L::FlowRlOptions flowrl;
  flowrl.weight_clip = L::FlowRlWeightClip::cispo;
  c.push_back({"flowrl cispo", {"flowrl", flowrl}});
  c.push_back({"flowrl per-token advantages", {"flowrl", L::FlowRlOptions{}}, AdvantageSource::per_token});
  return c;
}

template <class Real>
Tensor expected_tensor(const std::vector<Real>& v, at::IntArrayRef sizes) {
  return tensor_of(v, sizes.vec());
}

// logp.grad and log_z.grad after (scale * loss).backward() are exactly the head's
// gradients times scale; the value and the diagnostics are the head's.
template <class Real>
void check_adapter(double scale) {
  const BatchSpec spec{16, 40, 21, true, 0.1, 0.3, true, false};
  for (const Config& config : adapter_configs()) {
    SCOPED_TRACE(config.label + (sizeof(Real) == 4 ? " (float)" : " (double)") + ", grad_output " +
                 std::to_string(scale));
    const L::BatchData<Real> data = cast<Real>(make_batch(spec, config.advantages));
    const L::LossResult<Real> head = L::compute_loss<Real>(config.objective, data.view());
    const disa::llm::LossTensors t = adapter_tensors(data);
    L::Diagnostics diagnostics;
    const Tensor loss = disa::llm::loss(config.objective, t, &diagnostics);
    EXPECT_EQ(loss.dim(), 0);
    EXPECT_EQ(loss.scalar_type(), t.logp.scalar_type());
    EXPECT_EQ(loss.item<Real>(), Real(head.loss));
    EXPECT_EQ(diagnostics.scalars, head.diagnostics.scalars);
    EXPECT_EQ(diagnostics.per_sequence, head.diagnostics.per_sequence);
    (scale == 1.0 ? loss : loss * scale).backward();
    const std::int64_t B = data.rows, T = data.columns;
    ASSERT_TRUE(t.logp.grad().defined());
    EXPECT_TRUE(torch::equal(t.logp.grad(), expected_tensor(head.grad_logp, {B, T}) * scale));
    if (L::has_log_z_gradient(config.objective)) {
      ASSERT_TRUE(t.log_z.grad().defined());
      EXPECT_TRUE(torch::equal(t.log_z.grad(), expected_tensor(head.grad_log_z, {B}) * scale));
    } else {
      EXPECT_FALSE(t.log_z.grad().defined());
    }
  }
}

TEST(LossAutograd, BackwardGivesTheHeadsGradientsDouble) { check_adapter<double>(1.0); }
TEST(LossAutograd, BackwardGivesTheHeadsGradientsFloat) { check_adapter<float>(1.0); }
TEST(LossAutograd, GradOutputScalesTheGradientsDouble) { check_adapter<double>(3.0); }
TEST(LossAutograd, GradOutputScalesTheGradientsFloat) { check_adapter<float>(3.0); }

// Two losses on one logp accumulate their gradients, as any autograd op's do.
TEST(LossAutograd, GradientsAccumulateAcrossCalls) {
  const L::BatchData<double> data = make_batch({8, 13, 22, true, 0.1, 0.3, false, false}, AdvantageSource::grpo);
  const disa::llm::LossTensors t = adapter_tensors(data);
  const L::Objective grpo{"grpo", L::GrpoOptions{}}, kl{"kl", L::KlLossOptions{}};
  (disa::llm::loss(grpo, t) + 0.5 * disa::llm::loss(kl, t)).backward();
  const auto g1 = L::compute_loss<double>(grpo, data.view()).grad_logp;
  const auto g2 = L::compute_loss<double>(kl, data.view()).grad_logp;
  const Tensor want = tensor_of(g1, {8, 13}) + tensor_of(g2, {8, 13}) * 0.5;
  EXPECT_TRUE(torch::allclose(t.logp.grad(), want, 0, 0)) << (t.logp.grad() - want).abs().max().item<double>();
}

// The Function inside a graph: logp from logits (log_softmax + gather) and a learned
// log Z from features through a linear layer, B x 1 as FlowRL has it. The gradients that
// reach the logits and the layer equal autograd's through the reference formula.
TEST(LossAutograd, ChainsIntoLogitsAndLearnedLogZ) {
  torch::manual_seed(5);
  const std::int64_t B = 12, T = 17, V = 6, F = 4;
  L::BatchData<double> data = make_batch({int(B), int(T), 23, true, 0.1, 0.3, false, false}, AdvantageSource::grpo);
  const Tensor logits0 = torch::randn({B, T, V}, torch::kFloat64);
  const Tensor tokens = torch::randint(V, {B, T, 1}, torch::kInt64);
  // Sampling and reference policies near the logits' policy, so PPO's ratios are near 1.
  const Tensor logp0 = torch::log_softmax(logits0, -1).gather(2, tokens).squeeze(-1).contiguous();
  const Tensor noise = torch::randn({2, B, T}, torch::kFloat64).contiguous();
  for (std::int64_t k = 0; k < B * T; ++k) {
    if (data.mask[k] == 0.0) continue;
    data.logp_old[k] = logp0.data_ptr<double>()[k] + 0.1 * noise.data_ptr<double>()[k];
    data.logp_ref[k] = logp0.data_ptr<double>()[k] + 0.3 * noise.data_ptr<double>()[B * T + k];
  }
  const Tensor features = torch::randn({B, F}, torch::kFloat64);
  const Tensor weight0 = torch::randn({1, F}, torch::kFloat64);
  L::TrajectoryBalanceOptions tb;
  tb.length_normalize = true;
  L::FlowRlOptions flowrl;
  flowrl.weight_clip = L::FlowRlWeightClip::max10;
  L::GrpoOptions grpo;
  grpo.kl_coef = 0.1;
  grpo.loss_agg_mode = L::LossAggMode::seq_mean_token_mean;
  for (const L::Objective& objective : {L::Objective{"tb", tb}, L::Objective{"flowrl", flowrl}, L::Objective{"grpo", grpo}}) {
    SCOPED_TRACE(objective.name);
    struct Graph {
      Tensor logits, weight, logp, log_z;
    };
    const auto graph = [&] {
      Graph g{logits0.clone().requires_grad_(true), weight0.clone().requires_grad_(true), {}, {}};
      g.logp = torch::log_softmax(g.logits, -1).gather(2, tokens).squeeze(-1);  // B x T
      g.log_z = torch::matmul(features, g.weight.t());                           // B x 1
      return g;
    };
    Graph ours = graph(), theirs = graph();
    disa::llm::LossTensors t = adapter_tensors(data);
    t.logp = ours.logp;
    t.log_z = ours.log_z;
    disa::torch_reference::Batch r = reference_batch(data);
    r.logp = theirs.logp;
    r.log_z = theirs.log_z;
    const Tensor loss_ours = disa::llm::loss(objective, t), loss_theirs = disa::torch_reference::loss(objective, r);
    loss_ours.backward();
    loss_theirs.backward();
    EXPECT_NEAR(loss_ours.item<double>(), loss_theirs.item<double>(),
                kDoubleTolerance * std::max(1.0, std::abs(loss_theirs.item<double>())));
    const auto close = [](const Tensor& got, const Tensor& want) {
      return (got - want).abs().max().item<double>() <= kDoubleTolerance * want.abs().max().item<double>();
    };
    EXPECT_TRUE(close(ours.logits.grad(), theirs.logits.grad()));
    if (L::has_log_z_gradient(objective)) {
      ASSERT_TRUE(ours.weight.grad().defined());
      EXPECT_TRUE(close(ours.weight.grad(), theirs.weight.grad()));
    }
  }
}

// Layouts the header accepts give the same loss and gradients as the canonical one:
// bool and int64 masks, B x 1 per-sequence fields, int32 groups, a non-contiguous logp.
TEST(LossAutograd, EquivalentLayoutsAgree) {
  const L::BatchData<double> data = make_batch({8, 13, 24, false, 0.1, 0.3, true, false}, AdvantageSource::per_sequence);
  L::FlowRlOptions o;
  o.weight_clip = L::FlowRlWeightClip::symmetric;
  const L::Objective objective{"flowrl", o};
  const auto run = [&](const disa::llm::LossTensors& t) {
    const Tensor loss = disa::llm::loss(objective, t);
    loss.backward();
    return std::tuple{loss.item<double>(), t.logp.grad().clone(), t.log_z.grad().reshape({-1}).clone()};
  };
  const auto [value, grad_logp, grad_log_z] = run(adapter_tensors(data));

  disa::llm::LossTensors t = adapter_tensors(data);
  t.mask = t.mask.to(torch::kBool);
  t.reward = t.reward.view({-1, 1});
  t.group = t.group.to(torch::kInt32);
  t.advantages = t.advantages.view({-1, 1});
  t.log_z = t.log_z.detach().view({-1, 1}).requires_grad_(true);
  t.logp = t.logp.detach().t().contiguous().t().requires_grad_(true);  // column-major
  ASSERT_FALSE(t.logp.is_contiguous());
  const auto [value2, grad_logp2, grad_log_z2] = run(t);
  EXPECT_EQ(value, value2);
  EXPECT_TRUE(torch::equal(grad_logp, grad_logp2));
  EXPECT_TRUE(torch::equal(grad_log_z, grad_log_z2));

  t = adapter_tensors(data);
  t.mask = t.mask.to(torch::kInt64);
  const auto [value3, grad_logp3, grad_log_z3] = run(t);
  EXPECT_EQ(value, value3);
  EXPECT_TRUE(torch::equal(grad_logp, grad_logp3));
}

TEST(LossAutograd, WorksWithoutGradMode) {
  const L::BatchData<double> data = make_batch({8, 13, 25, true, 0.1, 0.3, false, false}, AdvantageSource::grpo);
  const L::Objective objective{"grpo", L::GrpoOptions{}};
  torch::NoGradGuard no_grad;
  const Tensor loss = disa::llm::loss(objective, adapter_tensors(data));
  EXPECT_FALSE(loss.requires_grad());
  EXPECT_EQ(loss.item<double>(), L::compute_loss<double>(objective, data.view()).loss);
}

TEST(LossAutograd, RejectsBadInputNamingTheField) {
  const L::BatchData<double> data = make_batch({8, 13, 26, true, 0.1, 0.3, false, false}, AdvantageSource::grpo);
  const L::Objective grpo{"grpo", L::GrpoOptions{}};
  const auto message = [&](disa::llm::LossTensors t) -> std::string {
    try {
      disa::llm::loss(grpo, t);
    } catch (const disa::InputError& e) {
      return e.what();
    }
    return "(no InputError)";
  };
  disa::llm::LossTensors t = adapter_tensors(data);
  t.logp = t.logp.detach().to(torch::kFloat16);
  EXPECT_NE(message(t).find("logp has dtype"), std::string::npos) << message(t);
  t = adapter_tensors(data);
  t.logp = t.logp.detach().view({-1});
  EXPECT_NE(message(t).find("logp has shape [104]"), std::string::npos) << message(t);
  t = adapter_tensors(data);
  t.mask = t.mask.t().contiguous();
  EXPECT_NE(message(t).find("mask has shape [13, 8], expected [8, 13]"), std::string::npos) << message(t);
  t = adapter_tensors(data);
  t.group = t.group.to(torch::kFloat64);
  EXPECT_NE(message(t).find("group has dtype"), std::string::npos) << message(t);
  t = adapter_tensors(data);
  t.logp_old = Tensor();  // grpo needs it: the head's own validation says so
  EXPECT_NE(message(t).find("logp_old"), std::string::npos) << message(t);
}

TEST(LossAutograd, CudaTensorsRoundTrip) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device in this LibTorch build or machine";
  const L::BatchData<float> data = cast<float>(make_batch({16, 40, 27, true, 0.1, 0.3, false, false}, AdvantageSource::grpo));
  const L::Objective objective{"flowrl", L::FlowRlOptions{}};
  disa::llm::LossTensors t = adapter_tensors(data);
  for (Tensor* x : {&t.logp, &t.logp_old, &t.logp_ref, &t.mask, &t.reward, &t.group, &t.log_z})
    *x = x->detach().to(torch::kCUDA).requires_grad_(x == &t.logp || x == &t.log_z);
  const Tensor loss = disa::llm::loss(objective, t);
  EXPECT_TRUE(loss.is_cuda());
  loss.backward();
  EXPECT_TRUE(t.logp.grad().is_cuda());
  const L::LossResult<float> head = L::compute_loss<float>(objective, data.view());
  EXPECT_TRUE(torch::equal(t.logp.grad().cpu(), tensor_of(head.grad_logp, {16, 40})));
  EXPECT_TRUE(torch::equal(t.log_z.grad().cpu(), tensor_of(head.grad_log_z, {16})));
}

}  // namespace
