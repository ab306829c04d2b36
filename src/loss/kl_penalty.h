// Per-token KL-penalty estimators to the reference, as verl's kl_penalty defines them
// (LOSSES.md section 6; verl@b178a3cd core_algos.py::kl_penalty). With u = logp - logp_ref:
//
//   k1 (alias kl)          u                                   d/dlogp = 1
//   abs                    |u|                                 sign(u), 0 at u = 0
//   k2 (alias mse)         u^2 / 2                             u
//   k3 (alias low_var_kl)  x = clamp(-u, -20, 20),             (1 - e^x) inside both clamps,
//                          clamp(e^x - x - 1, -10, 10)         0 where a clamp is active
//
// E_pi[k1] = E_pi[k3] = KL(pi || pi_ref) per token under sampling from pi; k3 is the
// low-variance non-negative one (Schulman's "approximating KL divergence").
#pragma once

#include <math.h>

#include <string>
#include <string_view>

#include "src/host_device.h"

namespace disa::loss {

enum class KlEstimator { k1, abs, k2, k3 };

// Accepts the names and verl's aliases above; anything else is an InputError naming `field`.
KlEstimator parse_kl_estimator(std::string_view text, std::string_view field = "kl_estimator");

class Settings;
// The KL options grpo and kl share, read with verl's aliases: kl_coef (kl_loss_coef),
// >= 0 since it weighs a penalty; kl_estimator (kl_loss_type, kl_penalty), default k3.
// Errors name the key as the user gave it.
double read_kl_coef(Settings& settings, double fallback);
KlEstimator read_kl_estimator(Settings& settings);
std::string to_string(KlEstimator estimator);

struct TokenTerm {
  double value = 0;
  double dvalue_dlogp = 0;
};

// DISA_HD: the GPU loss heads (kernels/loss_heads_math.h) call this same definition.
DISA_HD inline TokenTerm kl_penalty(KlEstimator estimator, double logp, double logp_ref) {
  const double u = logp - logp_ref;
  switch (estimator) {
    case KlEstimator::k1:
      return {u, 1.0};
    case KlEstimator::abs:
      return {fabs(u), u > 0 ? 1.0 : (u < 0 ? -1.0 : 0.0)};
    case KlEstimator::k2:
      return {0.5 * u * u, u};
    case KlEstimator::k3: {
      // torch.clamp passes the gradient on the boundary itself (x == bound).
      const double raw = -u;
      const double x = hd_clamp(raw, -20.0, 20.0);
      const bool x_inside = raw >= -20.0 && raw <= 20.0;
      const double e = exp(x);
      const double k = e - x - 1.0;
      const double value = hd_clamp(k, -10.0, 10.0);
      const bool k_inside = k >= -10.0 && k <= 10.0;
      return {value, (x_inside && k_inside) ? 1.0 - e : 0.0};
    }
  }
  return {};
}

}  // namespace disa::loss
