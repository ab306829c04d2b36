// Training studies on exact trees (THEORY.md items 11 and 13), in the style of the
// estimator checks: each a function returning a CheckResult table (check_table.h), a
// program build/bin/check_NN_* with --quick/--out/--seed, CSV + JSON of the table, and
// per-step learning curves in <name>_curves.csv beside them.
//
//   check_13_collapse        GRPO/GSPO collapse the strategy distribution, DISA reaches p*,
//                            SFT on reward-filtered q reaches q(y | correct)        (item 13)
//   check_11_coupled_log_z   FlowRL's learned log Z_phi: fixed-policy optimum
//                            log Z - KL(pi || p*) (exact) and the coupled dynamics of c_t,
//                            KL_t for the plain and the 1/|y| residual               (item 11)
//   check_09_envelope        DISA offline with a frozen log Z off by c: the envelope KL(pi_c||p*)
//                            ~ k c^2, spread over starts; on-policy p* for every c; 1/|y| fixed
//                            points (T beta tilt; not p* with variable lengths)  (items 8-10)
//   check_12_paced           PACED-RL's identity E_pi[r] = (log Z_old - KL)/beta (exact), the
//                            dropped KL/beta, paced vs uniform prompt selection and
//                            accuracy-estimation-error prioritised replay            (item 12)
//   check_14_disa_sensitivity  DISA end to end: log Zhat_N from N samples of q_lambda frozen,
//                            disa-offline on the same samples; final KL over lambda, beta, N
//                            beside the anchor's bias and variance          (items 1-3, 7, 9)
//
// The trainer (src/train/trainer.h) gives the exact metrics; runs are independent and run
// in parallel (OpenMP over runs), each result stored at its index, so the files do not
// depend on the thread count. Exact-gradient statements decide the exit code; everything
// measured on training dynamics is a finding, stated with its numbers.
//
// Run one:  build/bin/check_13_collapse [--out DIR] [--quick] [--seed S]
// Plots:    /usr/bin/python3 plots/plot_training_checks.py DIR
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "src/counter_rng.h"
#include "src/train/trainer.h"
#include "theory_checks/estimator_checks.h"

namespace disa::theory {

CheckResult check_13_collapse(const CheckOptions& options);
CheckResult check_11_coupled_log_z(const CheckOptions& options);
CheckResult check_09_envelope(const CheckOptions& options);
CheckResult check_12_paced(const CheckOptions& options);
CheckResult check_14_disa_sensitivity(const CheckOptions& options);

const std::vector<CheckEntry>& training_checks();

// The noise of check_09's random start `start` (>= 1) added to pi_ref's logits: logit j gets
// envelope_start_rng(seed, start).normal(j). Keyed by splitmix64(seed ^ tag), apart from the
// families' CounterRng(seed, stream) draws and the sampler's trajectory_rng.
CounterRng envelope_start_rng(std::uint64_t seed, std::uint64_t start);

// The main() of one training-check program: --out, --quick, --seed; exit 0/1 by verdict, 2 on bad args.
int training_check_program_main(const std::string& name, int argc, char** argv);

// Per-step learning curves of many runs, written as DIR/<name>_curves.csv:
//   run,group,tree,seed,step,<StepMetrics fields>,<extra columns>
class CurveTable {
 public:
  explicit CurveTable(std::vector<std::string> extra_columns = {}) : extra_(std::move(extra_columns)) {}
  struct Point {
    train::StepMetrics metrics;
    std::vector<double> extra;  // one value per extra column
  };
  struct Run {
    std::string run, group, tree;
    std::uint64_t seed = 0;
    std::vector<Point> points;
  };
  void add(Run run) { runs_.push_back(std::move(run)); }
  void write(const std::string& dir, const std::string& name) const;

 private:
  std::vector<std::string> extra_;
  std::vector<Run> runs_;
};

// Which steps a curve keeps: every step up to 50, then about 300 points, and the last.
bool record_step(std::int64_t step, std::int64_t total);

// A report row (not counted, no finding): what was measured, with p*'s value as `exact`.
Row report_row(const std::string& quantity, const std::string& tree, double beta, const std::string& label,
               std::int64_t steps, std::int64_t seeds, double exact, double measured, double se,
               const std::string& note);
// A finding row: a measured statement about training, with its verdict text.
Row finding_row(const std::string& quantity, const std::string& tree, double beta, const std::string& label,
                std::int64_t steps, std::int64_t seeds, double exact, double measured, const std::string& verdict,
                const std::string& note);

// Item 9's small-c envelope coefficient k = Var_p*(w) / (2 E_p*[w]^2), w = p*/q, from leaf
// log-probabilities: KL(pi_c || p*) ~ k c^2 for a frozen log Z off by c (offline, exact data).
double envelope_k(const std::vector<double>& target_leaf, const std::vector<double>& q_leaf);

// Paired comparisons of training arms over seeds (check_12): does an arm need fewer samples
// than its baseline?
// One-sided exact sign test: P(Binomial(wins + losses, 1/2) >= wins); 1 when wins + losses = 0.
double sign_test_p(int wins, int losses);
// Holm's step-down adjustment of a family of m p-values: with p_(1) <= ... <= p_(m),
// adjusted p_(i) = min(1, max_{j <= i} (m - j + 1) p_(j)), returned in the input's order.
// Calling a comparison significant where its adjusted p <= alpha keeps the chance of any
// false call in the family <= alpha, whatever the dependence between the tests (check_12's
// comparisons share baseline runs).
std::vector<double> holm_adjust(const std::vector<double>& p);
// The verdict on "the arm needs fewer samples than its baseline", one of a family of
// `family` comparisons: "BETTER (...)" only when the ratio of means favours the arm
// (ratio_of_means < 1) and the Holm-adjusted p <= level; else "NOT DISTINGUISHABLE (...)"
// when the ratio favours the arm, "NOT better (...)" when it does not (or is NaN). The text
// in brackets gives the sign test, the raw and the adjusted p.
std::string better_verdict(double ratio_of_means, int wins, int losses, double p_raw, double p_adjusted,
                           std::size_t family, double level);

struct Spread {
  double mean = 0, se = 0, min = 0, max = 0;
  std::string text() const;  // "0.0123 [0.0101, 0.0150]"
};
Spread spread_of(const std::vector<double>& values);

}  // namespace disa::theory
