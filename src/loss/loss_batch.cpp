#include "src/loss/loss_batch.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "src/input_error.h"

namespace disa::loss {

namespace {

template <class Real>
void check_size(const std::string& objective, const char* field, std::span<const Real> values, std::size_t expected,
                const char* shape) {
  if (values.size() != expected) {
    throw InputError(
        fmt::format("{}: {} has {} entries, expected {} ({})", objective, field, values.size(), expected, shape));
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
      throw InputError(
          fmt::format("{}: {}[{}] = {}; expected a finite number", objective, field, i, double(values[i])));
    }
  }
}

// Required fields present, every array of the right size.
template <class Real>
void check_structure(const LossBatch<Real>& batch, unsigned needs, const std::string& objective) {
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
  if (!batch.logp_old.empty()) check_size(objective, "logp_old", batch.logp_old, B * T, token_shape.c_str());
  if (!batch.logp_ref.empty()) check_size(objective, "logp_ref", batch.logp_ref, B * T, token_shape.c_str());
  if (!batch.reward.empty()) check_size(objective, "reward", batch.reward, B, row_shape.c_str());
  if (!batch.log_z.empty()) check_size(objective, "log_z", batch.log_z, B, row_shape.c_str());
  if (!batch.group.empty() && batch.group.size() != B) {
    throw InputError(
        fmt::format("{}: group has {} entries, expected {} ({})", objective, batch.group.size(), B, row_shape));
  }
  if (!batch.advantages.empty() && batch.advantages.size() != B && batch.advantages.size() != B * T) {
    throw InputError(
        fmt::format("{}: advantages has {} entries, expected B = {} (per sequence) or B x T = {} (per token)",
                    objective, batch.advantages.size(), B, B * T));
  }
}

template <class Real>
void check_entries(const LossBatch<Real>& batch, unsigned needs, const std::string& objective) {
  const std::size_t B = batch.rows;
  const std::size_t T = batch.columns;
  needs |= kLogp | kMask;
  for (std::size_t k = 0; k < B * T; ++k) {
    const Real m = batch.mask[k];
    if (m != Real(0) && m != Real(1)) {
      throw InputError(fmt::format("{}: mask[{}][{}] = {}; expected 0 or 1", objective, k / T, k % T, double(m)));
    }
  }
  check_tokens_finite(objective, "logp", batch, batch.logp);
  if (!batch.logp_old.empty() && (needs & kLogpOld)) check_tokens_finite(objective, "logp_old", batch, batch.logp_old);
  if (!batch.logp_ref.empty() && (needs & kLogpRef)) check_tokens_finite(objective, "logp_ref", batch, batch.logp_ref);
  if (!batch.reward.empty() && (needs & (kReward | kAdvantages))) check_rows_finite(objective, "reward", batch.reward);
  if (!batch.log_z.empty() && (needs & kLogZ)) check_rows_finite(objective, "log_z", batch.log_z);
  if (!batch.advantages.empty() && (needs & kAdvantages)) {
    if (batch.advantages.size() == B * T) {
      check_tokens_finite(objective, "advantages", batch, batch.advantages);
    } else {
      check_rows_finite(objective, "advantages", batch.advantages);
    }
  }
}

}  // namespace

template <class Real>
void validate_batch(const LossBatch<Real>& batch, unsigned needs, const std::string& objective) {
  check_structure(batch, needs, objective);
  check_entries(batch, needs, objective);
}

namespace {

// |x| <= max is false exactly for NaN and +-inf, and vectorises (std::isfinite may not).
template <class Real>
inline bool finite(Real x) {
  return std::abs(x) <= std::numeric_limits<Real>::max();
}

// Bad entries of one row (mask not 0/1, non-finite value at a valid token), counted
// branch-free; n_i as a by-product.
template <class Real>
std::size_t count_bad_entries(const LossBatch<Real>& batch, unsigned needs, std::size_t i, std::size_t* valid,
                              std::size_t* row_end) {
  const std::size_t T = batch.columns;
  const Real* m = batch.mask.data() + i * T;
  // Trailing zeros are padding; a NaN or a 0.5 stops the scan and is counted below.
  std::size_t end = T;
  while (end > 0 && m[end - 1] == Real(0)) --end;
  std::size_t n = 0, bad = 0;
  for (std::size_t t = 0; t < end; ++t) {
    n += m[t] != Real(0);
    bad += !(m[t] == Real(0) || m[t] == Real(1));
  }
  auto check = [&](std::span<const Real> field) {
    const Real* x = field.data() + i * T;
    std::size_t b = 0;
    for (std::size_t t = 0; t < end; ++t) b += (m[t] != Real(0)) & !finite(x[t]);
    bad += b;
  };
  check(batch.logp);
  if (needs & kLogpOld) check(batch.logp_old);
  if (needs & kLogpRef) check(batch.logp_ref);
  if ((needs & kAdvantages) && batch.advantages.size() == batch.rows * T) check(batch.advantages);
  *valid = n;
  *row_end = end;
  return bad;
}

}  // namespace

template <class Real>
std::vector<std::size_t> validated_counts(const LossBatch<Real>& batch, unsigned needs, const std::string& objective,
                                          std::vector<std::size_t>* ends) {
  check_structure(batch, needs, objective);
  const std::size_t B = batch.rows;
  std::vector<std::size_t> counts(B, 0), bad(B, 0), row_ends(B, 0);
#pragma omp parallel for schedule(static) if (batch.tokens() >= kMinParallelTokens)
  for (std::size_t i = 0; i < B; ++i) {
    bad[i] = count_bad_entries(batch, needs | kLogp | kMask, i, &counts[i], &row_ends[i]);
  }
  if (ends != nullptr) *ends = std::move(row_ends);
  bool any_bad = false;
  for (std::size_t b : bad) any_bad |= b != 0;
  auto rows_finite = [](std::span<const Real> values) {
    bool ok = true;
    for (Real v : values) ok &= finite(v);
    return ok;
  };
  if ((needs & (kReward | kAdvantages)) && !rows_finite(batch.reward)) any_bad = true;
  if ((needs & kLogZ) && !rows_finite(batch.log_z)) any_bad = true;
  if ((needs & kAdvantages) && batch.advantages.size() == B && !rows_finite(batch.advantages)) any_bad = true;
  if (any_bad) check_entries(batch, needs, objective);  // throws, naming the first bad entry
  return counts;
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
template std::vector<std::size_t> validated_counts<float>(const LossBatch<float>&, unsigned, const std::string&,
                                                          std::vector<std::size_t>*);
template std::vector<std::size_t> validated_counts<double>(const LossBatch<double>&, unsigned, const std::string&,
                                                           std::vector<std::size_t>*);

}  // namespace disa::loss
