#include "src/train/logit_gradient.h"

#include <fmt/format.h>

#include <cmath>

#include "src/input_error.h"

namespace disa::train {
namespace {

void require_row_scale(std::span<const double> row_scale, std::size_t rows) {
  if (row_scale.empty()) return;
  if (row_scale.size() != rows) {
    throw InputError(fmt::format("row_scale: {} entries for {} rows", row_scale.size(), rows));
  }
  for (std::size_t i = 0; i < rows; ++i) {
    if (!std::isfinite(row_scale[i])) throw InputError(fmt::format("row_scale[{}]: {} is not finite", i, row_scale[i]));
  }
}

double scale_of(std::span<const double> row_scale, std::size_t i) { return row_scale.empty() ? 1.0 : row_scale[i]; }

}  // namespace

std::vector<double> logit_gradient(const TrajectoryBatch& batch, const TabularPolicy& current,
                                   std::span<const double> grad_logp, std::span<const double> row_scale) {
  const std::size_t B = batch.rows(), T = batch.columns();
  if (!(current.shape == batch.shape)) {
    throw InputError(fmt::format("current policy: shape {} differs from the batch's {}", current.shape.describe(),
                                 batch.shape.describe()));
  }
  if (grad_logp.size() != B * T) {
    throw InputError(fmt::format("grad_logp: {} entries for {} x {} tokens", grad_logp.size(), B, T));
  }
  require_row_scale(row_scale, B);

  // G[s, a]: the scaled token gradients gathered where they were taken.
  const int V = current.shape.vocab();
  std::vector<double> gathered(current.log_prob.size(), 0.0);
  for (std::size_t i = 0; i < B; ++i) {
    const double c = scale_of(row_scale, i);
    for (std::size_t t = 0; t < T; ++t) {
      const std::size_t k = i * T + t;
      if (batch.node[k] == kPaddingNode) continue;
      if (!std::isfinite(grad_logp[k])) {
        throw InputError(fmt::format("grad_logp[{}, {}]: {} is not finite", i, t, grad_logp[k]));
      }
      gathered[static_cast<std::size_t>(batch.node[k] * V + batch.action[k])] += c * grad_logp[k];
    }
  }
  // The softmax Jacobian, node by node: G[s, a] - pi(a|s) sum_a' G[s, a'].
  std::vector<double> grad(gathered.size());
  for (std::int64_t s = 0; s < current.shape.num_internal(); ++s) {
    const std::size_t row = static_cast<std::size_t>(s * V);
    double total = 0.0;
    for (int a = 0; a < V; ++a) total += gathered[row + a];
    for (int a = 0; a < V; ++a) grad[row + a] = gathered[row + a] - std::exp(current.log_prob[row + a]) * total;
  }
  return grad;
}

std::vector<double> exact_row_scale(const TrajectoryBatch& batch, double denominator, double log_mass) {
  if (!(denominator > 0) || !std::isfinite(denominator)) {
    throw InputError(fmt::format("exact_row_scale: denominator = {} must be finite and > 0", denominator));
  }
  if (!std::isfinite(log_mass)) {
    throw InputError(fmt::format("exact_row_scale: log_mass = {} must be finite", log_mass));
  }
  // In log space: D q(y) / M is O(1) on average, while q(y) or M alone may underflow.
  const double log_rows = std::log(denominator) - log_mass;
  std::vector<double> scale(batch.rows());
  for (std::size_t i = 0; i < scale.size(); ++i) scale[i] = std::exp(log_rows + batch.sampling_log_prob[i]);
  return scale;
}

double log_z_gradient(std::span<const double> grad_log_z, std::span<const double> row_scale) {
  require_row_scale(row_scale, grad_log_z.size());
  double total = 0.0;
  for (std::size_t i = 0; i < grad_log_z.size(); ++i) total += scale_of(row_scale, i) * grad_log_z[i];
  return total;
}

}  // namespace disa::train
