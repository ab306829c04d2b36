// The importance-sampled partition function: log Zhat_N and its diagnostics
// (THEORY.md items 1-4; the DISA anchor).
//
// Input: per-sample log-weights log w_i = log pi_ref(y_i) - log q(y_i) + beta r(y_i),
// y_i ~ q i.i.d., as a flat array (one prompt) or segmented (many prompts). Any
// source: tabular samples here, token log-probs in the LLM pipeline.
//
//   log Zhat_N   = logsumexp_i(log w_i) - log N          unbiased in Z (item 1),
//                                                         E[log Zhat] ≈ log Z - chi2/(2N) (item 3)
//   ESS          = (sum w)^2 / sum w^2,  ESS/N ≈ 1/(1 + chi2)            (item 4)
//   chi2_hat     = N sum w^2 / (sum w)^2 - 1 = N/ESS - 1 (sample chi-square)
//   max_weight   = max_i w_i / sum w
//   k_hat        Pareto-smoothed IS tail index (Vehtari, Simpson, Gelman, Yao, Gabry,
//                "Pareto smoothed importance sampling", JMLR 2024): a generalized
//                Pareto fit (Zhang & Stephens 2009, with the weak prior of the PSIS
//                paper) to the M = min(N/5, 3 sqrt N) largest weights. k_hat above
//                k_hat_threshold(N) = min(1 - 1/log10 N, 0.7) (the paper's section 3.2.4,
//                eq. 13, capped at 0.7 as the loo package does): the estimate is unreliable.
//                The cut depends on N because the error's pre-asymptotic decay is slower
//                the heavier the tail (N >= 10^(1/(1-k)) draws are needed). Measured over
//                1000 replicates (README "The importance-sampled partition function"):
//                at N = 256 it flags 0% of lognormal(0.5) weights and 87% / 97% of tails
//                with infinite variance / mean (k = 0.9 / 1.2), where 0.7 flagged 71% /
//                93%; at N = 32 (0.34; the tail is 7 weights and the prior pulls k_hat
//                toward 0.5) k_hat barely tells tails apart: 47% of lognormal(0.5) and 89%
//                of k = 1.2 are flagged (0.7: 5% and 48%). With so few draws the estimate
//                cannot be shown reliable; more proposals per prompt is the remedy.
//   log_z_psis   log Zhat with the tail weights replaced by the fitted GPD's
//                expected order statistics (truncated at the largest raw weight).
//   CI for log Z delta method: log Zhat ± z_{(1+level)/2} * se, se = sd(w) / (sqrt(N) mean(w));
//                or percentile bootstrap (counter-based RNG keyed by
//                splitmix64(bootstrap_seed ^ tag), so a sampler given the same seed never
//                supplies the resampling's numbers; replicate b of segment s = stream
//                (s << 32) + b, so prompts resample independently).
//
// Everything is computed on weights rescaled by their maximum, so log-weights
// anywhere in ±1e300 are handled exactly.
//
// Edge cases: N = 0, a NaN or a +inf log-weight are InputErrors naming the index;
// all weights zero (every log w = -inf: the proposal never hit the target's
// support) gives log_z_hat = -inf with the flag "all_weights_zero". Other flags:
// "k_hat_above_threshold", "k_hat_unavailable" (fewer than 5 tail samples, N < ~25, or
// fewer than 5 distinct tail weights, as tabular proposals with few leaves give),
// "ess_below_10", "single_sample", "weights_constant" (N > 1 equal weights: either
// q = p*, where log Zhat is exact, or the samples saw one value of the reward; either
// way the spread is 0 and the CI has width 0, which is not an error bar).
// A caller that knows the proposal misses target mass (an exact tree: `disa anchor
// --tree`) adds kProposalMissesTargetMass; one that sees no sample rewarded adds
// kNoRewardObserved. A flagged estimate is never silently used: the anchor file records
// the flags, and its consumers act on them (`disa anchor` counts the unreliable ones;
// the LLM pipeline's anchor policy drops them, llm/pipeline/anchor_stage.h).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace disa {

