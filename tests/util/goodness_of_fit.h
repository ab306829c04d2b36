// Pearson's chi-square goodness-of-fit test of observed counts against exact
// cell probabilities, with the p-value from Boost.Math's chi-squared distribution.
//
// Cells whose expected count is below 5 are pooled into one cell (Cochran's rule
// for the chi-square approximation); if that pooled cell still expects fewer than
// 5, it is merged with the smallest remaining cell. Degrees of freedom = cells - 1.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

#include <boost/math/distributions/chi_squared.hpp>

namespace disa::test {

struct GoodnessOfFit {
  double statistic = 0.0;
  int cells = 0;  // after pooling
  double p_value = 1.0;
};

inline GoodnessOfFit pearson_test(const std::vector<std::int64_t>& observed,
                                  const std::vector<double>& prob) {
  if (observed.size() != prob.size()) throw std::invalid_argument("pearson_test: size mismatch");
  double n = 0.0;
  for (std::int64_t c : observed) n += static_cast<double>(c);
  struct Cell {
    double observed, expected;
  };
  std::vector<Cell> cells;
  Cell pooled{0.0, 0.0};
  for (std::size_t i = 0; i < prob.size(); ++i) {
    const double e = n * prob[i];
    if (e < 5.0) {
      pooled.observed += static_cast<double>(observed[i]);
      pooled.expected += e;
    } else {
      cells.push_back({static_cast<double>(observed[i]), e});
    }
  }
  if (pooled.expected > 0.0 || pooled.observed > 0.0) {
    if (pooled.expected < 5.0 && !cells.empty()) {
      auto smallest = std::min_element(cells.begin(), cells.end(),
                                       [](const Cell& a, const Cell& b) { return a.expected < b.expected; });
      smallest->observed += pooled.observed;
      smallest->expected += pooled.expected;
    } else {
      cells.push_back(pooled);
    }
  }
  GoodnessOfFit out;
  out.cells = static_cast<int>(cells.size());
  if (out.cells < 2) throw std::invalid_argument("pearson_test: fewer than 2 cells after pooling");
  for (const Cell& c : cells) {
    // A cell with zero expected count but observations is an impossible event.
    if (c.expected == 0.0) {
      out.statistic = std::numeric_limits<double>::infinity();
      out.p_value = 0.0;
      return out;
    }
    out.statistic += (c.observed - c.expected) * (c.observed - c.expected) / c.expected;
  }
  const boost::math::chi_squared_distribution<double> dist(out.cells - 1);
  out.p_value = boost::math::cdf(boost::math::complement(dist, out.statistic));
  return out;
}

}  // namespace disa::test
