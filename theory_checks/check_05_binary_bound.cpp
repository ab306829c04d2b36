// check_05_binary_bound — THEORY.md item 5: "chi2(p* || q_lambda) = Z(lambda beta)
// Z((2 - lambda) beta) / Z(beta)^2 - 1. With binary rewards and q = pi_ref this is
// bounded by (1 - acc)/acc for every beta." (and item 6: a hole gives chi2 = inf).
//
// Exact statements, almost all without sampling:
//   - chi2(p*||pi_ref) by the backward recursion <= (1 - acc)/acc, over beta (bound);
//   - it equals the binary closed form acc (1 - acc) (e^beta - 1)^2 / Z^2 with
//     Z = 1 + (e^beta - 1) acc (identity, relative 1e-10);
//   - tilted proposals: log(1 + chi2) by recursion = the closed form (identity, 1e-10);
//   - chi2 by recursion = by enumeration over leaves (identity, relative 1e-10);
//   - a proposal with zero mass on a subtree p* reaches: chi2 = inf (identity);
//   - sampled: E_q[(w/Z)^2] - 1 = chi2, z-test with the exact se sqrt(Var_q[u^2]/S).
//
// Run: build/bin/check_05_binary_bound [--out DIR] [--quick] [--seed S]
#include <cmath>

#include "src/log_sum_exp.h"
#include "theory_checks/check_util.h"
#include "theory_checks/estimator_checks.h"
#include "toy_envs/families/family.h"
#include "toy_envs/flows.h"
#include "toy_envs/proposals.h"

namespace disa::theory {
namespace {

constexpr std::uint64_t kCheck = 5;

NamedTree hardest_prompt() {
  Tree tree = make_trees("multi_prompt", {}, /*seed=*/1)[0];  // prompt 0: accuracy_min = 0.02
  const double acc = accuracy(tree, reference_policy(tree));
  return {"multi_prompt[0]",
          fmt::format("multi_prompt() seed 1, prompt 0: {} leaves, acc {:.4f}", tree.shape.num_leaves(), acc),
          std::move(tree)};
}

}  // namespace

CheckResult check_05_binary_bound(const CheckOptions& options) {
  const std::vector<double> betas = {0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0};
  const std::vector<double> tilt_betas = {1.0, 8.0};
  const std::vector<double> lambdas = {0.25, 0.5, 1.0, 1.5};
  CheckResult result;
  result.name = "check_05_binary_bound";
  result.statement = "chi2(p*||pi_ref) <= (1-acc)/acc on binary rewards; chi2(p*||q_lambda) = Z(lambda beta) "
                     "Z((2-lambda) beta)/Z(beta)^2 - 1 (THEORY.md items 5, 6; exact)";
  const std::vector<NamedTree> trees = {standard_tree("random"), standard_tree("strategies"), hardest_prompt()};
  std::string tree_text;
  std::uint64_t row_index = 0;
  for (const NamedTree& nt : trees) {
    tree_text += (tree_text.empty() ? "" : "; ") + nt.name + " = " + nt.description;
    const TabularPolicy ref = reference_policy(nt.tree);
    const double acc = accuracy(nt.tree, ref);
    for (const double beta : betas) {
      const Case c = make_case(nt, beta, "reference");
      Row bound = row_for(c, "chi2(p*||pi_ref) <= (1-acc)/acc");
      bound.kind = RowKind::kUpperBound;
      bound.exact = (1.0 - acc) / acc;
      bound.measured = c.chi2.value;
      bound.se = 0.0;
      bound.tolerance = 1e-12 * bound.exact;
      bound.note = fmt::format("acc {:.6g}", acc);
      result.rows.push_back(bound);
      const double z = 1.0 + std::expm1(beta) * acc;
      Row closed = row_for(c, "chi2(p*||pi_ref) vs acc(1-acc)(e^b-1)^2/Z^2");
      closed.kind = RowKind::kIdentity;
      closed.exact = acc * (1.0 - acc) * std::expm1(beta) * std::expm1(beta) / (z * z);
      closed.measured = c.chi2.value;
      closed.tolerance = 1e-10 * closed.exact;
      result.rows.push_back(closed);
    }
    for (const double beta : tilt_betas) {
      for (const double lambda : lambdas) {
        const Case c = make_case(nt, beta, fmt::format("tilted:lambda={}", lambda));
        Row r = row_for(c, "log(1+chi2) tilted: recursion vs closed form");
        r.kind = RowKind::kIdentity;
        r.exact = tilted_chi_square_closed_form(nt.tree, beta, lambda).log1p_value;
        r.measured = c.chi2.log1p_value;
        r.tolerance = 1e-10;
        result.rows.push_back(r);
      }
    }
    const Case interp = make_case(nt, 4.0, "interp:lambda=0.5");
    Row e = row_for(interp, "chi2: recursion vs enumeration");
    e.kind = RowKind::kIdentity;
    e.exact = interp.chi2_enumerated;
    e.measured = interp.chi2.value;
    e.tolerance = 1e-10 * e.exact;
    result.rows.push_back(e);
    // Item 6: zero mass on a subtree that p* reaches.
    auto shared = std::make_shared<const Tree>(nt.tree);
    std::vector<double> logits = interp.sampler->policy().log_prob;
    logits[shared->shape.level_offset(1) * shared->shape.vocab()] = -INFINITY;
    const Case hole = make_case(nt.name, shared, 4.0, "interp:lambda=0.5 minus a subtree",
                                TabularPolicy::from_logits(shared->shape, logits));
    Row h = row_for(hole, "chi2 with a hole in q (must be inf)");
    h.kind = RowKind::kIdentity;
    h.exact = INFINITY;
    h.measured = hole.chi2.value;
    h.note = fmt::format("hole holds p* mass {:.4g}", hole.hole_mass);
    result.rows.push_back(h);
  }
  // Sampled: E_q[u^2] - 1 = chi2, one sample per replicate (N = 1).
  const std::int64_t samples = (std::int64_t{1} << 20) / (options.quick ? 8 : 1);
  for (std::size_t t = 0; t < 2; ++t) {
    for (const std::string spec : {"reference", "tilted:lambda=0.5"}) {
      const Case c = make_case(trees[t], 4.0, spec);
      const std::uint64_t seed = row_seed(options.seed, kCheck, row_index++);
      const Replicates reps = run_replicates(c, 1, samples, seed);
      double sum = 0.0;
      for (double lr : reps.log_ratio) sum += std::exp(2.0 * lr);
      Row r = row_for(c, "E_q[(w/Z)^2] - 1 (sampled)", 1, samples, seed);
      r.kind = RowKind::kExact;
      r.exact = c.chi2.value;
      r.measured = sum / static_cast<double>(samples) - 1.0;
      r.se = std::sqrt((c.raw_moment[4] - c.raw_moment[2] * c.raw_moment[2]) / static_cast<double>(samples));
      r.note = "se exact: sqrt(Var_q[u^2]/S)";
      result.rows.push_back(r);
    }
  }
  result.config = fmt::format("trees: {}. bound and binary closed form over beta {}; tilted closed form at beta {} x "
                              "lambda {}; sampled E_q[u^2] at beta 4 with {} samples; seed {} (row seeds derived)",
                              tree_text, braces(betas), braces(tilt_betas), braces(lambdas), samples, options.seed);
  for (Row& r : result.rows) judge(r);
  return result;
}

}  // namespace disa::theory
