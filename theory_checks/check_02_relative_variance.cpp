// check_02_relative_variance — THEORY.md item 2: "Relative variance:
// Var[Zhat_N] / Z^2 = chi2(p* || q) / N", with chi2 by the backward G-recursion.
//
// Exact statement for every N, tested by sampling. For each tree x beta x
// proposal x N, the unbiased sample variance of Zhat_N / Z over M replicates is
// compared with chi2/N. Its standard error is exact: with u = w/Z under q
// (central moments mu2 = chi2, mu4 by enumeration), Zhat_N/Z has
//   mu2' = mu2 / N,   mu4' = (mu4 - 3 mu2^2) / N^3 + 3 mu2^2 / N^2,
// and Var(s^2) = mu4'/M - mu2'^2 (M - 3)/(M (M - 1)). z = (s^2 - chi2/N)/se, FAIL if |z| > 4.
//
// Run: build/bin/check_02_relative_variance [--out DIR] [--quick] [--seed S]
#include <cmath>

#include "theory_checks/check_util.h"
#include "theory_checks/estimator_checks.h"

namespace disa::theory {
namespace {

constexpr std::uint64_t kCheck = 2;

}  // namespace

CheckResult check_02_relative_variance(const CheckOptions& options) {
  const std::vector<std::string> tree_names = {"random", "strategies"};
  const std::vector<std::string> proposals = {"reference", "tilted:lambda=0.5", "interp:lambda=0.5"};
  const std::vector<std::int64_t> ns = {1, 4, 16, 64, 256, 1024, 4096};
  const std::vector<std::int64_t> ns_small_beta = {1, 64, 1024};
  const std::int64_t floor = std::int64_t{1} << 19, min_reps = 512;
  CheckResult result;
  result.name = "check_02_relative_variance";
  result.statement = "Var[Zhat_N]/Z^2 = chi2(p*||q)/N for every N (THEORY.md item 2; exact, se from the exact "
                     "fourth moment)";
  std::string trees;
  std::uint64_t row_index = 0;
  for (const std::string& name : tree_names) {
    const NamedTree nt = standard_tree(name);
    trees += (trees.empty() ? "" : "; ") + nt.name + " = " + nt.description;
    for (const double beta : {4.0, 1.0}) {
      for (const std::string& spec : proposals) {
        const Case c = make_case(nt, beta, spec);
        const double mu2 = c.central_moment(2), mu4 = c.central_moment(4);
        for (const std::int64_t n : beta == 4.0 ? ns : ns_small_beta) {
          const std::int64_t m = replicates_for(options, n, floor, min_reps);
          const std::uint64_t seed = row_seed(options.seed, kCheck, row_index++);
          const Replicates reps = run_replicates(c, n, m, seed);
          std::vector<double> z_ratio(reps.log_ratio.size());  // [M] Zhat/Z
          for (std::size_t i = 0; i < z_ratio.size(); ++i) z_ratio[i] = std::exp(reps.log_ratio[i]);
          const double nd = static_cast<double>(n);
          const double mu2_n = mu2 / nd;
          const double mu4_n = (mu4 - 3.0 * mu2 * mu2) / (nd * nd * nd) + 3.0 * mu2_n * mu2_n;
          const Estimate var = variance_with_known_moments(z_ratio, mu2_n, mu4_n);
          Row r = row_for(c, "Var[Zhat]/Z^2", n, m, seed);
          r.kind = RowKind::kExact;
          r.exact = c.chi2.value / nd;
          r.measured = var.value;
          r.se = var.se;
          r.variance_dof = satterthwaite_dof(r.exact, var.se);  // judged on Wilson-Hilferty's scale
          r.note = fmt::format("exact chi2/N; rel. se {:.2g}; {:.0f} dof", var.se / r.exact, r.variance_dof);
          result.rows.push_back(r);
        }
      }
    }
  }
  result.config = fmt::format("trees: {}. beta 4 with N {}, beta 1 with N {}; q {}; replicates M = max({}, {}/N); "
                              "seed {} (row seeds derived)",
                              trees, braces(ns), braces(ns_small_beta), braces(proposals),
                              min_reps / (options.quick ? 8 : 1), floor / (options.quick ? 8 : 1), options.seed);
  for (Row& r : result.rows) judge(r);
  return result;
}

}  // namespace disa::theory
