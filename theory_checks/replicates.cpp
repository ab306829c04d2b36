#include "theory_checks/replicates.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>

#include <fmt/format.h>

#include "src/counter_rng.h"
#include "src/is_estimator.h"
#include "src/log_sum_exp.h"
#include "theory_checks/check_table.h"
#include "toy_envs/families/family.h"
#include "toy_envs/flows.h"
#include "toy_envs/leaf_distribution.h"
#include "toy_envs/proposals.h"

namespace disa::theory {
namespace {

NamedTree named(const std::string& name, const std::string& family, const std::map<std::string, std::string>& sets) {
  Tree tree = make_trees(family, sets, /*seed=*/1)[0];
  const double acc = accuracy(tree, reference_policy(tree));
  std::string params;
  for (const auto& [k, v] : sets) params += (params.empty() ? "" : ",") + k + "=" + v;
  return {name, fmt::format("{}({}) seed 1: {} leaves, acc {:.4f}", family, params, tree.shape.num_leaves(), acc),
          std::move(tree)};
}

// The distinct values of log u over q's support (Case::weight_atoms); empty when there are
// more than kMaxWeightAtoms or two of them are closer than kWeightAtomGap.
std::vector<Case::WeightAtom> find_weight_atoms(const std::vector<double>& leaf_log_u, const std::vector<double>& leaf_q) {
  std::vector<std::pair<double, double>> points;  // (log u, q)
  for (std::size_t y = 0; y < leaf_q.size(); ++y) {
    if (leaf_q[y] > 0.0) points.emplace_back(leaf_log_u[y], leaf_q[y]);
  }
  std::sort(points.begin(), points.end());
  std::vector<Case::WeightAtom> atoms;
  double first = 0.0, last = 0.0, weighted = 0.0, mass = 0.0;
  const auto close_atom = [&] { atoms.push_back({weighted / mass, mass}); };
  for (const auto& [log_u, q] : points) {
    if (mass > 0.0 && log_u - first > kWeightAtomWidth) {
      if (log_u - last < kWeightAtomGap) return {};
      close_atom();
      if (atoms.size() == kMaxWeightAtoms) return {};
      weighted = mass = 0.0;
    }
    if (mass == 0.0) first = log_u;
    last = log_u;
    weighted += q * log_u;
    mass += q;
  }
  if (mass > 0.0) close_atom();
  return atoms;
}

// C(n + k, k) as a double (the number of count vectors of k + 1 atoms summing to n).
double compositions(std::int64_t n, std::size_t k) {
  double count = 1.0;
  for (std::size_t i = 1; i <= k; ++i) count = count * static_cast<double>(n + static_cast<std::int64_t>(i)) / static_cast<double>(i);
  return count;
}

}  // namespace

NamedTree standard_tree(const std::string& name) {
  if (name == "random") return named("random", "random", {{"vocab", "3"}, {"horizon", "4"}, {"correct_fraction", "0.3"}});
  if (name == "strategies") return named("strategies", "strategies", {{"accuracy", "0.1"}, {"horizon", "4"}});
  throw std::logic_error("standard_tree: unknown name " + name);
}

NamedTree horizon_tree(int horizon) {
  return named(fmt::format("random_T{}", horizon), "random",
               {{"vocab", "3"}, {"horizon", std::to_string(horizon)}, {"correct_fraction", "0.5"}});
}

Case make_case(const NamedTree& tree, double beta, const std::string& spec) {
  const PolicySpec parsed = parse_policy_spec(spec, "proposal");
  auto shared = std::make_shared<const Tree>(tree.tree);
  return make_case(tree.name, shared, beta, spec, make_policy(*shared, beta, parsed));
}

Case make_case(const std::string& tree_name, std::shared_ptr<const Tree> tree, double beta, const std::string& label,
               const TabularPolicy& q) {
  Case c;
  c.tree_name = tree_name;
  c.tree = tree;
  c.beta = beta;
  c.proposal = label;
  const TabularPolicy ref = reference_policy(*tree);
  const TabularPolicy target = target_policy(*tree, ref, beta);
  c.log_z = log_partition(*tree, ref, beta);
  c.chi2 = chi_square_divergence(target, q);
  c.leaf_log_ref = leaf_log_probs(ref);
  const std::vector<double> leaf_log_q = leaf_log_probs(q);
  const std::int64_t L = tree->shape.num_leaves();
  c.leaf_log_u.assign(L, kNaN);
  c.leaf_q.assign(L, 0.0);
  for (double& m : c.raw_moment) m = 0.0;
  double e_log_u = 0.0;
  for (std::int64_t y = 0; y < L; ++y) {
    const double log_target = c.leaf_log_ref[y] + beta * tree->reward[y] - c.log_z;  // log p*(y)
    if (leaf_log_q[y] == kNegInf) {
      c.hole_mass += std::exp(log_target);
      continue;
    }
    const double q_y = std::exp(leaf_log_q[y]);
    const double log_u = log_target - leaf_log_q[y];
    c.leaf_q[y] = q_y;
    c.leaf_log_u[y] = log_u;
    const double u = std::exp(log_u);
    double power = 1.0;
    for (int k = 0; k <= 4; ++k, power *= u) c.raw_moment[k] += q_y * power;
    e_log_u += q_y * log_u;
  }
  c.mean_u = c.raw_moment[1];
  c.kl_q_target = -e_log_u;
  c.chi2_enumerated = c.hole_mass > 0.0 ? kPosInf : c.raw_moment[2] - 1.0;
  c.weight_atoms = find_weight_atoms(c.leaf_log_u, c.leaf_q);
  c.sampler = std::make_shared<const AliasSampler>(q);
  return c;
}

double Case::central_moment(int k) const {
  double sum = 0.0;
  for (std::size_t y = 0; y < leaf_q.size(); ++y) {
    if (leaf_q[y] > 0.0) sum += leaf_q[y] * std::pow(std::exp(leaf_log_u[y]) - mean_u, k);
  }
  return sum;
}

namespace {

// The law's moments from its support points (probability, log Zhat/Z, ESS/N), visited
// twice by for_each_point: means first, then central moments (two passes: the fourth
// moment of a heavy-tailed log Zhat loses every digit to cancellation from raw moments).
template <class ForEachPoint>
ExactLaw law_from_points(ForEachPoint&& for_each_point) {
  const auto controlled = [](double log_ratio) { return log_ratio - std::expm1(log_ratio); };
  double mean = 0.0, mean_controlled = 0.0, ess = 0.0;
  for_each_point([&](double p, double log_ratio, double ess_fraction) {
    mean += p * log_ratio;
    mean_controlled += p * controlled(log_ratio);
    ess += p * ess_fraction;
  });
  double mu2 = 0.0, mu4 = 0.0, var_controlled = 0.0, var_ess = 0.0;
  DiscreteLaw controlled_law, ess_fraction_law;
  for_each_point([&](double p, double log_ratio, double ess_fraction) {
    if (p > 0.0) {
      controlled_law.value.push_back(controlled(log_ratio));
      controlled_law.probability.push_back(p);
      ess_fraction_law.value.push_back(ess_fraction);
      ess_fraction_law.probability.push_back(p);
    }
    const double d2 = (log_ratio - mean) * (log_ratio - mean);
    const double dc = controlled(log_ratio) - mean_controlled;
    mu2 += p * d2;
    mu4 += p * d2 * d2;
    var_controlled += p * dc * dc;
    var_ess += p * (ess_fraction - ess) * (ess_fraction - ess);
  });
  return ExactLaw{mean, mu2, ess, mu4, var_controlled, var_ess, std::move(controlled_law), std::move(ess_fraction_law)};
}

}  // namespace

std::optional<ExactLaw> exact_law(const Case& c, std::int64_t n) {
  const std::size_t atoms = c.weight_atoms.size();
  if (atoms == 1) {
    // A constant weight (q = p* on its support): one point, at any N, with no O(N) table.
    const double log_u = c.weight_atoms[0].log_u;
    return law_from_points([&](auto&& visit) { visit(1.0, log_u, 1.0); });
  }
  if (atoms > 1 && compositions(n, atoms - 1) <= kMaxLawPoints) {
    // Every count vector K (sum_j K_j = N) with its multinomial probability.
    const double log_n = std::log(static_cast<double>(n));
    std::vector<double> log_factorial(static_cast<std::size_t>(n) + 1);
    for (std::int64_t k = 0; k <= n; ++k) log_factorial[k] = std::lgamma(static_cast<double>(k) + 1.0);
    std::vector<double> log_mass(atoms);
    for (std::size_t j = 0; j < atoms; ++j) log_mass[j] = std::log(c.weight_atoms[j].q_mass);
    return law_from_points([&](auto&& visit) {
      std::vector<std::int64_t> count(atoms, 0);
      // Atoms 0..atoms-2 take counts in turn; the last takes what is left.
      const auto recurse = [&](const auto& self, std::size_t j, std::int64_t left) -> void {
        if (j + 1 < atoms) {
          for (std::int64_t k = 0; k <= left; ++k) {
            count[j] = k;
            self(self, j + 1, left - k);
          }
          return;
        }
        count[j] = left;
        double log_pmf = log_factorial[n], log_sum_u = kNegInf, log_sum_u2 = kNegInf;
        for (std::size_t i = 0; i < atoms; ++i) {
          if (count[i] == 0) continue;
          const double log_k = std::log(static_cast<double>(count[i])), log_u = c.weight_atoms[i].log_u;
          log_pmf += static_cast<double>(count[i]) * log_mass[i] - log_factorial[count[i]];
          log_sum_u = log_add_exp(log_sum_u, log_k + log_u);
          log_sum_u2 = log_add_exp(log_sum_u2, log_k + 2.0 * log_u);
        }
        visit(std::exp(log_pmf), log_sum_u - log_n, std::exp(2.0 * log_sum_u - log_sum_u2 - log_n));
      };
      recurse(recurse, 0, n);
    });
  }
  if (n == 1) {
    return law_from_points([&](auto&& visit) {
      for (std::size_t y = 0; y < c.leaf_q.size(); ++y) {
        if (c.leaf_q[y] > 0.0) visit(c.leaf_q[y], c.leaf_log_u[y], 1.0);
      }
    });
  }
  if (n == 2 && c.leaf_q.size() <= 4096) {
    // All ordered pairs (y, y'), each with probability q(y) q(y'); the loop visits y <= y' once.
    std::vector<std::size_t> support;
    for (std::size_t y = 0; y < c.leaf_q.size(); ++y) {
      if (c.leaf_q[y] > 0.0) support.push_back(y);
    }
    return law_from_points([&](auto&& visit) {
      for (std::size_t i = 0; i < support.size(); ++i) {
        const double q_i = c.leaf_q[support[i]], lu_i = c.leaf_log_u[support[i]];
        for (std::size_t j = i; j < support.size(); ++j) {
          const double lu_j = c.leaf_log_u[support[j]];
          // ESS / N = (u + u')^2 / (2 (u^2 + u'^2)), scaled by the larger weight.
          const double m = std::max(lu_i, lu_j);
          const double a = std::exp(lu_i - m), b = std::exp(lu_j - m);
          visit(q_i * c.leaf_q[support[j]] * (i == j ? 1.0 : 2.0), log_add_exp(lu_i, lu_j) - std::log(2.0),
                (a + b) * (a + b) / (2.0 * (a * a + b * b)));
        }
      }
    });
  }
  return std::nullopt;
}

Replicates run_replicates(const Case& c, std::int64_t n, std::int64_t replicates, std::uint64_t seed,
                          bool diagnostics, const std::function<void(double)>& progress) {
  Replicates out;
  out.log_ratio.resize(replicates);
  out.ess_fraction.resize(replicates);
  if (diagnostics) {
    out.k_hat.resize(replicates);
    out.covers.resize(replicates);
    out.reliable.resize(replicates);
  }
  // Consecutive replicates share one sampler call of at least ~4096 trajectories.
  const std::int64_t per_chunk = std::max<std::int64_t>(1, 4096 / n);
  const std::int64_t chunks = (replicates + per_chunk - 1) / per_chunk;
  const Tree& tree = *c.tree;
  IsOptions options;
  options.psis = diagnostics;
  std::exception_ptr error;
  std::atomic<std::int64_t> done{0};  // chunks finished, for `progress`
#pragma omp parallel for schedule(dynamic, 1)
  for (std::int64_t chunk = 0; chunk < chunks; ++chunk) {
    try {
      const std::int64_t r0 = chunk * per_chunk;
      const std::int64_t reps = std::min(per_chunk, replicates - r0);
      const SampleBatch batch = c.sampler->sample(seed, reps * n, r0 * n);  // = replicates r0..r0+reps-1
      std::vector<double> log_w(n);  // [N]
      for (std::int64_t r = 0; r < reps; ++r) {
        for (std::int64_t i = 0; i < n; ++i) {
          const std::int64_t k = r * n + i;
          const std::int64_t leaf = batch.leaf[k];
          // log w = log pi_ref(y) - log q(y) + beta r(y), log q(y) as the sampler reports it.
          log_w[i] = c.leaf_log_ref[leaf] - batch.log_prob[k] + c.beta * tree.reward[leaf];
        }
        const IsEstimate e = estimate_log_partition(log_w, options);
        const std::int64_t at = r0 + r;
        out.log_ratio[at] = e.log_z_hat - c.log_z;
        out.ess_fraction[at] = e.ess_fraction;
        if (diagnostics) {
          out.k_hat[at] = e.k_hat;
          out.covers[at] = e.ci_low <= c.log_z && c.log_z <= e.ci_high ? 1.0 : 0.0;
          out.reliable[at] = e.reliable() ? 1.0 : 0.0;
        }
      }
    } catch (...) {
#pragma omp critical(disa_replicates_error)
      if (!error) error = std::current_exception();
    }
    if (progress) {
      const std::int64_t finished = ++done;
      if (omp_get_thread_num() == 0) progress(static_cast<double>(finished) / static_cast<double>(chunks));
    }
  }
  if (error) std::rethrow_exception(error);
  // Thread 0 may have finished no chunk at all (dynamic schedule): the end is reported here.
  if (progress) progress(1.0);
  return out;
}

Estimate mean_of(std::span<const double> x) {
  const double m = static_cast<double>(x.size());
  double mean = 0.0;
  for (double v : x) mean += v;
  mean /= m;
  double ss = 0.0;
  for (double v : x) ss += (v - mean) * (v - mean);
  return {mean, x.size() > 1 ? std::sqrt(ss / (m - 1.0) / m) : kNaN};
}

Estimate variance_of(std::span<const double> x) {
  const double m = static_cast<double>(x.size());
  double mean = 0.0;
  for (double v : x) mean += v;
  mean /= m;
  double m2 = 0.0, m4 = 0.0;
  for (double v : x) {
    const double d2 = (v - mean) * (v - mean);
    m2 += d2;
    m4 += d2 * d2;
  }
  const double s2 = m2 / (m - 1.0);
  m4 /= m;
  const double var_s2 = (m4 - s2 * s2 * (m - 3.0) / (m - 1.0)) / m;
  return {s2, std::sqrt(std::max(var_s2, 0.0))};
}

Estimate variance_with_known_moments(std::span<const double> x, double mu2, double mu4) {
  const double m = static_cast<double>(x.size());
  const Estimate sample = variance_of(x);
  const double var_s2 = mu4 / m - mu2 * mu2 * (m - 3.0) / (m * (m - 1.0));
  return {sample.value, std::sqrt(std::max(var_s2, 0.0))};
}

std::uint64_t row_seed(std::uint64_t seed, std::uint64_t check, std::uint64_t row) {
  return splitmix64(seed ^ splitmix64((check << 32) + row));
}

}  // namespace disa::theory
