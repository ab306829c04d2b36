// Gradients that overflow the precision though the loss is finite: an error, not an inf.
//
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

// The per-token heads (grpo, gspo, kl) compute each gradient entry in double and round it
// to Real; their loss, checked in double, can be finite while an entry does not fit:
// kl's k2 with kl_coef 10 at logp = -3e38 has loss 4.5e77 and gradient -3e39 (-inf in
// float); grpo or gspo with an advantage near 1e38 likewise. Each row records in its token
// loop whether every entry it stored is finite (a flag, so the loop keeps no branch; a throw
// cannot leave an OpenMP loop); this names the first entry of the first row that is not.
// sft needs none: its entries are -c_i with |c_i| <= 1 (aggregation.h).
template <class Real>
void require_finite_token_gradients(const char* head, const std::vector<Real>& grad_logp, std::size_t columns,
                                    const std::vector<unsigned char>& row_finite) {
  for (std::size_t i = 0; i < row_finite.size(); ++i) {
    if (row_finite[i]) continue;
    for (std::size_t t = 0; t < columns; ++t) {
      const double g = static_cast<double>(grad_logp[i * columns + t]);
      if (std::isfinite(g)) continue;
      throw NumericalError(fmt::format("{}: the gradient at row {}, token {} is {} in {} though the loss is finite; an "
                                       "input (logp, an advantage, kl_coef) is too large for this precision",
                                       head, i, t, g, sizeof(Real) == 4 ? "float" : "double"));
    }
  }
}

}  // namespace disa::loss
