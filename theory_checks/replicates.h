// Replicated runs of the importance-sampled log Zhat_N on exact trees, and the
// exact laws they are compared with (THEORY.md items 1-5).
//
// A Case is (tree, beta, proposal q) with every exact quantity precomputed by
// enumeration over leaves (the trees here have at most ~10^5 leaves):
//   u(y) = w(y) / Z = p*(y) / q(y)        (the normalised weight)
//   chi2 = E_q[u^2] - 1                   (also by the backward recursion, item 2)
//   E[log Zhat_1] - log Z = E_q[log u] = -KL(q || p*)      (exact, N = 1)
//   E[log Zhat_2] - log Z = sum_{y,y'} q q' log((u + u')/2) (exact, N = 2, by pairs)
// and, when u takes few distinct values u_1..u_L with q-masses a_1..a_L (q = pi_ref or
// any tilted q_lambda ∝ pi_ref e^{lambda beta r} on binary rewards: L = 2, since
// u = Z_lambda e^{(1 - lambda) beta r} / Z depends on y through r only), the counts
// K ~ Multinomial(N, a) determine the estimate:
//   Zhat_N / Z = sum_j K_j u_j / N,   ESS_N / N = (sum_j K_j u_j)^2 / (N sum_j K_j u_j^2),
// which gives E[log Zhat_N], Var[log Zhat_N] and E[ESS]/N exactly for every N by
// enumerating the C(N + L - 1, L - 1) count vectors (N + 1 of them for L = 2).
//
// Sampling: replicate r of N samples is sampler.sample(seed, N, r N) (trajectories
// r N .. r N + N - 1 of the seed's counter-based stream). Replicates are drawn in
// chunks of consecutive replicates (the sampler's batches are split-invariant, so
// the trajectories are the same), chunks run in parallel (OpenMP), and every
// replicate's result is stored at its index: results do not depend on the thread
// count. Each replicate's log Zhat, ESS and k_hat come from src/is_estimator.h, so
// the checks test the library's estimator, not a copy.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "theory_checks/saddlepoint.h"
#include "toy_envs/divergences.h"
#include "toy_envs/sampler.h"
#include "toy_envs/tree.h"

namespace disa::theory {

// A tree with the name and recipe the checks print.
struct NamedTree {
  std::string name;         // "random", "strategies", "random_T5", ...
  std::string description;  // "random(vocab=3,horizon=4,correct_fraction=0.3) seed 1: 81 leaves, acc 0.3085"
  Tree tree;
};

// The two standard check trees (tree seed 1, independent of the sampling seed):
//   random:     family random, V = 3, T = 4, binary rewards, correct_fraction 0.3 (81 leaves)
//   strategies: family strategies, 4 strategies with masses .85/.1/.04/.01, accuracy 0.1
//               inside each, T = 4 (256 leaves): a hard prompt, chi2(p*||pi_ref) up to 9
NamedTree standard_tree(const std::string& name);
// Family "random", V = 3, correct_fraction 0.5, horizon T (the horizon sweep, item 7).
NamedTree horizon_tree(int horizon);

struct Case {
  std::string tree_name;
  std::shared_ptr<const Tree> tree;
  double beta = 0.0;
  std::string proposal;                 // SPEC or label
  double log_z = 0.0;                   // log Z(beta), by the flow
  ChiSquare chi2{};                     // chi2(p* || q) by the backward recursion
  double chi2_enumerated = 0.0;         // sum_y q u^2 - 1 by enumeration
  std::vector<double> leaf_log_ref;     // [num_leaves] log pi_ref(y)
  std::vector<double> leaf_log_u;       // [num_leaves] log u(y) = log p*(y) - log q(y); -inf where p* = 0
  std::vector<double> leaf_q;           // [num_leaves] q(y)
  double mean_u = 1.0;                  // E_q[u] = 1 - p*(hole)
  double raw_moment[5] = {};            // E_q[u^k], k = 0..4
  double kl_q_target = 0.0;             // KL(q || p*) (inf with a hole)
  double hole_mass = 0.0;               // p* mass where q = 0
  // The distinct values of u on q's support with their q-masses, when there are at most
  // kMaxWeightAtoms of them (else empty). Leaves whose log u agree to kWeightAtomWidth
  // (round-off of the flows) share an atom; atoms must lie kWeightAtomGap apart, so a
  // continuum of values is never mistaken for a few.
  struct WeightAtom {
    double log_u;   // q-weighted mean of log u over the atom's leaves
    double q_mass;  // sum of q over them
  };
  std::vector<WeightAtom> weight_atoms;
  std::shared_ptr<const AliasSampler> sampler;

