// Small helpers shared by the check_NN_*.cpp files (not part of the public API).
#pragma once

#include <cstdint>
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

}  // namespace disa::theory
