// The theory checks of the importance-sampled log Zhat_N (THEORY.md items 1-5, 7),
// one function per statement, each also a program (build/bin/check_NN_*):
//
//   check_01_unbiased            E[Zhat_N] = Z                                   (item 1, exact)
//   check_02_relative_variance   Var[Zhat_N]/Z^2 = chi2/N                        (item 2, exact)
//   check_03_log_bias            E[log Zhat_N] - log Z ≈ -chi2/(2N), Var ≈ chi2/N,
//                                E[log Zhat_N] <= log Z                          (item 3)
//   check_04_ess                 E[ESS]/N ≈ 1/(1 + chi2) for large N             (item 4)
//   check_05_binary_bound        chi2(p*||pi_ref) <= (1-acc)/acc; tilted closed form (item 5, exact)
//   check_07_sensitivity         bias/variance over lambda x beta; chi2 over horizon T (item 7)
//
// Run one:  build/bin/check_03_log_bias [--out DIR] [--quick] [--seed S]
// Run all:  build/bin/disa check estimator [--out DIR] [--quick] [--seed S]
// Plots:    /usr/bin/python3 plots/plot_estimator_checks.py DIR
// Each prints its table and writes DIR/<name>.csv and DIR/<name>.json; the exit
// code is 0 iff every exact-statement row passes (check_table.h has the rules).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "theory_checks/check_table.h"

namespace disa::theory {

struct CheckOptions {
  std::string out_dir = "results/theory_checks";
  bool quick = false;       // 1/8 of the samples: a smoke run, CIs about 3x wider
  std::uint64_t seed = 1;   // sampling seed; the trees always use tree seed 1
  bool print = true;        // print the table to stdout
};

// Replicates for N samples each: at least `min_replicates`, and enough for about
// `sample_floor` samples in all; both divided by 8 under --quick.
std::int64_t replicates_for(const CheckOptions& options, std::int64_t n, std::int64_t sample_floor,
                            std::int64_t min_replicates);

CheckResult check_01_unbiased(const CheckOptions& options);
CheckResult check_02_relative_variance(const CheckOptions& options);
CheckResult check_03_log_bias(const CheckOptions& options);
CheckResult check_04_ess(const CheckOptions& options);
CheckResult check_05_binary_bound(const CheckOptions& options);
CheckResult check_07_sensitivity(const CheckOptions& options);

struct CheckEntry {
  std::string name;
  std::function<CheckResult(const CheckOptions&)> run;
};
const std::vector<CheckEntry>& estimator_checks();

// Runs one check: times it, prints it (if options.print) and writes its files.
CheckResult run_check(const CheckEntry& check, const CheckOptions& options);

// Runs all of them; prints a final summary line per check and the overall line.
// Returns true iff every exact-statement row passed.
bool run_estimator_checks(const CheckOptions& options);
// The same for any list of checks (the training studies: training_checks.h);
// `findings_are` says what a finding means in the overall line.
bool run_checks(const std::vector<CheckEntry>& checks, const CheckOptions& options, const std::string& findings_are);

// The main() of a check program from any list of checks: --out, --quick, --seed with these
// help texts; exit 0/1 by verdict, 2 on bad arguments or input.
struct CheckProgramText {
  std::string description;  // "<name>: <description> (see theory_checks/README.md)"
  std::string default_out;
  std::string out_help, quick_help, seed_help;
};
int run_check_program(const std::vector<CheckEntry>& checks, const CheckProgramText& text, const std::string& name,
                      int argc, char** argv);

// The main() of one check program: parses --out, --quick, --seed; exit 0/1 by verdict, 2 on bad args.
int check_program_main(const std::string& name, int argc, char** argv);

}  // namespace disa::theory
