// check_07_sensitivity — THEORY.md item 7: "The sensitivity pattern the DISA paper
// reports ('proposal strength and inverse temperature follow the bias-variance
// pattern predicted by the analysis') is items 2-5 swept over lambda and beta:
// measured bias and variance against -chi2/(2N) and chi2/N."
//
// Part 1 (first order, with exact anchors): on the strategies tree at N = 64, the
// tilted family over lambda x beta and the per-node interpolation over lambda at
// beta = 4: bias of log Zhat (control variate, as in check_03) against -chi2/(2N)
// and Var[log Zhat] against chi2/N. Every tilted q_lambda on these binary rewards has
// a two-valued weight and so an exact (binomial) law of log Zhat_N (replicates.h):
// sampled values must match it (|z| <= 4), and the first-order ratio exact/predicted is
// noise-free. lambda = 1 (q = p*) must give log Zhat = log Z in every replicate
// (identity, 1e-12). The interpolated proposals have no exact law at N = 64.
// Part 2 (weight degeneracy over the horizon): q = p* at temperature tau per node,
// q(a|s) ∝ p*(a|s)^(1/tau) (the demo's chi2_by_horizon), on random trees of horizon
// T = 1..10: chi2 by recursion = by enumeration (identity), and sampled E[ESS]/N at
// N = 1024 against 1/(1 + chi2) (first order). Writes check_07_horizon.csv too.
//
// Run: build/bin/check_07_sensitivity [--out DIR] [--quick] [--seed S]
#include <cmath>
#include <filesystem>

#include "src/atomic_file.h"
#include "theory_checks/check_util.h"
#include "theory_checks/estimator_checks.h"
#include "toy_envs/flows.h"

