#include "src/train/trainer.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <span>
#include <sstream>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "src/atomic_file.h"
#include "src/byte_size.h"
#include "src/input_error.h"
#include "src/json_strict.h"
#include "src/log_sum_exp.h"
#include "src/loss/objective.h"
#include "src/numerical_error.h"
#include "src/train/logit_gradient.h"
#include "src/train/trajectory_batch.h"
#include "toy_envs/divergences.h"
#include "toy_envs/flows.h"
#include "toy_envs/leaf_distribution.h"
#include "toy_envs/proposals.h"
#include "toy_envs/sampler.h"
#include "toy_envs/tree.h"

namespace disa::train {

namespace {

// Separate counter-based streams for the offline set and the on-policy batches.
constexpr std::uint64_t kOfflineStream = 0x0ff1'14e5'0000'0001ull;
constexpr std::uint64_t kOnPolicyStream = 0x0a11'ce00'0000'0002ull;
constexpr double kStrategyMassThreshold = 0.01;

bool on_policy(Method m) { return m != Method::disa_offline && m != Method::sft; }

Optimizer make_optimizer(const TrainConfig& c, std::size_t n, double learning_rate) {
  if (c.optimizer == "sgd") {
    SgdOptions o = c.sgd;
    o.learning_rate = learning_rate;
    return Sgd(o, n);
  }
  AdamOptions o = c.adam;
  o.learning_rate = learning_rate;
  return Adam(o, n);
}

constexpr std::uint64_t kFnvOffset = 1469598103934665603ull;

// FNV-1a: h after the bytes [data, data + n).
std::uint64_t fnv1a(std::uint64_t h, const void* data, std::size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

// FNV-1a over the config and the trees: a checkpoint belongs to one run.
std::uint64_t fingerprint(const TrainConfig& config, const std::vector<Tree>& prompts) {
  std::uint64_t h = kFnvOffset;
  auto mix = [&](const void* data, std::size_t n) { h = fnv1a(h, data, n); };
  for (const auto& [k, v] : config.list()) {
    if (k == "steps") continue;  // a resumed run may go further
    mix(k.data(), k.size());
    mix(v.data(), v.size());
  }
  for (const Tree& t : prompts) {
    const std::int64_t shape[3] = {t.shape.vocab(), t.shape.horizon(), t.shape.eos()};
    mix(shape, sizeof(shape));
    mix(t.logits.data(), t.logits.size() * sizeof(double));
    mix(t.reward.data(), t.reward.size() * sizeof(double));
    // The strategy labels change no step, but they are half of metrics.csv's
    // strategy_entropy and strategies_above: a resume onto relabelled trees would switch
    // the meaning of those columns mid-file.
    mix(t.strategy.data(), t.strategy.size() * sizeof(std::int32_t));
  }
  return h;
}

// Bytes per token and per row of one batch while a head runs on it, counted from the
// structures alive at once: the SampleBatch (action 4 + log-prob 8, twice while packing:
// 24 per token; 16 per row, as `disa tree sample` counts), the TrajectoryBatch's logp,
// logp_old, logp_ref, mask, advantages, node and action (52 per token; leaf, reward,
// log_z, group and sampling log-prob: 40 per row) and the head's grad_logp and
// temporaries (36 per token, 72 per row), rounded up.
constexpr double kBatchBytesPerToken = 112.0;
constexpr double kBatchBytesPerRow = 128.0;

// A batch size whose rows cannot fit in memory is refused before anything is allocated,
// naming its key: else std::bad_alloc (exit 1, naming nothing) or the OOM killer. The
// budget is the one `disa tree sample --n`, `estimate` and `anchor` check against
// (tree_memory_budget(): 80% of memory, or DISA_MAX_TREE_BYTES). `kept` more leaf ids
// (8 B each) stay alive across steps (the offline set of every prompt).
void check_batch_fits(const std::vector<Tree>& prompts, std::string_view key, std::int64_t rows, double kept) {
  std::int64_t horizon = 0;
  for (const Tree& t : prompts) horizon = std::max<std::int64_t>(horizon, t.shape.horizon());
  const double bytes =
      static_cast<double>(rows) * (kBatchBytesPerToken * static_cast<double>(horizon) + kBatchBytesPerRow) + 8.0 * kept;
  const double budget = static_cast<double>(tree_memory_budget());
  if (bytes > budget) {
    throw InputError(
        fmt::format("train: {}={}: a batch of {} trajectories of up to {} steps needs {}, more "
                    "than the {} budget (80% of memory, or DISA_MAX_TREE_BYTES)",
                    key, rows, rows, horizon, byte_size(bytes), byte_size(budget)));
  }
}

}  // namespace

Trainer::Trainer(std::vector<Tree> prompts, const TrainConfig& config)
    : prompts_(std::move(prompts)),
      config_(config),
      objective_(head_objective(config)),
      replay_(config.replay) {
  if (prompts_.empty()) throw InputError("train: no prompt (tree) to train on");
  const PolicySpec proposal = parse_policy_spec(config_.proposal, "train: proposal");
  // The sizes a run allocates by, checked before it allocates: the offline set (drawn
  // here, in either mode) and a sampled step's group of each prompt.
  if (!on_policy(config_.method)) {
    check_batch_fits(prompts_, "offline_samples", config_.offline_samples,
                     static_cast<double>(config_.offline_samples) * static_cast<double>(prompts_.size()));
  } else if (config_.mode == GradientMode::sampled) {
    check_batch_fits(prompts_, "group_size", config_.group_size, 0.0);
  }
  for (std::size_t p = 0; p < prompts_.size(); ++p) {
    const Tree& tree = prompts_[p];
    reference_.push_back(reference_policy(tree));
    target_.push_back(target_policy(tree, reference_.back(), config_.beta));
    proposal_.push_back(make_policy(tree, config_.beta, proposal));
    if (!on_policy(config_.method)) refuse_proposal_hole(p);
    log_z_exact_.push_back(log_partition(tree, config_.beta));
    theta_.insert(theta_.end(), tree.logits.begin(), tree.logits.end());
  }
  // The offline set: drawn once from q, trajectory i of prompt p on its own stream.
  if (!on_policy(config_.method)) {
    for (std::size_t p = 0; p < prompts_.size(); ++p) {
      const SampleBatch s = AliasSampler(proposal_[p]).sample(config_.seed ^ kOfflineStream,
                                                              config_.offline_samples,
                                                              std::int64_t(p) * config_.offline_samples);
      offline_leaves_.push_back(s.leaf);
    }
  }
  for (std::size_t p = 0; p < prompts_.size(); ++p) {
    double log_z = log_z_exact_[p] + config_.log_z_error;
    if (config_.estimate_log_z) {
      // DISA's anchor: log Zhat = logsumexp(log pi_ref - log q + beta r) - log N on the offline set.
      const Tree& tree = prompts_[p];
      const std::vector<double> ref = leaf_log_probs(reference_[p]);
      const std::vector<double> q = leaf_log_probs(proposal_[p]);
      LogSumExpAccumulator acc;
      for (std::int64_t leaf : offline_leaves_[p]) acc.add(ref[leaf] - q[leaf] + config_.beta * tree.reward[leaf]);
      log_z = acc.value() - std::log(double(offline_leaves_[p].size())) + config_.log_z_error;
    }
    log_z_frozen_.push_back(log_z);
    log_z_phi_.push_back(log_z_exact_[p] + config_.log_z_init_error);
  }
  const double learning_rate = config_.optimizer == "adam" ? config_.adam.learning_rate : config_.sgd.learning_rate;
  offsets_.assign(1, 0);
  for (const Tree& tree : prompts_) {
    offsets_.push_back(offsets_.back() + tree.logits.size());
    optimizers_.push_back(make_optimizer(config_, tree.logits.size(), learning_rate));
    log_z_optimizers_.push_back(make_optimizer(config_, 1, config_.log_z_learning_rate));
  }
  refresh_policies();
}

void Trainer::refuse_proposal_hole(std::size_t p) const {
  // THEORY.md item 6: a q with zero mass on trajectories p* reaches has chi2(p*||q) = inf.
  // The offline methods then train on data that never shows that mass (the fixed point of
  // disa-offline moves, sft's q(.|correct) lacks it), and log Zhat from q's samples is biased
  // low by exactly p*(hole) with nothing in the samples to tell: refused here, not averaged
  // into a run. log(1 + chi2) is +inf exactly when some action p* takes has q = 0 (the
  // recursion is in log space, so it does not overflow otherwise).
  const ChiSquare chi2 = chi_square_divergence(target_[p], proposal_[p]);
  if (chi2.log1p_value != kPosInf) return;
  const std::vector<double> target_leaf = leaf_log_probs(target_[p]);
  const std::vector<double> q_leaf = leaf_log_probs(proposal_[p]);
  double missed = 0.0;
  std::int64_t first = -1;
  for (std::size_t y = 0; y < q_leaf.size(); ++y) {
    if (q_leaf[y] == kNegInf && target_leaf[y] != kNegInf) {
      missed += std::exp(target_leaf[y]);
      if (first < 0) first = std::int64_t(y);
    }
  }
  const std::vector<int> path = first >= 0 ? prompts_[p].shape.path(first) : std::vector<int>{};
  throw InputError(fmt::format(
      "train: proposal={}: prompt {}: chi2(p*||q) is infinite: p* has mass {:.6g} on trajectories the proposal never "
      "samples (q = 0, first at leaf {} path [{}]), so {} would train on data that cannot show it{} (THEORY.md item "
      "6); give the proposal full support (e.g. mixture:eps=E with E > 0)",
      config_.proposal, p, missed, first, fmt::join(path, ","), to_string(config_.method),
      config_.method == Method::disa_offline ? " and log Zhat from its samples would be low by that mass" : ""));
}

void Trainer::refresh_policies() {
  policies_.clear();
  std::size_t offset = 0;
  for (const Tree& tree : prompts_) {
    const std::size_t n = tree.logits.size();
    policies_.push_back(TabularPolicy::from_logits(tree.shape, std::span<const double>(theta_).subspan(offset, n)));
    offset += n;
  }
}

void Trainer::set_logits(std::span<const double> logits) {
  if (logits.size() != theta_.size()) {
    throw InputError(fmt::format("train: logits has {} entries, expected {}", logits.size(), theta_.size()));
  }
  for (std::size_t k = 0; k < logits.size(); ++k) {
    if (!std::isfinite(logits[k])) throw InputError(fmt::format("train: logits[{}] = {} is not finite", k, logits[k]));
  }
  theta_.assign(logits.begin(), logits.end());
  refresh_policies();
}

double Trainer::log_z_used(std::size_t prompt) const {
  return config_.method == Method::flowrl ? log_z_phi_.at(prompt) : log_z_frozen_.at(prompt);
}

std::vector<double> Trainer::accuracy_estimates() const {
  std::vector<double> estimates(prompts_.size(), 0.0);
  for (std::size_t p = 0; p < prompts_.size(); ++p) {
    estimates[p] = paced_accuracy_estimate(log_partition(prompts_[p], policies_[p], config_.beta), config_.beta);
  }
  return estimates;
}

void Trainer::accumulate_group(std::size_t p, const TrajectoryBatch& batch, double groups, std::vector<double>& grad,
                               std::vector<double>& log_z_grad, double* loss) const {
  const loss::LossResult<double> result = loss::compute_loss(objective_, batch.data.view());
  std::vector<double> scale;
  // sft, exact: log P_q(kept), the q-mass of the rows the head keeps (-inf: none).
  double log_kept_mass = 0.0;
  if (config_.mode == GradientMode::exact) {
    const loss::LossBatch<double> view = batch.data.view();
    const double denominator =
        loss::loss_denominator(objective_, loss::valid_counts(view), view.reward, view.columns);
    if (config_.method == Method::sft) {
      // Sampled sft averages over the rows it keeps, (1/B_kept) sum_kept; as B grows that
      // tends to E_q[. | kept] = E_q[1(kept) .] / P_q(kept), not to E_q[1(kept) .]. Exact
      // mode is that limit (train_config.h), so the q-weighted sum is divided by P_q(kept).
      const double threshold = std::get<loss::SftOptions>(objective_.options).reward_threshold;
      LogSumExpAccumulator kept;
      for (std::size_t i = 0; i < batch.rows(); ++i) {
        if (view.reward[i] >= threshold) kept.add(batch.sampling_log_prob[i]);
      }
      log_kept_mass = kept.value();
    }
    // sft with nothing kept: its loss and gradient are 0 whatever the scale.
    scale = denominator > 0 ? exact_row_scale(batch, denominator, log_kept_mass)
                            : std::vector<double>(batch.rows(), 0.0);
  }
  const std::vector<double> g = logit_gradient(batch, policies_[p], result.grad_logp, scale);
  for (std::size_t k = 0; k < g.size(); ++k) grad[offsets_[p] + k] += g[k] / groups;
  if (!result.grad_log_z.empty()) log_z_grad[p] += log_z_gradient(result.grad_log_z, scale) / groups;

  // The loss reported: in exact mode the expectation sum_y q(y) l(y) where the head
  // exposes its per-row terms (tb: w delta^2), for sft E_q[-log pi(y) | kept] (the limit
  // of its sampled loss, as for the gradient), else the head's batch loss.
  double group_loss = result.loss;
  const auto& per = result.diagnostics.per_sequence;
  if (config_.mode == GradientMode::exact && per.count("residual") && per.count("weight")) {
    group_loss = 0.0;
    const auto& r = per.at("residual");
    const auto& w = per.at("weight");
    for (std::size_t i = 0; i < r.size(); ++i) group_loss += std::exp(batch.sampling_log_prob[i]) * w[i] * r[i] * r[i];
  } else if (config_.mode == GradientMode::exact && config_.method == Method::sft && log_kept_mass != kNegInf) {
    const auto& d = batch.data;
    const double threshold = std::get<loss::SftOptions>(objective_.options).reward_threshold;
    group_loss = 0.0;
    for (std::size_t i = 0; i < d.rows; ++i) {
      if (d.reward[i] < threshold) continue;
      double log_pi = 0.0;
      for (std::size_t t = 0; t < d.columns; ++t) {
        if (d.mask[i * d.columns + t] != 0) log_pi += d.logp[i * d.columns + t];
      }
      group_loss -= std::exp(batch.sampling_log_prob[i] - log_kept_mass) * log_pi;
    }
  }
  *loss += group_loss / groups;
}

std::vector<double> Trainer::gradient(double* loss, std::vector<double>* log_z_grad,
                                      std::vector<std::size_t>* selected_out) {
  const bool need_estimates = config_.selection.rule == PromptSelection::paced || config_.replay.enabled();
  const std::vector<double> estimates = need_estimates ? accuracy_estimates() : std::vector<double>(prompts_.size(), 0.0);
  const std::vector<std::size_t> selected =
      select_prompts(config_.selection, prompts_.size(), estimates, config_.seed, steps_done_);
  // Replayed groups are chosen before this step's fresh groups join the buffer.
  const std::vector<std::size_t> replayed = replay_.draw(estimates, config_.seed, steps_done_);
  const double groups = double(selected.size() + replayed.size());

  std::vector<double> grad(theta_.size(), 0.0);
  log_z_grad->assign(prompts_.size(), 0.0);
  *loss = 0.0;
  std::vector<ReplayGroup> fresh;
  for (std::size_t p : selected) {
    const Tree& tree = prompts_[p];
    const TabularPolicy& current = policies_[p];
    const TabularPolicy& sampling = on_policy(config_.method) ? current : proposal_[p];
    const BatchPolicies policies{current, sampling, reference_[p]};
    const double log_z = log_z_used(p);
    TrajectoryBatch batch;
    if (config_.mode == GradientMode::exact) {
      batch = enumerated_batch(tree, policies, log_z);
    } else if (!on_policy(config_.method)) {
      const std::vector<std::int64_t> group_ids(offline_leaves_[p].size(), 0);
      batch = leaf_batch(tree, policies, offline_leaves_[p], group_ids, log_z);
    } else {
      const std::int64_t G = config_.group_size;
      const std::int64_t first = (steps_done_ * std::int64_t(prompts_.size()) + std::int64_t(p)) * G;
      const SampleBatch samples = AliasSampler(current).sample(config_.seed ^ kOnPolicyStream, G, first);
      batch = sampled_batch(tree, policies, samples, G, log_z);
      samples_used_ += G;
      if (config_.replay.enabled()) {
        double correct = 0;
        for (std::int64_t leaf : samples.leaf) correct += tree.reward[leaf] >= 0.5;
        fresh.push_back({p, samples.leaf, correct / double(G)});
      }
    }
    accumulate_group(p, batch, groups, grad, *log_z_grad, loss);
  }
  std::vector<std::size_t> touched = selected;
  for (std::size_t i : replayed) {
    const ReplayGroup& group = replay_.groups()[i];
    const std::size_t p = group.prompt;
    // The tb head reads no sampling probabilities (weight=none is enforced with replay).
    const BatchPolicies policies{policies_[p], policies_[p], reference_[p]};
    const std::vector<std::int64_t> group_ids(group.leaves.size(), 0);
    accumulate_group(p, leaf_batch(prompts_[p], policies, group.leaves, group_ids, log_z_used(p)), groups, grad,
                     *log_z_grad, loss);
    touched.push_back(p);
  }
  for (ReplayGroup& g : fresh) replay_.add(std::move(g));
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  *selected_out = touched;
  return grad;
}

StepMetrics Trainer::step() {
  double loss = 0.0;
  std::vector<double> log_z_grad;
  std::vector<std::size_t> selected;
  const std::vector<double> grad = gradient(&loss, &log_z_grad, &selected);
  double squares = 0.0;
  for (double g : grad) squares += g * g;
  for (std::size_t p : selected) {
    const std::size_t n = offsets_[p + 1] - offsets_[p];
    train::step(optimizers_[p], std::span<double>(theta_).subspan(offsets_[p], n),
                std::span<const double>(grad).subspan(offsets_[p], n));
    if (config_.method == Method::flowrl) {
      train::step(log_z_optimizers_[p], std::span<double>(&log_z_phi_[p], 1), std::span<const double>(&log_z_grad[p], 1));
    }
  }
  refresh_policies();
  ++steps_done_;
  last_loss_ = loss;
  last_grad_norm_ = std::sqrt(squares);
  return metrics();
}

StepMetrics Trainer::metrics() const {
  StepMetrics m;
  m.step = steps_done_;
  m.loss = last_loss_;
  m.grad_norm = last_grad_norm_;
  m.samples = double(samples_used_);
  if (!on_policy(config_.method) && config_.mode == GradientMode::sampled) {
    m.samples += double(config_.offline_samples) * double(prompts_.size());
  }
  const double P = double(prompts_.size());
  for (std::size_t p = 0; p < prompts_.size(); ++p) {
    const Tree& tree = prompts_[p];
    const TabularPolicy& pi = policies_[p];
    m.kl_policy_target += kl_divergence(pi, target_[p]) / P;
    m.kl_target_policy += kl_divergence(target_[p], pi) / P;
    m.accuracy += accuracy(tree, pi) / P;
    m.expected_reward += expected_reward(tree, pi) / P;
    m.entropy += entropy(pi) / P;
    const std::vector<double> strategies = strategy_distribution_among_correct(tree, pi);
    m.strategy_entropy += distribution_entropy(strategies) / P;
    m.strategies_above += double(count_above(strategies, kStrategyMassThreshold)) / P;
    m.log_z_error += (log_z_used(p) - log_z_exact_[p]) / P;
    m.paced_accuracy_error +=
        (paced_accuracy_estimate(log_partition(tree, pi, config_.beta), config_.beta) - expected_reward(tree, pi)) / P;
  }
  return m;
}

// ---- checkpoints ----------------------------------------------------------------

namespace {

nlohmann::json optimizer_state(const Optimizer& optimizer) {
  if (const auto* adam = std::get_if<Adam>(&optimizer)) {
    return {{"kind", "adam"}, {"steps", adam->steps}, {"m", adam->first_moment}, {"v", adam->second_moment}};
  }
  const auto& sgd = std::get<Sgd>(optimizer);
  return {{"kind", "sgd"}, {"steps", sgd.steps}, {"velocity", sgd.velocity}};
}

template <class V>
void restore_vector(const nlohmann::json& j, const char* key, V& target, const std::string& path) {
  const auto values = j.at(key).get<std::vector<double>>();
  if (values.size() != target.size()) {
    throw InputError(fmt::format("{}: {} has {} entries, expected {}", path, key, values.size(), target.size()));
  }
  target.assign(values.begin(), values.end());
}

// FNV-1a of the checkpoint's JSON without this field. Its dump is canonical (sorted keys,
// the shortest round-trip decimal of each double), so the bytes read back hash the same:
// a checkpoint edited or damaged in place is refused, not resumed from (the run
// fingerprint covers the settings, not the state).
std::string contents_fingerprint(nlohmann::json j) {
  j.erase("contents_fingerprint");
  const std::string text = j.dump();
  return fmt::format("{:016x}", fnv1a(kFnvOffset, text.data(), text.size()));
}

void restore_optimizer(const nlohmann::json& j, Optimizer& optimizer, const std::string& path) {
  if (auto* adam = std::get_if<Adam>(&optimizer)) {
    adam->steps = j.at("steps").get<std::int64_t>();
    restore_vector(j, "m", adam->first_moment, path);
    restore_vector(j, "v", adam->second_moment, path);
  } else {
    auto& sgd = std::get<Sgd>(optimizer);
    sgd.steps = j.at("steps").get<std::int64_t>();
    restore_vector(j, "velocity", sgd.velocity, path);
  }
}

}  // namespace

void Trainer::save_checkpoint(const std::string& path) const {
  nlohmann::json j;
  j["format"] = "disa-train-checkpoint";
  j["version"] = 4;  // 2: one optimiser state per prompt; 3: the replay buffer; 4: contents_fingerprint
  j["fingerprint"] = fmt::format("{:016x}", fingerprint(config_, prompts_));
  j["steps_done"] = steps_done_;
  j["samples_used"] = samples_used_;
  j["theta"] = theta_;
  j["log_z_phi"] = log_z_phi_;
  nlohmann::json states = nlohmann::json::array(), log_z_states = nlohmann::json::array();
  for (std::size_t p = 0; p < prompts_.size(); ++p) {
    states.push_back(optimizer_state(optimizers_[p]));
    log_z_states.push_back(optimizer_state(log_z_optimizers_[p]));
  }
  j["optimizers"] = states;
  j["log_z_optimizers"] = log_z_states;
  j["replay_buffer"] = replay_.to_json();
  j["last_loss"] = last_loss_;
  j["last_grad_norm"] = last_grad_norm_;
  j["contents_fingerprint"] = contents_fingerprint(j);
  // nlohmann writes the shortest decimal that round-trips each double: resume is exact.
  write_file_atomically(path, [&](std::ostream& out) { out << j.dump() << '\n'; });
}

void Trainer::load_checkpoint(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(fmt::format("{}: cannot read the checkpoint", path));
  nlohmann::json j;
  try {
    j = parse_json_strict(in, path);
    if (j.at("format") != "disa-train-checkpoint") throw InputError(fmt::format("{}: not a disa-train-checkpoint", path));
    const std::string expected = fmt::format("{:016x}", fingerprint(config_, prompts_));
    if (j.at("fingerprint") != expected) {
      throw InputError(fmt::format("{}: fingerprint {} belongs to another run (this config and trees give {})", path,
                                   j.at("fingerprint").get<std::string>(), expected));
    }
    // Version 3 checkpoints (before 2026-12-07) have no contents fingerprint.
    if (j.contains("contents_fingerprint") || j.value("version", 0) >= 4) {
      const std::string contents = contents_fingerprint(j);
      if (j.value("contents_fingerprint", nlohmann::json()) != contents) {
        throw InputError(
            fmt::format("{}: contents_fingerprint {} does not match the contents ({}): the checkpoint "
                        "was changed or damaged after it was written; remove it to start over",
                        path, j.value("contents_fingerprint", nlohmann::json()).dump(), contents));
      }
    }
    restore_vector(j, "theta", theta_, path);
    restore_vector(j, "log_z_phi", log_z_phi_, path);
    if (j.at("optimizers").size() != prompts_.size()) {
      throw InputError(fmt::format("{}: {} optimiser states, expected one per prompt ({})", path,
                                   j.at("optimizers").size(), prompts_.size()));
    }
    for (std::size_t p = 0; p < prompts_.size(); ++p) {
      restore_optimizer(j.at("optimizers").at(p), optimizers_[p], path);
      restore_optimizer(j.at("log_z_optimizers").at(p), log_z_optimizers_[p], path);
    }
    replay_.load_json(j.at("replay_buffer"), prompts_.size(), path);
    steps_done_ = j.at("steps_done").get<std::int64_t>();
    samples_used_ = j.at("samples_used").get<std::int64_t>();
    last_loss_ = j.at("last_loss").get<double>();
    last_grad_norm_ = j.at("last_grad_norm").get<double>();
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("{}: malformed checkpoint ({})", path, e.what()));
  }
  refresh_policies();
}

}  // namespace disa::train
