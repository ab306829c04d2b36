// The CPU emulation of kernel 2: pass 1 and pass 3 as plain loops over the same
// per-token functions (loss_heads_math.h) the device runs, pass 2 and finish by the same
// LossPlan. Only the device's thread indexing and reduction order are not emulated.
#include <span>
#include <vector>

#include "kernels/loss_heads.h"

namespace disa::kernels {

template <class Real>
disa::loss::LossResult<Real> compute_loss_emulated(const disa::loss::Objective& objective,
                                                   const disa::loss::LossBatch<Real>& batch) {
  using namespace disa::loss;
  const std::size_t B = batch.rows, T = batch.columns;
  LossPlan<Real> plan(objective, B, T, batch.advantages.size());
  const unsigned f = plan.fields();
  // The GPU driver's rule: a field is read when the objective needs it; a missing one or a
  // ragged array is the CPU head's error to report.
  auto field = [&](unsigned bit, std::span<const Real> x, std::size_t size) -> const Real* {
    if (!(f & bit)) return nullptr;
    if (x.size() != size) throw LossFallback("a needed field is missing or has the wrong size");
    return x.data();
  };
  TokenFields<Real> tf;
  tf.logp = field(kLogp, batch.logp, B * T);
  tf.mask = field(kMask, batch.mask, B * T);
  tf.logp_old = field(kLogpOld, batch.logp_old, B * T);
  tf.logp_ref = field(kLogpRef, batch.logp_ref, B * T);
  if ((f & kAdvantages) && plan.advantages() == AdvantageSource::per_token) tf.advantages = batch.advantages.data();

  std::vector<RowSums> sums(B);
  for (std::size_t i = 0; i < B; ++i) {
    for (std::size_t t = 0; t < T; ++t) accumulate_row(sums[i], tf, static_cast<std::int64_t>(i * T + t));
  }
  HostRowInputs<Real> in;
  in.reward.assign(batch.reward.begin(), batch.reward.end());
  in.log_z.assign(batch.log_z.begin(), batch.log_z.end());
  in.group.assign(batch.group.begin(), batch.group.end());
  if (plan.advantages() == AdvantageSource::given_per_sequence)
    in.advantages.assign(batch.advantages.begin(), batch.advantages.end());
  plan.plan_rows(sums, in);

  std::vector<Real> grad(B * T);
  std::vector<TokenSums> token_sums(plan.needs_token_sums() ? B : 0);
  for (std::size_t i = 0; i < B; ++i) {
    TokenSums s;
    for (std::size_t t = 0; t < T; ++t) {
      const auto k = static_cast<std::int64_t>(i * T + t);
      grad[k] = token_step(plan.params(), plan.rows()[i], tf, k, s);
    }
    if (plan.needs_token_sums()) token_sums[i] = s;
  }
  LossResult<Real> result = plan.finish(token_sums);
  result.grad_logp = std::move(grad);
  return result;
}

template disa::loss::LossResult<float> compute_loss_emulated<float>(const disa::loss::Objective&,
                                                                    const disa::loss::LossBatch<float>&);
template disa::loss::LossResult<double> compute_loss_emulated<double>(const disa::loss::Objective&,
                                                                      const disa::loss::LossBatch<double>&);

}  // namespace disa::kernels
