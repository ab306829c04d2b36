#include "theory_checks/saddlepoint.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <boost/math/distributions/normal.hpp>
#include <fmt/format.h>

namespace disa::theory {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

struct Cumulants {
  double k0;  // K(s)
  double k1;  // K'(s)
  double k2;  // K''(s)
};

// K and its first two derivatives at s for the centred support x, each term
// p_i e^{s x_i} taken relative to the largest (log p_i + s x_i): shifted by s x_i alone, a
// far point of probability 5e-324 set the scale at a lower-tail s and every point with
// mass underflowed (K' came out 0, the bracket widened to -inf, z was NaN; a review).
Cumulants cumulants(const std::vector<double>& x, const std::vector<double>& log_p, double s) {
  double top = -kInf;
  for (std::size_t i = 0; i < x.size(); ++i) top = std::max(top, log_p[i] + s * x[i]);
  double sum = 0.0, sum_x = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double w = std::exp(log_p[i] + s * x[i] - top);
    sum += w;
    sum_x += w * x[i];
  }
  const double k1 = sum_x / sum;
  double sum_d2 = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double d = x[i] - k1;
    sum_d2 += std::exp(log_p[i] + s * x[i] - top) * d * d;
  }
  return {top + std::log(sum), k1, sum_d2 / sum};
}

// The span delta when every support point is x0 + k delta (k integer), else 0.
double lattice_span(std::vector<double> x) {
  std::sort(x.begin(), x.end());
  x.erase(std::unique(x.begin(), x.end()), x.end());
  if (x.size() < 2) return 0.0;
  double span = kInf;
  for (std::size_t i = 1; i < x.size(); ++i) span = std::min(span, x[i] - x[i - 1]);
  const double width = x.back() - x.front();
  for (const double v : x) {
    const double k = (v - x.front()) / span;
    // The steps of a lattice built in floating point agree to rounding of the width.
    if (std::fabs(k - std::round(k)) * span > 1e-9 * width) return 0.0;
  }
  return span;
}

// The s with K'(s) = b, for low < b < high: K' increases from `low` to `high`, so Newton
// inside a bisection bracket grown from 1 / sd.
double saddlepoint(const std::vector<double>& x, const std::vector<double>& log_p, double b, double sd) {
  double s_low = 0.0, s_high = 0.0;
  if (b > 0) {
    s_high = 1.0 / sd;
    while (cumulants(x, log_p, s_high).k1 < b) s_high *= 2.0;
  } else {
    s_low = -1.0 / sd;
    while (cumulants(x, log_p, s_low).k1 > b) s_low *= 2.0;
  }
  double s = 0.5 * (s_low + s_high);
  for (int iteration = 0; iteration < 200; ++iteration) {
    const Cumulants k = cumulants(x, log_p, s);
    (k.k1 < b ? s_low : s_high) = s;
    double next = s - (k.k1 - b) / k.k2;
    if (!(next > s_low && next < s_high)) next = 0.5 * (s_low + s_high);
    const bool converged = std::fabs(next - s) <= 1e-14 * std::max(1.0, std::fabs(s));
    s = next;
    if (converged) break;
  }
  return s;
}

double normal_quantile_of_log(double log_p) {
  if (log_p < std::log(std::numeric_limits<double>::min())) return -kInf;
  return boost::math::quantile(boost::math::normal(), std::exp(log_p));
}

}  // namespace

double saddlepoint_z(const DiscreteLaw& law, double observed_mean, std::int64_t m) {
  if (law.value.size() != law.probability.size() || m < 1 || !std::isfinite(observed_mean)) {
    throw std::invalid_argument(fmt::format("saddlepoint_z: {} values, {} probabilities, m = {}, mean = {}",
                                            law.value.size(), law.probability.size(), m, observed_mean));
  }
  // Centre at the law's mean: the tails' K(s) then loses no digits to a large mean.
  std::vector<double> x, p;
  double mean = 0.0, total = 0.0;
  for (std::size_t i = 0; i < law.value.size(); ++i) {
    if (!(law.probability[i] > 0.0)) continue;
    x.push_back(law.value[i]);
    p.push_back(law.probability[i]);
    total += law.probability[i];
  }
  for (std::size_t i = 0; i < x.size(); ++i) {
    p[i] /= total;
    mean += p[i] * x[i];
  }
  double variance = 0.0, low = kInf, high = -kInf;
  for (std::size_t i = 0; i < x.size(); ++i) {
    x[i] -= mean;
    variance += p[i] * x[i] * x[i];
    low = std::min(low, x[i]);
    high = std::max(high, x[i]);
  }
  if (!(variance > 0.0)) return std::numeric_limits<double>::quiet_NaN();
  const double md = static_cast<double>(m), se = std::sqrt(variance / md);
  double b = observed_mean - mean;
  if (std::fabs(b / se) < 0.5) return b / se;

  // The edges: P(mean = edge) = p_edge^m (on the normal scale, on the edge's side of 0);
  // beyond them, impossible. Replicates carry their atom's value to 1e-9
  // (replicates.h: kWeightAtomWidth), so the edges are that wide.
  const double tolerance = 1e-9 * std::max({high - low, std::fabs(low), std::fabs(high)});
  const auto edge_mass = [&](double edge) {
    double mass = 0.0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (std::fabs(x[i] - edge) <= tolerance) mass += p[i];
    }
    return mass;
  };
  if (b < low - tolerance) return -kInf;
  if (b > high + tolerance) return kInf;
  if (b <= low + tolerance) return std::min(0.0, normal_quantile_of_log(md * std::log(edge_mass(low))));
  if (b >= high - tolerance) return std::max(0.0, -normal_quantile_of_log(md * std::log(edge_mass(high))));

  const double span = lattice_span(x);
  if (span > 0.0) {
    // Half a step toward the mean; near it r* is 0/0 (w ~ 0), so the normal z of the
    // corrected mean stands in there, as above.
    const double step = span / (2.0 * md);
    if (std::fabs(b) <= step) return 0.0;
    b -= std::copysign(step, b);
    if (std::fabs(b / se) < 0.5) return b / se;
  }
  std::vector<double> log_p(p.size());
  for (std::size_t i = 0; i < p.size(); ++i) log_p[i] = std::log(p[i]);

  const double s = saddlepoint(x, log_p, b, std::sqrt(variance));
  const Cumulants k = cumulants(x, log_p, s);
  const double w = std::copysign(std::sqrt(std::max(0.0, 2.0 * md * (s * b - k.k0))), s);
  // On a lattice of span delta, s becomes (2 / delta) sinh(s delta / 2) (Daniels' second
  // continuity correction; the first, the shift alone, was 2-3% off a Binomial(400, 0.1)
  // tail at 1e-4..1e-9).
  const double tilt = span > 0.0 ? 2.0 / span * std::sinh(0.5 * s * span) : s;
  const double v = tilt * std::sqrt(md * k.k2);
  const double z = w + std::log(v / w) / w;
  if (std::isnan(z)) {
    throw std::logic_error(
        fmt::format("saddlepoint_z: NaN for the mean {} of m = {} draws from a law of {} points "
                    "(mean {}, variance {}; saddlepoint s = {}, w = {}, v = {})",
                    observed_mean, m, x.size(), mean, variance, s, w, v));
  }
  return z;
}

}  // namespace disa::theory
