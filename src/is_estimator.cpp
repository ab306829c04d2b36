#include "src/is_estimator.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <boost/math/distributions/normal.hpp>
#include <fmt/format.h>

#include "src/counter_rng.h"
#include "src/input_error.h"
#include "src/log_sum_exp.h"

namespace disa {
namespace {

// Rejects N = 0, NaN and +inf, naming the index; returns max log w (may be -inf).
double check_log_weights(std::span<const double> log_w, const char* what) {
  if (log_w.empty()) throw InputError(fmt::format("{}: no samples (N = 0)", what));
  double m = kNegInf;
  for (std::size_t i = 0; i < log_w.size(); ++i) {
    const double x = log_w[i];
    if (std::isnan(x)) throw InputError(fmt::format("{}[{}]: NaN log-weight", what, i));
    if (x == kPosInf) throw InputError(fmt::format("{}[{}]: +inf log-weight", what, i));
    m = std::max(m, x);
  }
  return m;
}

// Rejects options that have no meaning (before any work, naming the option).
void check_options(const IsOptions& options) {
  if (!(options.ci_level > 0.0 && options.ci_level < 1.0)) {
    throw InputError(fmt::format("ci_level: must be in (0, 1), got {}", options.ci_level));
  }
  if (options.bootstrap && options.bootstrap_replicates < 1) {
    throw InputError(fmt::format("bootstrap_replicates: must be >= 1, got {}", options.bootstrap_replicates));
  }
}

// log Zhat from log-weights already known to be clean, with max m finite.
double log_mean_exp(std::span<const double> log_w, double m) {
  double sum = 0.0;
  for (double x : log_w) sum += std::exp(x - m);
  return m + std::log(sum) - std::log(static_cast<double>(log_w.size()));
}

// Generalized Pareto quantile function at probability p.
double gpd_quantile(double p, double k, double sigma) {
  if (std::fabs(k) < 1e-12) return -sigma * std::log1p(-p);
  return sigma * std::expm1(-k * std::log1p(-p)) / k;
}

}  // namespace

double k_hat_threshold(std::int64_t n) {
  return std::min(1.0 - 1.0 / std::log10(static_cast<double>(n)), kKHatThresholdCap);
}

bool flag_makes_unreliable(std::string_view f) {
  // "k_hat_above_0.7" is the flag files written before the sample-size-dependent cut carry.
  return f == "all_weights_zero" || f == kKHatAboveThreshold || f == "k_hat_above_0.7" || f == "single_sample" ||
         f == kProposalMissesTargetMass || f == kNoRewardObserved;
}

bool IsEstimate::reliable() const {
  return std::none_of(flags.begin(), flags.end(), [](const std::string& f) { return flag_makes_unreliable(f); });
}

GpdFit fit_generalized_pareto(std::span<const double> x) {
  // Zhang & Stephens (2009), as in the PSIS reference implementations: a grid of
  // m candidate values of theta = -k/sigma, weighted by their profile likelihood.
  const std::size_t n = x.size();
  if (n == 0) throw InputError("fit_generalized_pareto: no exceedances");
  constexpr double kPriorB = 3.0, kPriorK = 10.0;
  const std::size_t m = 30 + static_cast<std::size_t>(std::sqrt(static_cast<double>(n)));
  // The lower quartile, x[floor(n/4 + 0.5)] in 1-based terms (at least the first).
  const double x_quarter = x[std::max<std::size_t>(static_cast<std::size_t>(n / 4.0 + 0.5), 1) - 1];
  std::vector<double> b(m), k(m), log_lik(m);
  for (std::size_t j = 0; j < m; ++j) {
    b[j] = 1.0 / x[n - 1] + (1.0 - std::sqrt(m / (j + 0.5))) / (kPriorB * x_quarter);
    double sum = 0.0;
    for (double xi : x) sum += std::log1p(-b[j] * xi);
    k[j] = sum / n;  // the GPD shape at this theta (positive: heavy tail)
    log_lik[j] = n * (std::log(-b[j] / k[j]) - k[j] - 1.0);
  }
  // Normalised weights w_j = 1 / sum_i exp(L_i - L_j); drop the negligible ones.
  std::vector<double> w(m);
  double total = 0.0;
  for (std::size_t j = 0; j < m; ++j) {
    double s = 0.0;
    for (std::size_t i = 0; i < m; ++i) s += std::exp(log_lik[i] - log_lik[j]);
    w[j] = 1.0 / s;
    if (!(w[j] >= 10 * std::numeric_limits<double>::epsilon())) w[j] = 0.0;
    total += w[j];
  }
  double b_post = 0.0;
  for (std::size_t j = 0; j < m; ++j) b_post += b[j] * w[j] / total;
  double k_post = 0.0;
  for (double xi : x) k_post += std::log1p(-b_post * xi);
  k_post /= n;
  const double sigma = -k_post / b_post;
  // Weakly informative prior: 10 pseudo-observations at k = 0.5.
  k_post = (n * k_post + kPriorK * 0.5) / (n + kPriorK);
  return {k_post, sigma};
}

double pareto_smooth(std::vector<double>& log_w) {
  const std::size_t n = log_w.size();
  const double m = *std::max_element(log_w.begin(), log_w.end());
  if (!(m > kNegInf)) return std::numeric_limits<double>::quiet_NaN();
  // Tail: the M = ceil(min(0.2 N, 3 sqrt N)) largest weights above the cut-off.
  const std::size_t tail = static_cast<std::size_t>(std::ceil(std::min(0.2 * n, 3.0 * std::sqrt(double(n)))));
  if (tail + 1 > n) return std::numeric_limits<double>::quiet_NaN();
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  // Only the tail + 1 largest are needed, in stable_sort's order (ties by index).
  const auto before = [&](std::size_t a, std::size_t b) { return log_w[a] < log_w[b] || (log_w[a] == log_w[b] && a < b); };
  const auto first = order.begin() + static_cast<std::ptrdiff_t>(n - tail - 1);
  std::nth_element(order.begin(), first, order.end(), before);
  std::sort(first, order.end(), before);
  const double log_cutoff = std::max(log_w[order[n - tail - 1]] - m, std::log(std::numeric_limits<double>::min()));
  const double cutoff = std::exp(log_cutoff);
  std::vector<std::size_t> tail_idx;
  for (std::size_t r = n - tail; r < n; ++r) {
    if (log_w[order[r]] - m > log_cutoff) tail_idx.push_back(order[r]);
  }
  if (tail_idx.size() < 5) return std::numeric_limits<double>::quiet_NaN();
  std::vector<double> exceed(tail_idx.size());
  for (std::size_t i = 0; i < tail_idx.size(); ++i) exceed[i] = std::exp(log_w[tail_idx[i]] - m) - cutoff;
  // Tabular proposals give weights with few distinct values; the GPD fit to a
  // tail of ties is meaningless (it returned k_hat = 18.8 on a tree whose ESS/N
  // was 0.86), so a tail with fewer than 5 distinct values gives no k_hat.
  std::vector<double> distinct = exceed;
  std::sort(distinct.begin(), distinct.end());
  if (std::unique(distinct.begin(), distinct.end()) - distinct.begin() < 5) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  const GpdFit fit = fit_generalized_pareto(exceed);
  if (!std::isfinite(fit.k) || !(fit.sigma > 0)) return fit.k;
  // Replace the tail by the fitted GPD's expected order statistics, truncated at
  // the largest raw weight (exp(0) after rescaling).
  const std::size_t t = tail_idx.size();
  for (std::size_t i = 0; i < t; ++i) {
    const double q = gpd_quantile((i + 0.5) / t, fit.k, fit.sigma);
    log_w[tail_idx[i]] = std::min(std::log(q + cutoff), 0.0) + m;
  }
  return fit.k;
}

IsEstimate estimate_log_partition(std::span<const double> log_w, const IsOptions& options) {
  check_options(options);
  const double m = check_log_weights(log_w, "log_w");
  IsEstimate e;
  e.n = static_cast<std::int64_t>(log_w.size());
  const double n = static_cast<double>(e.n);
  e.ci_method = options.bootstrap ? "bootstrap" : "delta";
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (m == kNegInf) {
    // The proposal never reached the target's support: Zhat = 0. Flagged, never averaged.
    e.log_z_hat = e.ci_low = e.ci_high = e.log_z_psis = kNegInf;
    e.ess = e.ess_fraction = e.max_weight = e.chi2_hat = e.k_hat = nan;
    e.flags.push_back("all_weights_zero");
    return e;
  }
  // Weights rescaled by the largest: w_i = exp(log w_i - m) in (0, 1].
  double sum = 0.0, sum_sq = 0.0;
  for (double x : log_w) {
    const double w = std::exp(x - m);
    sum += w;
    sum_sq += w * w;
  }
  e.log_z_hat = m + std::log(sum) - std::log(n);
  e.ess = sum * sum / sum_sq;
  e.ess_fraction = e.ess / n;
  e.max_weight = 1.0 / sum;
  e.chi2_hat = n / e.ess - 1.0;

  const double z = boost::math::quantile(boost::math::normal(), 0.5 + options.ci_level / 2.0);
  if (e.n == 1) {
    e.flags.push_back("single_sample");
    e.ci_low = kNegInf;
    e.ci_high = kPosInf;
  } else if (!options.bootstrap) {
    // Delta method: Var(log Zhat) ≈ Var(w) / (N mean(w)^2). With the unbiased
    // sample variance this is exactly chi2_hat / (N - 1), so no second pass.
    const double se = std::sqrt(std::max(e.chi2_hat, 0.0) / (n - 1.0));
    e.ci_low = e.log_z_hat - z * se;
    e.ci_high = e.log_z_hat + z * se;
  } else {
    std::vector<double> boot(static_cast<std::size_t>(options.bootstrap_replicates));
    // Keyed apart from the seed itself and from the sampler's key (`disa anchor` samples
    // with the same seed, through trajectory_rng): resampling indices drawn from the
    // sampler's own uniforms would depend on the data they resample.
    constexpr std::uint64_t kBootstrapTag = 0xB0075D2A9ull;
    const std::uint64_t key = splitmix64(options.bootstrap_seed ^ kBootstrapTag);
    for (int b = 0; b < options.bootstrap_replicates; ++b) {
      const CounterRng rng(key, (options.bootstrap_segment << 32) + static_cast<std::uint64_t>(b));
      double s = 0.0;
      for (std::int64_t i = 0; i < e.n; ++i) {
        const auto j = std::min(static_cast<std::int64_t>(rng.uniform(i) * n), e.n - 1);
        s += std::exp(log_w[j] - m);
      }
      boot[b] = s > 0 ? m + std::log(s / n) : kNegInf;
    }
    std::sort(boot.begin(), boot.end());
    const double alpha = (1.0 - options.ci_level) / 2.0;
    const auto at = [&](double p) {
      const auto i = static_cast<std::size_t>(std::clamp(p * (boot.size() - 1) + 0.5, 0.0, boot.size() - 1.0));
      return boot[i];
    };
    e.ci_low = at(alpha);
    e.ci_high = at(1.0 - alpha);
  }

  e.k_hat = nan;
  e.log_z_psis = nan;
  if (options.psis) {
    std::vector<double> smoothed(log_w.begin(), log_w.end());
    e.k_hat = pareto_smooth(smoothed);
    if (std::isnan(e.k_hat)) {
      e.flags.push_back("k_hat_unavailable");
    } else {
      e.log_z_psis = log_mean_exp(smoothed, m);
      if (e.k_hat > k_hat_threshold(e.n)) e.flags.push_back(kKHatAboveThreshold);
    }
  }
  if (e.ess < 10.0 && e.n >= 10) e.flags.push_back("ess_below_10");
  if (e.n > 1 && std::all_of(log_w.begin(), log_w.end(), [&](double x) { return x == log_w[0]; })) {
    e.flags.push_back("weights_constant");
  }
  return e;
}

std::vector<IsEstimate> estimate_log_partition_segmented(std::span<const double> log_w,
                                                         std::span<const std::int64_t> offset,
                                                         const IsOptions& options,
                                                         std::span<const std::string> names) {
  if (offset.empty() || offset.front() != 0 || offset.back() != static_cast<std::int64_t>(log_w.size())) {
    throw InputError(fmt::format("offset: must start at 0 and end at the number of log-weights ({})", log_w.size()));
  }
  check_options(options);
  const std::int64_t segments = static_cast<std::int64_t>(offset.size()) - 1;
  if (!names.empty() && static_cast<std::int64_t>(names.size()) != segments) {
    throw InputError(fmt::format("names: {} for {} segments", names.size(), segments));
  }
  for (std::int64_t s = 0; s < segments; ++s) {
    if (offset[s + 1] <= offset[s]) {
      throw InputError(fmt::format("offset: segment {} is empty or decreasing ([{}, {}))", s, offset[s], offset[s + 1]));
    }
  }
  std::vector<IsEstimate> out(static_cast<std::size_t>(segments));
  // The first failing segment is reported whatever the thread count or schedule, so the
  // same input always gives the same message.
  std::int64_t first_bad = segments;
  std::string error;
#pragma omp parallel for schedule(dynamic, 16) if (segments > 1)
  for (std::int64_t s = 0; s < segments; ++s) {
    try {
      IsOptions segment_options = options;
      segment_options.bootstrap_segment = static_cast<std::uint64_t>(s);
      out[s] = estimate_log_partition(log_w.subspan(offset[s], offset[s + 1] - offset[s]), segment_options);
    } catch (const InputError& e) {
#pragma omp critical
      if (s < first_bad) {
        first_bad = s;
        error = names.empty() ? fmt::format("segment {}: {}", s, e.what())
                              : fmt::format("prompt '{}': {}", names[s], e.what());
      }
    }
  }
  if (first_bad < segments) throw InputError(error);
  return out;
}

double self_normalised_expectation(std::span<const double> log_w, std::span<const double> f) {
  if (f.size() != log_w.size()) {
    throw InputError(fmt::format("f: {} values for {} log-weights", f.size(), log_w.size()));
  }
  const double m = check_log_weights(log_w, "log_w");
  if (m == kNegInf) return std::numeric_limits<double>::quiet_NaN();
  double num = 0.0, den = 0.0;
  for (std::size_t i = 0; i < log_w.size(); ++i) {
    const double w = std::exp(log_w[i] - m);
    num += w * f[i];
    den += w;
  }
  return num / den;
}

}  // namespace disa
