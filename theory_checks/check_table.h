// The table every theory check prints and writes: one row per sweep point,
//
//   # | quantity | tree | beta | q | N | M | chi2 | exact | predicted | measured ± 95% CI | z | verdict
//
// and the verdict rules, kept in one place so every check judges the same way.
//
// Exact statements (THEORY.md items 1, 2, 5, 6, and the exact laws the checks
// compute by enumeration) decide the exit code:
//   kIdentity    deterministic, no sampling: |measured - exact| <= tolerance.
//   kExact       an exact expectation, sampled: z = (measured - exact) / se, FAIL if |z| > 4.
//   kUpperBound  an exact inequality measured <= exact, sampled: FAIL if z > 4.
// With a normal sampling distribution, |z| > 4 is a false alarm with probability
// 6.3e-5 per two-sided row (3.2e-5 one-sided); the seeds are fixed, so a run is
// reproducible and a FAIL can be re-run with another --seed.
// A sample variance is not normal: it is skewed (a chi-square for normal data, more so
// for heavy tails), and |z| > 4 on its raw scale fired 5-10x too often. A kExact row
// with variance_dof = nu > 0 is judged on Wilson-Hilferty's scale: s^2 ~ exact chi2_nu/nu
// with nu = 2 exact^2 / se^2 (Satterthwaite: the chi-square whose variance is the exact
// Var(s^2)), z = ((s^2/exact)^(1/3) - (1 - 2/(9 nu))) / sqrt(2/(9 nu)).
//
// A kExact row whose measured value is the mean of replicates with a known one-replicate
// law sets law_z: the saddlepoint's normal-scale z of that mean (saddlepoint.h), used in
// place of (measured - exact) / se. A skewed law's mean is not normal at M = 512: the
// normal z of check_03's beta-8 bias row falls below -4 26x as often as 3.2e-5.
//
// First-order predictions (the delta method of item 3, the large-N ESS of item 4)
// never fail the exit code; a miss is a finding, printed with its numbers:
//   with the exact value known (noise-free): ratio = exact / predicted, accurate iff |ratio - 1| <= 10%;
//   otherwise: accurate iff |measured - predicted| <= 4 se ("AGREES") or |ratio - 1| <= 10% ("WITHIN 10%");
//   not accurate: "<APPROXIMATION> BREAKS DOWN (ratio r)".
// A prediction row whose measured value is a sample variance and whose se is the one the
// prediction itself implies (the null, e.g. predicted sqrt(2/(R-1)) for R normal replicates)
// sets variance_dof = nu > 0: its z is Wilson-Hilferty's against the prediction, as above.
// (An se built from the measured variance instead can never call an overestimate a
// breakdown and calls an underestimate one only below about 0.4 at R = 16.)
// A row may carry both an exact value (judged) and a first-order prediction (assessed).
//
// Sanity rows (sanity = true) hold by construction for any correct arithmetic (ESS/N = 1 at
// N = 1; 1 <= ESS <= N by Cauchy-Schwarz): they cannot fail for a wrong theory, so they are
// not counted in the PASS tally as tests of it; they are judged like any exact row, and one
// that fails still fails the run (it means a bug) and is named in the overall line.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace disa::theory {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
inline constexpr double kZFail = 4.0;                  // |z| > 4 fails an exact-statement row
inline constexpr double kFalseAlarmTwoSided = 6.3e-5;  // P(|Z| > 4), Z ~ N(0, 1)
inline constexpr double kFirstOrderTolerance = 0.10;   // a first-order prediction within 10% is accurate

enum class RowKind { kIdentity, kExact, kUpperBound, kPrediction };

struct Row {
  // What and where.
  std::string quantity;       // e.g. "E[log Zhat] - log Z"
  std::string tree;           // e.g. "strategies"
  double beta = kNaN;
  std::string proposal;       // the proposal SPEC, e.g. "tilted:lambda=0.5"
  std::int64_t n = 0;         // samples per estimate (0: not sampled)
  std::int64_t replicates = 0;
  std::uint64_t seed = 0;     // replicate r used sampler.sample(seed, N, r N)
  double chi2 = kNaN;         // chi2(p* || q), exact
  // The numbers.
  RowKind kind = RowKind::kPrediction;
  double exact = kNaN;        // exact value (or bound), NaN when unknown
  double predicted = kNaN;    // first-order prediction, NaN when none
  double measured = kNaN;
  double se = kNaN;           // Monte Carlo standard error of `measured` (0 for identities)
  double tolerance = 0.0;     // kIdentity: allowed |measured - exact|
  double variance_dof = 0.0;  // measured a sample variance: nu (see above; kExact or kPrediction); 0: plain z
  double law_z = kNaN;        // kExact: the saddlepoint z of a mean under its exact law (see above); NaN: plain z
  std::string approximation;  // name used in a finding, e.g. "DELTA-METHOD"
  std::string note;           // anything a reader needs to quote the row
  // Filled by judge().
  double z = kNaN;            // against exact when known, else against predicted
  double ratio = kNaN;        // (exact or measured) / predicted
  bool sanity = false;        // holds by construction: judged, not counted (see above)
  bool counted = false;       // an exact statement: counts toward PASS/FAIL
  bool pass = true;
  bool finding = false;       // a first-order prediction off by more than 10%
  bool first_order_accurate = true;
  std::string verdict;
};

// Applies the rules above to one row (sets z, ratio, counted, pass, finding, verdict).
void judge(Row& row);

// z of a sample variance s2 against its exact value with nu effective degrees of freedom
// (Wilson-Hilferty), and the nu whose chi-square has the sample variance's exact se.
double wilson_hilferty_z(double s2, double exact, double nu);
double satterthwaite_dof(double exact, double se);

struct CheckResult {
  std::string name;                   // e.g. "check_03_log_bias"
  std::string statement;              // the THEORY.md statement, one line
  std::string config;                 // the config line
  std::vector<Row> rows;              // judged
  std::vector<std::string> summary;   // extra lines (where an approximation becomes accurate, ...)
  std::string finding_meaning = "first-order prediction off by > 10%";  // what a finding is, for overall_line()
  double seconds = 0.0;

  int exact_rows() const;
  int passed() const;
  int findings() const;
  int sanity_rows() const;
  int sanity_failed() const;
  bool ok() const { return passed() == exact_rows() && sanity_failed() == 0; }
  std::string overall_line() const;   // "overall: 41/41 PASS, 3 findings (...)"
};

// Prints the config line, the table, the summary lines and the overall line to stdout.
void print_result(const CheckResult& result);

// Writes DIR/<name>.csv (every row, every column) and DIR/<name>.json (summary).
void write_result(const CheckResult& result, const std::string& dir);

// Text helpers shared by the checks.
std::string num(double x);                 // shortest round-trip; "inf", "nan" spelled out
std::string short_num(double x, int digits = 4);

}  // namespace disa::theory
