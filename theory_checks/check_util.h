// Small helpers shared by the check_NN_*.cpp files (not part of the public API).
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "theory_checks/check_table.h"
#include "theory_checks/replicates.h"

namespace disa::theory {

// A row pre-filled with where it comes from.
inline Row row_for(const Case& c, const std::string& quantity, std::int64_t n = 0, std::int64_t replicates = 0,
                   std::uint64_t seed = 0) {
  Row r;
  r.quantity = quantity;
  r.tree = c.tree_name;
  r.beta = c.beta;
  r.proposal = c.proposal;
  r.n = n;
  r.replicates = replicates;
  r.seed = seed;
  r.chi2 = c.chi2.value;
  return r;
}

template <typename T>
std::string braces(const std::vector<T>& values) {
  return fmt::format("{{{}}}", fmt::join(values, ","));
}

// For the rows of `rows` that match (tree, beta, proposal, quantity) and carry a
// first-order prediction, ordered by N: the smallest N0 from which every row is
// first-order accurate, as a line for the summary. Empty when there are none.
inline std::string accuracy_summary(const std::vector<Row>& rows, const std::string& what, const Case& c,
                                    const std::string& quantity) {
  std::vector<const Row*> sel;
  for (const Row& r : rows) {
    if (r.tree == c.tree_name && r.beta == c.beta && r.proposal == c.proposal && r.quantity == quantity &&
        !std::isnan(r.predicted)) {
      sel.push_back(&r);
    }
  }
  if (sel.empty()) return "";
  std::int64_t from = -1;
  for (auto it = sel.rbegin(); it != sel.rend() && (*it)->first_order_accurate; ++it) from = (*it)->n;
  std::vector<std::string> ratios;
  for (const Row* r : sel) ratios.push_back(fmt::format("N={}: {:.3f}", r->n, r->ratio));
  std::string head = fmt::format("{} [{}, beta={}, q={}, chi2={:.4g}]: ", what, c.tree_name, c.beta, c.proposal,
                                 c.chi2.value);
  if (from < 0) {
    head += fmt::format("off by > 10% at every N up to {}", sel.back()->n);
  } else if (from == sel.front()->n) {
    head += fmt::format("accurate (within 10% or within CI) at every N >= {}", from);
  } else {
    head += fmt::format("accurate from N >= {} (chi2/N = {:.3g}); worse below", from, c.chi2.value / from);
  }
  return head + fmt::format(". ratio measured-or-exact/predicted: {}", fmt::join(ratios, ", "));
}

// The two first-order rows of THEORY.md item 3 for one (case, N): the log-space
// bias against -chi2/(2N), measured with the control variate
// log(Zhat/Z) - (Zhat/Z - 1) (same mean by item 1, far smaller spread), and the
// log-space variance against chi2/N. With an exact law they become exact rows, whose
// standard errors come from the law's own moments.
struct LogSpaceRows {
  Row bias;
  Row variance;
};
inline LogSpaceRows log_space_rows(const Case& c, std::int64_t n, std::int64_t m, std::uint64_t seed,
                                   const Replicates& reps, const std::optional<ExactLaw>& law) {
  // [M] log(Zhat/Z) - (Zhat/Z - E[Zhat/Z]): E[Zhat/Z] = 1 - p*(hole) (item 6), so a
  // proposal with a hole keeps its bias (with Zhat/Z - 1 the row would measure the bias
  // plus the hole mass).
  std::vector<double> controlled(reps.log_ratio.size());
  for (std::size_t i = 0; i < controlled.size(); ++i) {
    controlled[i] = reps.log_ratio[i] - (std::expm1(reps.log_ratio[i]) + c.hole_mass);
  }
  // With the exact law its moments give the standard errors (replicates.h: ExactLaw).
  Estimate bias = mean_of(controlled);
  const Estimate var =
      law ? variance_with_known_moments(reps.log_ratio, law->var_log, law->mu4_log) : variance_of(reps.log_ratio);
  if (law) bias.se = std::sqrt(law->var_controlled / static_cast<double>(controlled.size()));
  const double nd = static_cast<double>(n);
  const RowKind kind = law ? RowKind::kExact : RowKind::kPrediction;
  LogSpaceRows out{row_for(c, "E[log Zhat] - log Z", n, m, seed), row_for(c, "Var[log Zhat]", n, m, seed)};
  out.bias.kind = kind;
  out.bias.exact = law ? law->bias : kNaN;
  out.bias.predicted = -c.chi2.value / (2.0 * nd);
  out.bias.measured = bias.value;
  out.bias.se = bias.se;
  out.bias.approximation = "DELTA-METHOD";
  out.bias.note = "control variate Zhat/Z - 1";
  if (law) {
    // The law is that of log(Zhat/Z) - (Zhat/Z - 1), whose mean is the bias plus the hole
    // mass: `controlled` is it minus the hole mass.
    out.bias.law_z =
        saddlepoint_z(law->controlled_law, bias.value + c.hole_mass, static_cast<std::int64_t>(controlled.size()));
    out.bias.note += "; z from the exact law's saddlepoint";
  }
  out.variance.kind = kind;
  out.variance.exact = law ? law->var_log : kNaN;
  out.variance.predicted = c.chi2.value / nd;
  out.variance.measured = var.value;
  out.variance.se = var.se;
  if (law) out.variance.variance_dof = satterthwaite_dof(law->var_log, var.se);
  out.variance.approximation = "DELTA-METHOD";
  return out;
}

}  // namespace disa::theory
