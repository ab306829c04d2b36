#include "src/loss/loss_batch.h"

#include <cmath>

#include <fmt/format.h>

#include "src/input_error.h"

namespace disa::loss {

namespace {

template <class Real>
void check_size(const std::string& objective, const char* field, std::span<const Real> values,
                std::size_t expected, const char* shape) {
  if (values.size() != expected) {
    throw InputError(fmt::format("{}: {} has {} entries, expected {} ({})", objective, field, values.size(),
                                 expected, shape));
  }
}

// Finite on every valid token (padding is never read).
template <class Real>
void check_tokens_finite(const std::string& objective, const char* field, const LossBatch<Real>& batch,
                         std::span<const Real> values) {
  for (std::size_t i = 0; i < batch.rows; ++i) {
    for (std::size_t t = 0; t < batch.columns; ++t) {
      const std::size_t k = i * batch.columns + t;
      if (batch.mask[k] != Real(0) && !std::isfinite(values[k])) {
        throw InputError(fmt::format("{}: {}[{}][{}] = {} at a valid token (mask 1); expected a finite number",
                                     objective, field, i, t, double(values[k])));
      }
    }
  }
}

template <class Real>
void check_rows_finite(const std::string& objective, const char* field, std::span<const Real> values) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      throw InputError(fmt::format("{}: {}[{}] = {}; expected a finite number", objective, field, i,
                                   double(values[i])));
    }
  }
}

}  // namespace

template <class Real>
void validate_batch(const LossBatch<Real>& batch, unsigned needs, const std::string& objective) {
  const std::size_t B = batch.rows;
  const std::size_t T = batch.columns;
  const std::string token_shape = fmt::format("B x T = {} x {}", B, T);
  const std::string row_shape = fmt::format("B = {}", B);
  if (B == 0) throw InputError(fmt::format("{}: the batch has no sequence (B = 0)", objective));
  if (T == 0) throw InputError(fmt::format("{}: the batch has no token column (T = 0)", objective));
  needs |= kLogp | kMask;
  auto require = [&](unsigned bit, const char* field, bool present) {
    if ((needs & bit) && !present) {
      throw InputError(fmt::format("{}: field '{}' is required and missing", objective, field));
    }
  };
  require(kLogp, "logp", !batch.logp.empty());
  require(kMask, "mask", !batch.mask.empty());
  require(kLogpOld, "logp_old", !batch.logp_old.empty());
  require(kLogpRef, "logp_ref", !batch.logp_ref.empty());
  require(kLogZ, "log_z", !batch.log_z.empty());
  require(kReward, "reward", !batch.reward.empty());
  require(kGroup, "group", !batch.group.empty());
  if ((needs & kAdvantages) && batch.advantages.empty()) {
    require(kAdvantages, "reward (or advantages)", !batch.reward.empty());
    require(kAdvantages, "group (or advantages)", !batch.group.empty());
  }

  check_size(objective, "logp", batch.logp, B * T, token_shape.c_str());
  check_size(objective, "mask", batch.mask, B * T, token_shape.c_str());
  for (std::size_t k = 0; k < B * T; ++k) {
    const Real m = batch.mask[k];
    if (m != Real(0) && m != Real(1)) {
      throw InputError(fmt::format("{}: mask[{}][{}] = {}; expected 0 or 1", objective, k / T, k % T, double(m)));
    }
  }
  check_tokens_finite(objective, "logp", batch, batch.logp);
  if (!batch.logp_old.empty()) {
    check_size(objective, "logp_old", batch.logp_old, B * T, token_shape.c_str());
    if (needs & kLogpOld) check_tokens_finite(objective, "logp_old", batch, batch.logp_old);
  }
  if (!batch.logp_ref.empty()) {
    check_size(objective, "logp_ref", batch.logp_ref, B * T, token_shape.c_str());
    if (needs & kLogpRef) check_tokens_finite(objective, "logp_ref", batch, batch.logp_ref);
  }
  if (!batch.reward.empty()) {
    check_size(objective, "reward", batch.reward, B, row_shape.c_str());
    if (needs & (kReward | kAdvantages)) check_rows_finite(objective, "reward", batch.reward);
  }
  if (!batch.group.empty() && batch.group.size() != B) {
    throw InputError(fmt::format("{}: group has {} entries, expected {} ({})", objective, batch.group.size(), B,
                                 row_shape));
  }
  if (!batch.log_z.empty()) {
    check_size(objective, "log_z", batch.log_z, B, row_shape.c_str());
    if (needs & kLogZ) check_rows_finite(objective, "log_z", batch.log_z);
  }
  if (!batch.advantages.empty()) {
    const std::size_t n = batch.advantages.size();
    if (n == B * T) {
      if (needs & kAdvantages) check_tokens_finite(objective, "advantages", batch, batch.advantages);
    } else if (n == B) {
      if (needs & kAdvantages) check_rows_finite(objective, "advantages", batch.advantages);
    } else {
      throw InputError(fmt::format(
          "{}: advantages has {} entries, expected B = {} (per sequence) or B x T = {} (per token)", objective, n,
          B, B * T));
    }
  }
}

template <class Real>
std::vector<std::size_t> valid_counts(const LossBatch<Real>& batch) {
  std::vector<std::size_t> counts(batch.rows, 0);
  for (std::size_t i = 0; i < batch.rows; ++i) {
    const Real* m = batch.mask.data() + i * batch.columns;
    std::size_t n = 0;
    for (std::size_t t = 0; t < batch.columns; ++t) n += m[t] != Real(0);
    counts[i] = n;
  }
  return counts;
}

template void validate_batch<float>(const LossBatch<float>&, unsigned, const std::string&);
template void validate_batch<double>(const LossBatch<double>&, unsigned, const std::string&);
template std::vector<std::size_t> valid_counts<float>(const LossBatch<float>&);
template std::vector<std::size_t> valid_counts<double>(const LossBatch<double>&);

}  // namespace disa::loss
