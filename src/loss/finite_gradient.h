// The residual heads (tb, flowrl) check their weights and their loss, but a finite loss
// can still have a gradient that overflows: per row, loss w delta^2 / B fits where the
// gradient 2 w delta / B does not once |delta| < 2 (double: w near 1.7e308), and in float
// the gradient is rounded to Real after the double loss was checked (w near 1e38). Such a
// gradient is an error naming the row, not an inf handed to the optimiser.
#pragma once

#include <cmath>
#include <cstddef>
#include <vector>

#include <fmt/format.h>

#include "src/numerical_error.h"

namespace disa::loss {

// grad_log_z[i] = 2 w_i delta_i / B is each row's largest gradient entry in magnitude (the
// log-prob entries are it times 1/n_i or 1/(n_i + 1e-8) with n_i >= 1), so checking it
// checks the row.
template <class Real>
void require_finite_row_gradients(const char* head, const std::vector<Real>& grad_log_z,
                                  const std::vector<double>& weight, const std::vector<double>& residual) {
  for (std::size_t i = 0; i < grad_log_z.size(); ++i) {
    if (!std::isfinite(static_cast<double>(grad_log_z[i]))) {
      throw NumericalError(fmt::format("{}: the gradient of row {} overflows ({}: weight {}, residual {}); the "
                                       "importance weight is too large for this precision",
                                       head, i, sizeof(Real) == 4 ? "float" : "double", weight[i], residual[i]));
    }
  }
}

}  // namespace disa::loss
