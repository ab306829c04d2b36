// What a loss head returns: the value, the analytic gradient with respect to every
// logp entry (and log_z where the objective has one), and named diagnostics.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace disa::loss {

struct Diagnostics {
  // Batch-level numbers, e.g. pg_clipfrac, pg_clipfrac_lower, ppo_kl, kl, residual_rms.
  std::map<std::string, double> scalars;
  // One value per sequence (B entries), e.g. advantages, residual, weight, ratio.
  std::map<std::string, std::vector<double>> per_sequence;
};

template <class Real>
struct LossResult {
  double loss = 0;               // accumulated in double whatever Real is
  std::vector<Real> grad_logp;   // B*T, exactly 0 at padding
  std::vector<Real> grad_log_z;  // B for objectives with a log_z input, else empty
  Diagnostics diagnostics;
};

}  // namespace disa::loss
