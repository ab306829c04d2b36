// A flat, right-padded batch of B sequences x T tokens: what every loss head reads.
//
// Row-major B x T arrays (entry (i, t) at i*T + t) and per-sequence B arrays, as
// views: the tabular trainer, the LibTorch adapter and the CLI all hand their own
// storage to the same heads. Fields an objective does not use may be empty.
//
//   logp[i,t]      log pi_theta(y_t | x, y_<t)   current policy (gradients are w.r.t. this)
//   logp_old[i,t]  log of the sampling policy    (pi_old on-policy, the proposal q offline)
//   logp_ref[i,t]  log pi_ref
//   mask[i,t]      1 = valid token, 0 = padding; n_i = sum_t mask[i,t]
//   reward[i]      outcome reward r(x_i, y_i)
//   group[i]       prompt id (any integers; need not be sorted or contiguous)
//   log_z[i]       log Z(x_i): the frozen anchor (tb/disa) or the current log Z_phi (flowrl)
//   advantages     optional override of the advantages an objective would compute from
//                  rewards: per token (B*T entries) or per sequence (B entries)
//
// Padding entries (mask 0) are never read as numbers: they may hold anything,
// including NaN or -inf, and never change a value or receive a gradient.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace disa::loss {

// Heads split rows across OpenMP threads only from this many B*T entries on: a thread
// team costs microseconds, which dominates small batches (tabular trainers make many).
// Per-row sums are reduced serially either way, so results do not depend on it.
inline constexpr std::size_t kMinParallelTokens = 1 << 14;

template <class Real>
struct LossBatch {
  std::size_t rows = 0;     // B
  std::size_t columns = 0;  // T (padded length)
  std::span<const Real> logp;
  std::span<const Real> logp_old;
  std::span<const Real> logp_ref;
  std::span<const Real> mask;
  std::span<const Real> reward;
  std::span<const std::int64_t> group;
  std::span<const Real> log_z;
  std::span<const Real> advantages;

  std::size_t tokens() const { return rows * columns; }
  bool valid(std::size_t i, std::size_t t) const { return mask[i * columns + t] != Real(0); }
};

// Owning storage for a batch (the CLI, tests, the tabular trainer). view() borrows it.
template <class Real>
struct BatchData {
  std::size_t rows = 0;
  std::size_t columns = 0;
  std::vector<Real> logp, logp_old, logp_ref, mask, reward, log_z, advantages;
  std::vector<std::int64_t> group;

  LossBatch<Real> view() const {
    return {rows, columns, logp, logp_old, logp_ref, mask, reward, group, log_z, advantages};
  }
};

// The fields an objective reads (bit set; Field::logp and Field::mask always).
enum Field : unsigned {
  kLogp = 1u << 0,
  kLogpOld = 1u << 1,
  kLogpRef = 1u << 2,
  kMask = 1u << 3,
  kReward = 1u << 4,
  kGroup = 1u << 5,
  kLogZ = 1u << 6,
  kAdvantages = 1u << 7,  // advantages, or reward + group to compute them
};

// Throws InputError naming the field (and the row/column) when: a field the objective
// needs is missing; an array has the wrong size (ragged, mismatched B or T); a mask
// entry is not exactly 0 or 1; a value the objective reads is NaN or infinite (only
// valid tokens are checked); advantages have neither B nor B*T entries. `objective`
// prefixes the message.
template <class Real>
void validate_batch(const LossBatch<Real>& batch, unsigned needs, const std::string& objective);

// n_i for every row.
template <class Real>
std::vector<std::size_t> valid_counts(const LossBatch<Real>& batch);

// validate_batch and valid_counts in one pass over the arrays, as the heads call it: the
// entry checks run branch-free per row (vectorised, rows across threads) and only a batch
// that fails them is walked again to name the first bad entry. `ends` (if given) receives
// each row's extent: 1 + the last valid column (0 for an empty row). Everything from there
// on is padding, so heads loop over [0, end_i) only: a right-padded batch is read once
// up to its lengths, not to T.
template <class Real>
std::vector<std::size_t> validated_counts(const LossBatch<Real>& batch, unsigned needs, const std::string& objective,
                                          std::vector<std::size_t>* ends = nullptr);

}  // namespace disa::loss
