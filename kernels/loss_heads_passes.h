// Kernel 2's driver, once for both devices: pass 1 on the device, pass 2 on the host
// (LossPlan), pass 3 on the device, finish on the host (loss_heads.h). The GPU
// (loss_heads_driver.cpp) and the CPU device (loss_heads_cpu_device.cpp) supply a
// `Device` with
//   scratch<T>(n)          a buffer of n T in device memory, .get() its pointer, freed with it
//   to_host(p, n)          std::vector<T> of n device values
//   to_device(dst, src, n) n values from the host
//   row_sums(tf, rows, columns, out)                          pass 1 (the kernel launch)
//   token_pass(tf, rows, columns, params, plans, grad, out)   pass 3
//   sync(what)             wait for the work queued so far ("what" names it in errors)
// grad_logp is read back only when pass 3 counted an entry that is not finite (the
// head's NumericalError names it).
#pragma once

#include <climits>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "kernels/loss_heads.h"

namespace disa::kernels {

// The loss and diagnostics, and grad_log_z (host) for tb/flowrl; grad_logp (B x T,
// device) is written by pass 3.
template <class Real, class Device>
disa::loss::LossResult<Real> run_loss_passes(const disa::loss::Objective& objective,
                                             const DeviceLossBatch<Real>& batch, Real* grad_logp, Device& device) {
  using namespace disa::loss;
  const std::size_t B = batch.rows, T = batch.columns;
  LossPlan<Real> plan(objective, B, T, batch.advantages_size);
  if (B > static_cast<std::size_t>(INT_MAX)) throw LossFallback("more than 2^31 - 1 rows");
  if (grad_logp == nullptr) throw std::invalid_argument("loss heads kernel: grad_logp is required");
  const unsigned f = plan.fields();
  auto field = [&](unsigned bit, const Real* p) -> const Real* {
    if (!(f & bit)) return nullptr;
    if (p == nullptr) throw LossFallback("a needed field is missing");
    return p;
  };
  TokenFields<Real> tf;
  tf.logp = field(kLogp, batch.logp);
  tf.mask = field(kMask, batch.mask);
  tf.logp_old = field(kLogpOld, batch.logp_old);
  tf.logp_ref = field(kLogpRef, batch.logp_ref);
  if ((f & kAdvantages) && plan.advantages() == AdvantageSource::per_token) tf.advantages = batch.advantages;
  const auto rows = static_cast<std::int64_t>(B);
  const auto columns = static_cast<std::int64_t>(T);

  // Pass 1, and the per-sequence inputs for pass 2.
  auto sums_on_device = device.template scratch<RowSums>(B);
  device.row_sums(tf, rows, columns, sums_on_device.get());
  const std::vector<RowSums> sums = device.to_host(sums_on_device.get(), B);
  HostRowInputs<Real> in;
  if (batch.reward) in.reward = device.to_host(batch.reward, B);
  if (batch.log_z) in.log_z = device.to_host(batch.log_z, B);
  if (batch.group) in.group = device.to_host(batch.group, B);
  if (batch.advantages && plan.advantages() == AdvantageSource::given_per_sequence)
    in.advantages = device.to_host(batch.advantages, batch.advantages_size);
  device.sync("row sums");

  // Pass 2 (host), pass 3.
  plan.plan_rows(sums, in);
  auto plans_on_device = device.template scratch<RowPlan>(B);
  device.to_device(plans_on_device.get(), plan.rows().data(), B);
  auto token_sums_on_device = device.template scratch<TokenSums>(B);
  TokenSums* token_out = plan.needs_token_sums() ? token_sums_on_device.get() : nullptr;
  device.token_pass(tf, rows, columns, plan.params(), plans_on_device.get(), grad_logp, token_out);
  const std::vector<TokenSums> token_sums =
      plan.needs_token_sums() ? device.to_host(token_sums_on_device.get(), B) : std::vector<TokenSums>{};
  device.sync("token pass");
  // Read back only to name an entry that overflows (the error path).
  return plan.finish(token_sums, [&device, grad_logp, n = B * T] {
    std::vector<Real> grad = device.to_host(static_cast<const Real*>(grad_logp), n);
    device.sync("copy grad_logp");
    return grad;
  });
}

}  // namespace disa::kernels
