// disa estimate: M replicates of the importance-sampled log Zhat_N on a tree,
// against the exact log Z and the first-order predictions (THEORY.md items 1-4).
//
//   disa estimate --tree t.json --beta 4 --proposal tilted:lambda=0.5 --samples 256
//                 --replicates 1000 --seed 1 --json
//
// Replicate r uses trajectories r N .. r N + N - 1 of the seed's stream
// (AliasSampler::sample(seed, N, r N)), so `disa tree sample --first r*N --n N`
// reproduces it. Everything is identical for any thread count.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "src/byte_size.h"
#include "src/cli/commands.h"
#include "src/cli/option_checks.h"
#include "src/cli/output.h"
#include "src/cli/tree_checks.h"
#include "src/input_error.h"
#include "src/is_estimator.h"
#include "src/json_number.h"
#include "theory_checks/replicates.h"
#include "toy_envs/flows.h"
#include "toy_envs/proposals.h"
#include "toy_envs/tree.h"
#include "toy_envs/tree_json.h"

namespace disa::cli {
namespace {

using nlohmann::ordered_json;

double mean_finite(const std::vector<double>& x, double* fraction_finite) {
  double sum = 0.0;
  std::size_t k = 0;
  for (double v : x) {
    if (std::isfinite(v)) {
      sum += v;
      ++k;
    }
  }
  if (fraction_finite) *fraction_finite = x.empty() ? 0.0 : static_cast<double>(k) / x.size();
  return k ? sum / k : std::nan("");
}

// Refuse a batch that cannot fit, as `tree sample` does (up to T steps per trajectory).
void check_batch_fits(const Tree& tree, std::int64_t n) { check_sample_batch_fits(tree, n, "--samples"); }

struct Args {
  std::string tree;
  double beta = 0.0;
  std::string proposal;
  std::int64_t samples = 0;
  std::int64_t replicates = 200;
  std::uint64_t seed = 0;
  std::size_t prompt = 0;
  bool json = false;
};

ordered_json run_estimate(const Args& a) {
  check_positive_beta(a.beta, "--beta");
  const PolicySpec spec = parse_policy_spec(a.proposal, "--proposal");
  std::vector<Tree> trees = load_trees(a.tree);
  if (a.prompt >= trees.size()) {
    throw InputError(fmt::format("--prompt: {} is out of range; {} holds {} tree(s)", a.prompt, a.tree, trees.size()));
  }
  check_tilt_is_finite(trees[a.prompt], a.beta, tree_name(a.tree, a.prompt, trees.size()));
  auto tree = std::make_shared<const Tree>(std::move(trees[a.prompt]));
  check_batch_fits(*tree, a.samples);
  // Every replicate's results are held at once (seven doubles: the estimate, ESS, k_hat,
  // coverage, reliability and two derived columns; 64 bytes with a sort's copy): 3e8
  // replicates ended in std::bad_alloc after 20 s and 7 GB.
  constexpr double kBytesPerReplicate = 64;
  const double budget = static_cast<double>(tree_memory_budget());
  if (kBytesPerReplicate * static_cast<double>(a.replicates) > budget) {
    throw InputError(
        fmt::format("--replicates: {} replicates hold about {} of results ({} bytes each), more "
                    "than the {} budget (80% of memory, or DISA_MAX_TREE_BYTES)",
                    a.replicates, byte_size(kBytesPerReplicate * static_cast<double>(a.replicates)), kBytesPerReplicate,
                    byte_size(budget)));
  }
  const theory::Case c = theory::make_case("tree", tree, a.beta, spec.text, make_policy(*tree, a.beta, spec));
  theory::Replicates reps;
  {
    // Long runs (many replicates of many samples) show how far they are on a terminal.
    Progress progress("estimate");
    reps = theory::run_replicates(c, a.samples, a.replicates, a.seed, /*diagnostics=*/true, [&](double fraction) {
      progress.update(fraction, fmt::format("{} replicates of N = {}", a.replicates, a.samples));
    });
  }

  const theory::Estimate log_z_hat = theory::mean_of(reps.log_ratio);  // of log Zhat - log Z
  const theory::Estimate var = theory::variance_of(reps.log_ratio);
  std::vector<double> controlled(reps.log_ratio.size()), ratio(reps.log_ratio.size());  // [M]
  for (std::size_t i = 0; i < ratio.size(); ++i) {
    ratio[i] = std::exp(reps.log_ratio[i]);
    // Control variate Zhat/Z - E[Zhat/Z], mean 0 exactly: E[Zhat/Z] = 1 - p*(hole)
    // (item 6), so a proposal with a hole needs its mean_u, not 1.
    controlled[i] = reps.log_ratio[i] - (std::expm1(reps.log_ratio[i]) - (c.mean_u - 1.0));
  }
  const theory::Estimate cv = theory::mean_of(controlled);
  const theory::Estimate z_ratio = theory::mean_of(ratio);
  const double n = static_cast<double>(a.samples);
  const double chi2 = c.chi2.value;
  double k_available = 0.0;
  const double k_hat_mean = mean_finite(reps.k_hat, &k_available);
  double k_above = 0.0;
  for (double k : reps.k_hat) k_above += std::isfinite(k) && k > k_hat_threshold(a.samples);

  ordered_json j;
  j["tree"] = a.tree;
  j["prompt"] = a.prompt;
  j["beta"] = a.beta;
  j["proposal"] = spec.text;
  j["samples"] = a.samples;
  j["replicates"] = a.replicates;
  j["seed"] = a.seed;
  j["log_Z_exact"] = c.log_z;
  j["chi2"] = to_json_number(chi2);
  j["log1p_chi2"] = to_json_number(c.chi2.log1p_value);
  j["kl_proposal_target"] = to_json_number(c.kl_q_target);
  j["proposal_missing_target_mass"] = c.hole_mass;
  j["log_Zhat_mean"] = c.log_z + log_z_hat.value;
  j["log_Zhat_var"] = to_json_number(var.value);
  j["log_Zhat_var_se"] = to_json_number(var.se);
  j["bias"] = log_z_hat.value;
  j["bias_se"] = to_json_number(log_z_hat.se);
  j["bias_ci_low"] = to_json_number(log_z_hat.value - 1.96 * log_z_hat.se);
  j["bias_ci_high"] = to_json_number(log_z_hat.value + 1.96 * log_z_hat.se);
  // The bias with the control variate Zhat/Z - E[Zhat/Z] (mean 0; items 1 and 6): the
  // same expectation as `bias`, far smaller spread.
  j["bias_control_variate"] = cv.value;
  j["bias_control_variate_se"] = to_json_number(cv.se);
  j["predicted_bias"] = to_json_number(-chi2 / (2.0 * n));
  j["predicted_var"] = to_json_number(chi2 / n);
  // No ratio to a first-order prediction of 0 (q = p*: bias and variance are rounding,
  // and the ratios were -25.6 or inf) or of infinity (a hole): nan. chi2 = G(root) - 1 in
  // double carries rounding of order 1e-16 per tree level, so below 1e-12 it is 0.
  const bool predicted = std::isfinite(chi2) && chi2 > 1e-12;
  j["bias_ratio"] = to_json_number(predicted ? cv.value / (-chi2 / (2.0 * n)) : NAN);
  j["var_ratio"] = to_json_number(predicted ? var.value / (chi2 / n) : NAN);
  if (const auto law = theory::exact_law(c, a.samples)) {
    j["bias_exact"] = law->bias;
    j["log_Zhat_var_exact"] = law->var_log;
    j["ess_fraction_exact"] = law->ess_fraction;
  }
  j["Zhat_over_Z_mean"] = z_ratio.value;
  j["Zhat_over_Z_mean_se"] = to_json_number(z_ratio.se);
  j["Zhat_over_Z_mean_exact"] = c.mean_u;
  j["ess_fraction_mean"] = theory::mean_of(reps.ess_fraction).value;
  j["expected_ess_fraction"] = to_json_number(c.chi2.expected_ess_fraction());
  j["k_hat_mean"] = to_json_number(k_hat_mean);
  j["k_hat_available_fraction"] = k_available;
  j["k_hat_threshold"] = to_json_number(k_hat_threshold(a.samples));
  j["k_hat_above_threshold_fraction"] = k_above / a.replicates;
  j["delta_ci_coverage"] = theory::mean_of(reps.covers).value;
  j["reliable_fraction"] = theory::mean_of(reps.reliable).value;
  return j;
}

}  // namespace

void add_estimate_command(CLI::App& app) {
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "estimate", "Replicated importance-sampled log Zhat on a tree: bias and variance against the exact log Z and "
                  "-chi2/(2N), chi2/N; ESS, k_hat, CI coverage");
  cmd->add_option("--tree", args->tree, "Tree file (.json, a disa-tree-set, or .dtree)")->required();
  cmd->add_option("--beta", args->beta, "Inverse temperature beta of the target p* ∝ pi_ref exp(beta r)")->required();
  cmd->add_option("--proposal", args->proposal,
                  "Proposal SPEC: reference, target, tilted:lambda=L, interp:lambda=L, mixture:eps=E, file:PATH")
      ->required();
  cmd->add_option("--samples", args->samples, "Samples N per estimate")
      ->required()
      ->check(integer_in(1, std::int64_t{1} << 40));
  cmd->add_option("--replicates", args->replicates, "Independent estimates M")
      ->capture_default_str()
      ->check(integer_in(2, std::int64_t{1} << 30));
  cmd->add_option("--seed", args->seed, "Seed of the counter-based RNG")->required();
  cmd->add_option("--prompt", args->prompt, "Which tree of a disa-tree-set (0-based)");
  cmd->add_flag("--json", args->json, "One JSON object");
  cmd->callback([args] {
    const ordered_json j = run_estimate(*args);
    if (args->json) {
      std::cout << j.dump() << '\n';
      return;
    }
    for (const auto& [k, v] : j.items()) {
      const std::string text = v.is_number_float() ? num(v.get<double>()) : v.is_string() ? v.get<std::string>() : v.dump();
      std::cout << fmt::format("{:<32} {}\n", k, text);
    }
  });
}

}  // namespace disa::cli