namespace disa::theory {
namespace {

constexpr std::uint64_t kCheck = 7;

// Bias and variance rows for one (case, N); an identity row when q = p*.
void sensitivity_rows(const Case& c, std::int64_t n, std::int64_t m, std::uint64_t seed, std::vector<Row>& rows) {
  const Replicates reps = run_replicates(c, n, m, seed);
  if (c.chi2.value < 1e-12) {  // q = p* up to round-off
    Row r = row_for(c, "max_r |log Zhat - log Z|", n, m, seed);
    r.kind = RowKind::kIdentity;
    r.exact = 0.0;
    r.measured = 0.0;
    for (double x : reps.log_ratio) r.measured = std::max(r.measured, std::fabs(x));
    r.tolerance = 1e-12;
    r.note = "q = p*: zero bias and zero variance";
    rows.push_back(r);
    return;
  }
  const LogSpaceRows log_rows = log_space_rows(c, n, m, seed, reps, exact_law(c, n));
  rows.push_back(log_rows.bias);
  rows.push_back(log_rows.variance);
}

TabularPolicy tempered_target(const Tree& tree, double beta, double tau) {
  const TabularPolicy target = target_policy(tree, reference_policy(tree), beta);
  std::vector<double> logits(target.log_prob.size());
  for (std::size_t i = 0; i < logits.size(); ++i) logits[i] = target.log_prob[i] / tau;
  return TabularPolicy::from_logits(tree.shape, logits);
}

}  // namespace

CheckResult check_07_sensitivity(const CheckOptions& options) {
  const std::vector<double> betas = {1.0, 2.0, 4.0, 8.0};
  const std::vector<double> lambdas = {0.0, 0.25, 0.5, 0.75, 1.0};
  const std::vector<double> interp_lambdas = {0.25, 0.5, 0.75, 1.0};
  const std::vector<double> taus = {0.5, 0.8, 1.25, 2.0};
  const std::int64_t n = 64, m = replicates_for(options, n, std::int64_t{1} << 18, 2048);
  const std::int64_t ess_n = 1024, ess_m = replicates_for(options, ess_n, 0, 64);
  const int max_horizon = 10;
  const double horizon_beta = 2.0;
  CheckResult result;
  result.name = "check_07_sensitivity";
  result.statement = "bias and variance of log Zhat follow -chi2/(2N) and chi2/N over proposal strength lambda and "
                     "beta; chi2 grows with the horizon T for a per-token mismatch (THEORY.md item 7)";
  const NamedTree strategies = standard_tree("strategies");
  std::uint64_t row_index = 0;
  for (const double beta : betas) {
    for (const double lambda : lambdas) {
      const Case c = make_case(strategies, beta, fmt::format("tilted:lambda={}", lambda));
      sensitivity_rows(c, n, m, row_seed(options.seed, kCheck, row_index++), result.rows);
    }
  }
  for (const double lambda : interp_lambdas) {
    const Case c = make_case(strategies, 4.0, fmt::format("interp:lambda={}", lambda));
    sensitivity_rows(c, n, m, row_seed(options.seed, kCheck, row_index++), result.rows);
  }
  // Part 2: the horizon.
  struct HorizonPoint {
    int horizon;
    std::int64_t leaves;
    double tau, chi2, log1p_chi2, ess, ess_se;
  };
  std::vector<HorizonPoint> points;
  std::string horizon_tree_text;
  for (const double tau : taus) {
    Row identity;  // one row per tau: the largest relative gap over T
    for (int horizon = 1; horizon <= max_horizon; ++horizon) {
      const NamedTree nt = horizon_tree(horizon);
      if (horizon == max_horizon && tau == taus.front()) horizon_tree_text = nt.description;
      auto tree = std::make_shared<const Tree>(nt.tree);
      const Case c = make_case(nt.name, tree, horizon_beta, fmt::format("p*^(1/tau), tau={}", tau),
                               tempered_target(*tree, horizon_beta, tau));
      if (horizon == 1) {
        identity = row_for(c, "chi2: recursion vs enumeration, max rel. diff over T");
        identity.tree = fmt::format("random_T1..T{}", max_horizon);
        identity.kind = RowKind::kIdentity;
        identity.exact = 0.0;
        identity.measured = 0.0;
        identity.tolerance = 1e-10;
      }
      identity.measured = std::max(identity.measured, std::fabs(c.chi2.value / c.chi2_enumerated - 1.0));
      const std::uint64_t seed = row_seed(options.seed, kCheck, row_index++);
      const Estimate ess = mean_of(run_replicates(c, ess_n, ess_m, seed).ess_fraction);
      Row r = row_for(c, "E[ESS]/N", ess_n, ess_m, seed);
      r.kind = RowKind::kPrediction;
      r.predicted = c.chi2.expected_ess_fraction();
      r.measured = ess.value;
      r.se = ess.se;
      r.approximation = "LARGE-N ESS";
      r.note = fmt::format("T={}, {} leaves", horizon, tree->shape.num_leaves());
      result.rows.push_back(r);
      points.push_back({horizon, tree->shape.num_leaves(), tau, c.chi2.value, c.chi2.log1p_value, ess.value, ess.se});
    }
    identity.chi2 = points.back().chi2;  // at T = max_horizon
    result.rows.push_back(identity);
  }
  for (Row& r : result.rows) judge(r);
  // Summary: the pattern over lambda, and the growth rate of log(1 + chi2) in T.
  for (const double beta : betas) {
    std::vector<std::string> cells;
    for (const Row& r : result.rows) {
      if (r.tree == strategies.name && r.beta == beta && r.proposal.starts_with("tilted") &&
          r.quantity == "Var[log Zhat]") {
        cells.push_back(fmt::format("{}: chi2/N {:.3g} vs {:.3g}", r.proposal.substr(14), r.predicted, r.measured));
      }
    }
    result.summary.push_back(fmt::format("variance of log Zhat at N={}, beta={}, tilted lambda -> predicted vs measured: {}",
                                         n, beta, fmt::join(cells, "; ")));
  }
  for (const double tau : taus) {
    double st = 0, sy = 0, stt = 0, sty = 0, k = 0;
    std::vector<std::string> chi2s, ess_ratios;
    for (const HorizonPoint& p : points) {
      if (p.tau != tau) continue;
      ess_ratios.push_back(short_num(p.ess * (1.0 + p.chi2), 3));
      st += p.horizon;
      sy += p.log1p_chi2;
      stt += p.horizon * p.horizon;
      sty += p.horizon * p.log1p_chi2;
      ++k;
      chi2s.push_back(short_num(p.chi2, 3));
    }
    const double slope = (k * sty - st * sy) / (k * stt - st * st);
    result.summary.push_back(fmt::format("horizon, tau={}: chi2 over T=1..{} = [{}]; log(1+chi2) grows {:.4f} per step "
                                         "(least squares): 1 + chi2 ~ e^({:.4f} T); sampled E[ESS]/N at N={} over "
                                         "1/(1+chi2) = [{}]",
                                         tau, max_horizon, fmt::join(chi2s, ", "), slope, slope, ess_n,
                                         fmt::join(ess_ratios, ", ")));
  }
  std::filesystem::create_directories(options.out_dir);
  write_file_atomically(std::filesystem::path(options.out_dir) / "check_07_horizon.csv", [&](std::ostream& out) {
    out << "horizon,num_leaves,tau,beta,chi2,log1p_chi2,expected_ess_fraction,ess_fraction_measured,ess_se,n,"
           "replicates\n";
    for (const HorizonPoint& p : points) {
      out << fmt::format("{},{},{},{},{},{},{},{},{},{},{}\n", p.horizon, p.leaves, num(p.tau), num(horizon_beta),
                         num(p.chi2), num(p.log1p_chi2), num(1.0 / (1.0 + p.chi2)), num(p.ess), num(p.ess_se), ess_n,
                         ess_m);
    }
  });
  result.config = fmt::format("part 1: strategies = {}; tilted lambda {} x beta {}, interp lambda {} at beta 4; N {}, "
                              "replicates {}. part 2: random trees V=3 correct_fraction 0.5 T=1..{} (T={}: {}), beta "
                              "{}, q = p*^(1/tau) per node, tau {}; ESS at N {}, replicates {}. seed {} (row seeds "
                              "derived)",
                              strategies.description, braces(lambdas), braces(betas), braces(interp_lambdas), n, m,
                              max_horizon, max_horizon, horizon_tree_text, horizon_beta, braces(taus), ess_n, ess_m,
                              options.seed);
  return result;
}

}  // namespace disa::theory
