// check_04_ess — THEORY.md item 4: "Effective sample size ESS = (sum w)^2 / sum w^2;
// E[ESS]/N ~ 1/(1 + chi2) for large N."
//
// First-order (large-N) prediction, plus exact statements:
//   - the exact E[ESS]/N where computable (replicates.h: N = 2 by pairs, every N
//     when the weight takes two values: q = pi_ref and tilted q_lambda on binary
//     rewards): sampled mean must match, |z| <= 4.
// Sanity rows (judged, a failure fails the run, but not counted as tests of item 4,
// check_table.h): 1 <= ESS <= N in every replicate, which is Cauchy-Schwarz, and
// E[ESS]/N = 1 at N = 1, which is w^2 / w^2: both hold for any weights, so passing them
// says the arithmetic is right, not that the theory is.
// A first-order row off by more than 10% is a finding ("LARGE-N ESS BREAKS DOWN
// (ratio r)"); the summary says from which N 1/(1 + chi2) is accurate.
//
// Run: build/bin/check_04_ess [--out DIR] [--quick] [--seed S]
#include <cmath>

#include "theory_checks/check_util.h"
#include "theory_checks/estimator_checks.h"

namespace disa::theory {
namespace {

constexpr std::uint64_t kCheck = 4;

struct CaseSpec {
  std::string tree;
  double beta;
  std::string proposal;
};

}  // namespace

CheckResult check_04_ess(const CheckOptions& options) {
  const std::vector<CaseSpec> specs = {
      {"random", 4.0, "reference"},        {"random", 4.0, "interp:lambda=0.5"},
      {"strategies", 4.0, "reference"},    {"strategies", 4.0, "tilted:lambda=0.5"},
      {"strategies", 8.0, "reference"},
  };
  const std::vector<std::int64_t> ns = {1, 4, 16, 64, 256, 1024, 4096};
  const std::int64_t floor = std::int64_t{1} << 18, min_reps = 256;
  CheckResult result;
  result.name = "check_04_ess";
  result.statement = "E[ESS]/N -> 1/(1 + chi2) for large N (THEORY.md item 4; first order), exact E[ESS]/N where "
                     "known (exact); 1 <= ESS <= N (sanity)";
  std::string trees, grid;
  for (const char* name : {"random", "strategies"}) {
    trees += (trees.empty() ? "" : "; ") + std::string(name) + " = " + standard_tree(name).description;
  }
  std::vector<Case> cases;
  std::uint64_t row_index = 0;
  for (const CaseSpec& s : specs) {
    const Case c = make_case(standard_tree(s.tree), s.beta, s.proposal);
    grid += fmt::format("{}({}, beta={}, chi2={:.3g}) ", s.tree, s.proposal, s.beta, c.chi2.value);
    std::int64_t outside = 0, total = 0;
    for (const std::int64_t n : ns) {
      const std::int64_t m = replicates_for(options, n, floor, min_reps);
      const std::uint64_t seed = row_seed(options.seed, kCheck, row_index++);
      const Replicates reps = run_replicates(c, n, m, seed);
      const double nd = static_cast<double>(n);
      for (double f : reps.ess_fraction) {
        outside += !(f * nd >= 1.0 - 1e-12 && f <= 1.0 + 1e-12);
        ++total;
      }
      const Estimate ess = mean_of(reps.ess_fraction);
      const std::optional<ExactLaw> law = exact_law(c, n);
      Row r = row_for(c, "E[ESS]/N", n, m, seed);
      r.kind = law ? RowKind::kExact : RowKind::kPrediction;
      r.exact = law ? law->ess_fraction : kNaN;
      r.predicted = c.chi2.expected_ess_fraction();
      r.measured = ess.value;
      // With the exact law its variance gives the se (the sample one misses rare draws);
      // at N = 1 ESS/N is 1 in every replicate and the row is judged by its tolerance.
      r.se = law && n > 1 ? std::sqrt(law->var_ess_fraction / static_cast<double>(reps.ess_fraction.size())) : ess.se;
      if (law && n > 1) {
        r.law_z = saddlepoint_z(law->ess_fraction_law, ess.value, static_cast<std::int64_t>(reps.ess_fraction.size()));
        r.note = "z from the exact law's saddlepoint";
      }
      r.tolerance = 1e-12;  // N = 1: ESS = 1 in every replicate, no spread
      r.sanity = n == 1;    // ... for any weights: not a test of the estimator's theory
      r.approximation = "LARGE-N ESS";
      result.rows.push_back(r);
    }
    Row bound = row_for(c, "replicates with ESS outside [1, N]", 0, total / static_cast<std::int64_t>(ns.size()));
    bound.kind = RowKind::kIdentity;
    bound.exact = 0.0;
    bound.measured = static_cast<double>(outside);
    bound.tolerance = 0.0;
    bound.sanity = true;  // Cauchy-Schwarz: holds for any weights
    bound.note = fmt::format("{} replicates over N in {}", total, braces(ns));
    result.rows.push_back(bound);
    cases.push_back(c);
  }
  for (Row& r : result.rows) judge(r);
  for (const Case& c : cases) result.summary.push_back(accuracy_summary(result.rows, "large-N ESS", c, "E[ESS]/N"));
  result.config = fmt::format("trees: {}. cases: {}; N {}; replicates M = max({}, {}/N); seed {} (row seeds derived)",
                              trees, grid, braces(ns), min_reps / (options.quick ? 8 : 1),
                              floor / (options.quick ? 8 : 1), options.seed);
  return result;
}

}  // namespace disa::theory