// The PSIS reliability cut for N samples, min(1 - 1/log10 N, 0.7) (Vehtari et al. 2024,
// eq. 13): k_hat above it flags the estimate "k_hat_above_threshold". Below N = 10 it is
// <= 0, but k_hat is unavailable there anyway (fewer than 5 tail samples).
inline constexpr double kKHatThresholdCap = 0.7;
double k_hat_threshold(std::int64_t n);
inline constexpr const char* kKHatAboveThreshold = "k_hat_above_threshold";
// Whether a flag makes an estimate unreliable (IsEstimate::reliable()): all_weights_zero,
// k_hat_above_threshold, single_sample, proposal_misses_target_mass, no_reward_observed.
bool flag_makes_unreliable(std::string_view flag);
// q(y) = 0 where p*(y) > 0 (THEORY.md item 6): E[Zhat] = Z (1 - p*(hole)), never detectable
// from the samples themselves. Makes the estimate unreliable.
inline constexpr const char* kProposalMissesTargetMass = "proposal_misses_target_mass";
// None of the N > 1 samples got a positive reward. The sample then says nothing of the
// reward's variation: log Zhat = log E_q[pi_ref/q] + beta r0, with a CI from the proposal
// ratio alone; with q = pi_ref, log Zhat = 0 and CI [0, 0], while the true
// log Z = log(1 + (e^beta - 1) acc) is ~1 at an accuracy of a few percent (the rule of
// three allows acc up to 3/N). A frozen anchor that low makes DISA raise the failures'
// probability (THEORY.md item 9). Makes the estimate unreliable. (All samples correct is
// not flagged: log Zhat = beta is then off by at most
// log(e^beta / (e^beta - (e^beta - 1) 3/N)), 0.09 at beta 3, N 32.)
inline constexpr const char* kNoRewardObserved = "no_reward_observed";

struct IsOptions {
  bool psis = true;              // compute k_hat and log_z_psis
  bool bootstrap = false;        // percentile bootstrap CI instead of the delta method
  int bootstrap_replicates = 1000;
  std::uint64_t bootstrap_seed = 0;
  std::uint64_t bootstrap_segment = 0;  // set per segment by estimate_log_partition_segmented
  double ci_level = 0.95;
};

struct IsEstimate {
  std::int64_t n = 0;
  double log_z_hat = 0.0;         // logsumexp(log w) - log N
  double ess = 0.0;               // (sum w)^2 / sum w^2
  double ess_fraction = 0.0;      // ESS / N
  double max_weight = 0.0;        // largest normalised weight
  double chi2_hat = 0.0;          // N / ESS - 1
  double k_hat = 0.0;             // PSIS tail index; NaN when unavailable
  double log_z_psis = 0.0;        // PSIS-smoothed log Zhat; NaN when unavailable
  double ci_low = 0.0, ci_high = 0.0;  // CI for log Z at IsOptions::ci_level
  std::string ci_method;          // "delta" or "bootstrap"
  std::vector<std::string> flags; // see the file comment; empty when all is well
  bool reliable() const;          // no flag that makes the estimate unusable
};

// One prompt's samples. Throws InputError on N = 0, NaN or +inf (naming the index).
IsEstimate estimate_log_partition(std::span<const double> log_w, const IsOptions& options = {});

// Many prompts: segment s is log_w[offset[s] .. offset[s+1]). Segments run in
// parallel (OpenMP); the results do not depend on the thread count, nor does the error:
// the first bad segment's, as "segment s: ..." or, with `names` (one per segment),
// "prompt 'NAME': ..." with the index inside the segment.
std::vector<IsEstimate> estimate_log_partition_segmented(std::span<const double> log_w,
                                                         std::span<const std::int64_t> offset,
                                                         const IsOptions& options = {},
                                                         std::span<const std::string> names = {});

// Self-normalised IS: E_{p*}[f] ≈ sum_i w_i f(y_i) / sum_i w_i (e.g. the target's
// accuracy with f = 1[correct]). Same input checks; NaN result when all weights are 0.
double self_normalised_expectation(std::span<const double> log_w, std::span<const double> f);

// PSIS on its own: smooths the tail of log_w in place (same order) and returns k_hat
// (NaN if the tail has fewer than 5 samples or 5 distinct values; log_w is then
// left unchanged).
double pareto_smooth(std::vector<double>& log_w);

// Generalized Pareto fit to exceedances x (ascending, > 0): returns {k, sigma}
// (Zhang & Stephens 2009 profile posterior mean, with the PSIS paper's weak prior
// pulling k toward 0.5 by 10 pseudo-observations).
struct GpdFit {
  double k;
  double sigma;
};
GpdFit fit_generalized_pareto(std::span<const double> exceedances_ascending);

}  // namespace disa