  // Central moments of u under q: mu2 = chi2 when there is no hole.
  double central_moment(int k) const;
};

// q from a SPEC (src: toy_envs/proposals.h) or given directly (tempered targets, holes).
Case make_case(const NamedTree& tree, double beta, const std::string& spec);
Case make_case(const std::string& tree_name, std::shared_ptr<const Tree> tree, double beta, const std::string& label,
               const TabularPolicy& q);

inline constexpr std::size_t kMaxWeightAtoms = 4;
inline constexpr double kWeightAtomWidth = 1e-9;  // in log u: changes log Zhat by at most 1e-9
inline constexpr double kWeightAtomGap = 1e-6;
// The most count vectors exact_law enumerates (C(N + L - 1, L - 1)).
inline constexpr double kMaxLawPoints = 1 << 22;

// Exact E[log Zhat_N] - log Z, Var[log Zhat_N] and E[ESS_N]/N where known: any N when u
// takes few values (weight_atoms, up to kMaxLawPoints count vectors), else N = 1 by
// leaves and N = 2 by pairs (num_leaves <= 4096).
struct ExactLaw {
  double bias;          // E[log Zhat_N] - log Z
  double var_log;       // Var[log Zhat_N]
  double ess_fraction;  // E[ESS_N] / N
  // For exact standard errors (log_space_rows): the sample fourth moment misses the rare
  // small-K draws of a heavy-tailed log Zhat (kurtosis 28 at beta 8), and an se from it
  // was up to 3x too small.
  double mu4_log;         // E[(log Zhat_N - E log Zhat_N)^4]
  double var_controlled;  // Var[log(Zhat/Z) - (Zhat/Z - 1)], the bias row's control variate
  double var_ess_fraction;  // Var[ESS_N / N]
  // One replicate's law of the bias row's control variate log(Zhat/Z) - (Zhat/Z - 1) and
  // of ESS_N / N (points of probability 0 in double left out): the rows judge the mean of
  // M replicates by its saddlepoint tail (saddlepoint.h), not as a normal.
  DiscreteLaw controlled_law;
  DiscreteLaw ess_fraction_law;
};
std::optional<ExactLaw> exact_law(const Case& c, std::int64_t n);

struct Replicates {
  std::vector<double> log_ratio;     // [M] log Zhat_N - log Z
  std::vector<double> ess_fraction;  // [M] ESS / N
  // With diagnostics only (PSIS costs about as much as the sampling):
  std::vector<double> k_hat;         // [M] PSIS k_hat, NaN when unavailable (N < ~25)
  std::vector<double> covers;        // [M] 1 when the estimate's 95% delta-method CI holds log Z
  std::vector<double> reliable;      // [M] 1 when IsEstimate::reliable()
};
// `progress`, when given, is called with the fraction done (0..1] from the calling
// thread only (thread 0 of the parallel loop), and with 1 at the end, e.g. for a
// terminal progress line.
Replicates run_replicates(const Case& c, std::int64_t n, std::int64_t replicates, std::uint64_t seed,
                          bool diagnostics = false, const std::function<void(double)>& progress = {});

// Sample statistics with their Monte Carlo standard errors.
struct Estimate {
  double value;
  double se;
};
Estimate mean_of(std::span<const double> x);
// Unbiased sample variance; se from the sample fourth central moment,
// Var(s^2) ≈ (m4 - s^4 (M - 3)/(M - 1)) / M.
Estimate variance_of(std::span<const double> x);
// Unbiased sample variance with the exact se for a statistic whose central
// moments mu2, mu4 are known: Var(s^2) = mu4/M - mu2^2 (M - 3)/(M (M - 1)).
Estimate variance_with_known_moments(std::span<const double> x, double mu2, double mu4);

// A per-row seed derived from the user's seed (splitmix64), so rows are independent.
std::uint64_t row_seed(std::uint64_t seed, std::uint64_t check, std::uint64_t row);

}  // namespace disa::theory
