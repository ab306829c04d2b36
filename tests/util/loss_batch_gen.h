// RapidCheck generators of random right-padded loss batches (src/loss/loss_batch.h).
//
// Shapes: B in [1, 8] rows, T in [1, 12] columns; each row empty, full or of a random
// length (at least one row non-empty unless asked otherwise). Group ids are drawn from a
// small unsorted pool, so a batch mixes singletons and larger groups. Rewards are binary
// or graded (multiples of 1e-3 in [0, 1]); a group sometimes has all rewards equal.
// Token log-probs are realistic ([-8, 0]), a quarter of them confident ([-0.1, 0], the
// usual case for an LLM's sampled tokens, 0 itself included), with some extreme but finite
// ones ([-50, -20]); logp_old and logp_ref are logp plus a per-row perturbation (none,
// tiny, small, large), symmetric about 0.
//
// Every range is drawn uniformly from the first case: RapidCheck's inRange scales its range
// by the case's size (0 at the first case, growing to 100), which put early cases at the
// low end (B = 1, T = 1, logp = -8, log-ratios negative); the generators here run at the
// nominal size whatever size they are asked for (LossBatchGen.CoversItsRangesAtEverySize
// in loss_properties_test.cpp counts it). Shrinking still moves towards the low end.
// Padding entries hold large finite garbage (+-1e30, +-1e300, ...); poison_padding()
// replaces them by NaN / inf for invariance tests.
//
// Every generated log-prob, log Z and advantage is a multiple of kGrid = 2^-24 below 2^7
// in magnitude (at most 31 significant bits). So x +- h for a finite-difference step
// h = 2^-k (k <= 22) is exact, and sums of a row's entries and their differences
// (logp - logp_old, ...) are exact in double: a test can move logp and logp_old together
// and leave a stop-gradient importance weight bit-identical.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <ostream>
#include <stdexcept>
#include <utility>
#include <vector>

#include <rapidcheck.h>

#include "src/loss/loss_batch.h"

namespace disa::loss {

// So that RapidCheck prints a failing batch readably: shape, per-row fields, and the
// valid entries of each row (padding is garbage by design and left out).
template <class Real>
void showValue(const BatchData<Real>& b, std::ostream& os) {
  auto row = [&](const std::vector<Real>& v, std::size_t i) {
    os << "[";
    for (std::size_t t = 0; t < b.columns; ++t) {
      if (b.mask.size() == b.rows * b.columns && b.mask[i * b.columns + t] == Real(0)) break;
      if (v.size() == b.rows * b.columns) os << (t ? ", " : "") << double(v[i * b.columns + t]);
    }
    os << "]";
  };
  os.precision(17);
  os << "BatchData{B=" << b.rows << ", T=" << b.columns << "\n";
  for (std::size_t i = 0; i < b.rows; ++i) {
    os << "  row " << i << ": n=";
    std::size_t n = 0;
    for (std::size_t t = 0; t < b.columns && b.mask.size() == b.rows * b.columns; ++t) {
      n += b.mask[i * b.columns + t] != Real(0);
    }
    os << n;
    if (i < b.group.size()) os << " group=" << b.group[i];
    if (i < b.reward.size()) os << " reward=" << double(b.reward[i]);
    if (i < b.log_z.size()) os << " log_z=" << double(b.log_z[i]);
    if (b.advantages.size() == b.rows) os << " adv=" << double(b.advantages[i]);
    os << "\n    logp=";
    row(b.logp, i);
    os << "\n    logp_old=";
    row(b.logp_old, i);
    os << "\n    logp_ref=";
    row(b.logp_ref, i);
    if (b.advantages.size() == b.rows * b.columns) {
      os << "\n    adv=";
      row(b.advantages, i);
    }
    os << "\n";
  }
  os << "}";
}

}  // namespace disa::loss

namespace disa::test {

inline constexpr double kGrid = 0x1p-24;

// Per-row size of |logp_old - logp| (and |logp_ref - logp|).
enum class Spread {
  kZero,   // on-policy: ratio exactly 1
  kTiny,   // <= 1.5e-4: GSPO's mean log-ratio stays strictly inside its paper clip range
           // [log(1 - 3e-4), log(1 + 4e-4)] ~ [-3.0e-4, 4.0e-4], never within 1.5e-4 of it
  kSmall,  // <= 0.05: inside PPO's clip range 0.8..1.2 (log: -0.223..0.182)
  kLarge,  // <= 3: clips often, dual clip (c = 3: log 1.10) too; row sums up to 36 < 709
};

enum class AdvantageForm { kComputed, kPerToken, kPerSequence };

struct LossBatchGenOptions {
  std::size_t max_rows = 8;
  std::size_t max_columns = 12;
  std::vector<Spread> old_spreads = {Spread::kZero, Spread::kTiny, Spread::kSmall, Spread::kLarge};
  AdvantageForm advantages = AdvantageForm::kComputed;
  bool extreme_logp = true;    // some tokens in [-50, -20]
  bool require_token = true;   // at least one valid token (the mean modes reject N = 0)
  bool allow_empty_rows = true;
};

// A multiple of kGrid in [lo, hi], uniform whatever RapidCheck's size.
inline rc::Gen<double> gen_dyadic(double lo, double hi) {
  return rc::gen::resize(rc::kNominalSize, rc::gen::map(rc::gen::inRange<std::int64_t>(std::llround(lo / kGrid),
                                                                                       std::llround(hi / kGrid) + 1),
                                                        [](std::int64_t k) { return double(k) * kGrid; }));
}

// [-8, 0] with a quarter confident ([-0.1, 0], 1 in 20 exactly 0), and with `extreme`
// 3 in 20 in [-50, -20].
inline rc::Gen<double> gen_token_logp(bool extreme) {
  const auto realistic = rc::gen::weightedOneOf<double>(
      {{14, gen_dyadic(-8.0, 0.0)}, {4, gen_dyadic(-0.1, 0.0)}, {1, rc::gen::just(0.0)}});
  if (!extreme) return realistic;
  return rc::gen::weightedOneOf<double>({{17, realistic}, {3, gen_dyadic(-50.0, -20.0)}});
}

inline double spread_size(Spread s) {
  switch (s) {
    case Spread::kZero:
      return 0.0;
    case Spread::kTiny:
      return 1.5e-4;
    case Spread::kSmall:
      return 0.05;
    case Spread::kLarge:
      return 3.0;
  }
  return 0.0;
}

// Finite garbage a head must never read: large enough that reading it would show.
inline rc::Gen<double> gen_padding_garbage() { return rc::gen::element(1e30, -1e30, 987654.25, 1e300, -1e300); }

inline rc::Gen<loss::BatchData<double>> gen_loss_batch(const LossBatchGenOptions& o = {}) {
  // Every draw inside at the nominal size: B, T, lengths, groups uniform from the first case.
  return rc::gen::resize(
      rc::kNominalSize, rc::gen::exec([o] {
        loss::BatchData<double> b;
        const auto B = *rc::gen::inRange<std::size_t>(1, o.max_rows + 1);
        const auto T = *rc::gen::inRange<std::size_t>(1, o.max_columns + 1);
        b.rows = B;
        b.columns = T;

        // Lengths: 0 = empty, T = full, else random; weights favour partial rows.
        std::vector<std::size_t> n(B);
        for (std::size_t i = 0; i < B; ++i) {
          const int kind = o.allow_empty_rows ? *rc::gen::weightedElement<int>({{1, 0}, {2, 1}, {4, 2}})
                                              : *rc::gen::weightedElement<int>({{2, 1}, {4, 2}});
          n[i] = kind == 0 ? 0 : kind == 1 ? T : *rc::gen::inRange<std::size_t>(1, T + 1);
        }
        bool any = false;
        for (std::size_t v : n) any = any || v > 0;
        if (o.require_token && !any) n[0] = T;
        b.mask.assign(B * T, 0.0);
        for (std::size_t i = 0; i < B; ++i) {
          for (std::size_t t = 0; t < n[i]; ++t) b.mask[i * T + t] = 1.0;
        }

        // Groups: ids from an unsorted pool of small ints, rows assigned at random.
        static const std::int64_t kPool[] = {7, 0, 3, -2, 12, 5, 1, 40};
        const auto labels = *rc::gen::inRange<std::size_t>(1, B + 1);
        b.group.resize(B);
        for (std::size_t i = 0; i < B; ++i) b.group[i] = kPool[*rc::gen::inRange<std::size_t>(0, labels)];

        // Rewards: binary or graded per batch; each group all-equal with probability 1/4.
        const bool binary = *rc::gen::arbitrary<bool>();
        const auto reward_gen = binary ? rc::gen::element(0.0, 1.0)
                                       : rc::gen::map(rc::gen::inRange(0, 1001), [](int k) { return k * 1e-3; });
        b.reward = *rc::gen::container<std::vector<double>>(B, reward_gen);
        for (std::size_t i = 0; i < B; ++i) {
          bool first = true;
          for (std::size_t j = 0; j < i; ++j) first = first && b.group[j] != b.group[i];
          if (!first) continue;
          if (*rc::gen::weightedElement<int>({{3, 0}, {1, 1}}) == 1) {
            for (std::size_t j = i + 1; j < B; ++j) {
              if (b.group[j] == b.group[i]) b.reward[j] = b.reward[i];
            }
          }
        }

        b.logp.resize(B * T);
        b.logp_old.resize(B * T);
        b.logp_ref.resize(B * T);
        for (std::size_t i = 0; i < B; ++i) {
          const double s_old = spread_size(*rc::gen::elementOf(o.old_spreads));
          // The reference: close to logp, far from it, or unrelated.
          const int ref_kind = *rc::gen::inRange(0, 4);
          for (std::size_t t = 0; t < T; ++t) {
            const std::size_t k = i * T + t;
            if (t >= n[i]) {
              b.logp[k] = *gen_padding_garbage();
              b.logp_old[k] = *gen_padding_garbage();
              b.logp_ref[k] = *gen_padding_garbage();
              continue;
            }
            b.logp[k] = *gen_token_logp(o.extreme_logp);
            b.logp_old[k] = b.logp[k] + (s_old > 0 ? *gen_dyadic(-s_old, s_old) : 0.0);
            switch (ref_kind) {
              case 0:
                b.logp_ref[k] = b.logp[k];
                break;
              case 1:
                b.logp_ref[k] = b.logp[k] + *gen_dyadic(-0.05, 0.05);
                break;
              case 2:
                b.logp_ref[k] = b.logp[k] + *gen_dyadic(-3.0, 3.0);
                break;
              default:
                b.logp_ref[k] = *gen_token_logp(o.extreme_logp);
                break;
            }
          }
        }
        b.log_z = *rc::gen::container<std::vector<double>>(B, gen_dyadic(-10.0, 10.0));

        if (o.advantages == AdvantageForm::kPerSequence) {
          b.advantages = *rc::gen::container<std::vector<double>>(B, gen_dyadic(-3.0, 3.0));
        } else if (o.advantages == AdvantageForm::kPerToken) {
          b.advantages.resize(B * T);
          for (std::size_t k = 0; k < B * T; ++k) {
            b.advantages[k] = b.mask[k] != 0 ? *gen_dyadic(-3.0, 3.0) : *gen_padding_garbage();
          }
        }
        return b;
      }));
}

// Every padding entry of every B x T array except the mask set to `value`.
inline loss::BatchData<double> poison_padding(loss::BatchData<double> b, double value) {
  for (std::size_t k = 0; k < b.rows * b.columns; ++k) {
    if (b.mask[k] != 0) continue;
    for (auto* v : {&b.logp, &b.logp_old, &b.logp_ref, &b.advantages}) {
      if (v->size() == b.rows * b.columns) (*v)[k] = value;
    }
  }
  return b;
}

// The same batch with rows reordered: row i of the result is row perm[i] of `b`, with
// its group, reward, log_z and per-sequence advantage.
inline loss::BatchData<double> permute_rows(const loss::BatchData<double>& b, const std::vector<std::size_t>& perm) {
  loss::BatchData<double> p = b;
  const std::size_t T = b.columns;
  auto move_rows = [&](const std::vector<double>& from, std::vector<double>& to) {
    if (from.size() != b.rows * T) return;
    for (std::size_t i = 0; i < b.rows; ++i) {
      for (std::size_t t = 0; t < T; ++t) to[i * T + t] = from[perm[i] * T + t];
    }
  };
  auto move_entries = [&](const auto& from, auto& to) {
    if (from.size() != b.rows) return;
    for (std::size_t i = 0; i < b.rows; ++i) to[i] = from[perm[i]];
  };
  move_rows(b.logp, p.logp);
  move_rows(b.logp_old, p.logp_old);
  move_rows(b.logp_ref, p.logp_ref);
  move_rows(b.mask, p.mask);
  move_rows(b.advantages, p.advantages);
  move_entries(b.reward, p.reward);
  move_entries(b.group, p.group);
  move_entries(b.log_z, p.log_z);
  move_entries(b.advantages, p.advantages);
  return p;
}

// Rows [begin, end) of `b` as a batch of their own, `columns` wide (at least every such
// row's valid length; padding keeps garbage of its own). A per-token advantage override
// stays per token, so `columns` must be >= 2 when `b`'s is (B x 1 would read per row).
inline loss::BatchData<double> slice_rows(const loss::BatchData<double>& b, std::size_t begin, std::size_t end,
                                          std::size_t columns) {
  const std::size_t T = b.columns;
  const bool per_token_adv = b.advantages.size() == b.rows * T && T > 1;
  loss::BatchData<double> out;
  out.rows = end - begin;
  out.columns = columns;
  auto copy_rows = [&](const std::vector<double>& from, std::vector<double>& to, double fill) {
    if (from.size() != b.rows * T) return;
    to.assign(out.rows * columns, fill);
    for (std::size_t i = begin; i < end; ++i) {
      for (std::size_t t = 0; t < std::min(T, columns); ++t) to[(i - begin) * columns + t] = from[i * T + t];
    }
  };
  copy_rows(b.mask, out.mask, 0.0);
  for (std::size_t i = begin; i < end; ++i) {
    for (std::size_t t = columns; t < T; ++t) {
      if (b.mask[i * T + t] != 0) throw std::logic_error("slice_rows: columns cuts a valid token");
    }
  }
  copy_rows(b.logp, out.logp, -1e30);
  copy_rows(b.logp_old, out.logp_old, 1e30);
  copy_rows(b.logp_ref, out.logp_ref, 987654.25);
  if (per_token_adv) copy_rows(b.advantages, out.advantages, -1e300);
  auto copy_entries = [&](const auto& from, auto& to) {
    if (from.size() == b.rows) to.assign(from.begin() + std::ptrdiff_t(begin), from.begin() + std::ptrdiff_t(end));
  };
  copy_entries(b.reward, out.reward);
  copy_entries(b.group, out.group);
  copy_entries(b.log_z, out.log_z);
  if (!per_token_adv) copy_entries(b.advantages, out.advantages);
  return out;
}

// At least `min_tokens` B*T entries built from copies of `b` (for code paths that only
// run on large batches, e.g. OpenMP over rows). Copy c gets its own group ids and its
// logp, logp_old and log_z moved by multiples of 2^-8 (ratios kept, grid kept), so the
// rows are not all equal and a reduction order would show in the rounding.
inline loss::BatchData<double> tile_rows(const loss::BatchData<double>& b, std::size_t min_tokens) {
  const std::size_t per_copy = b.rows * b.columns;
  const std::size_t copies = (min_tokens + per_copy - 1) / per_copy;
  loss::BatchData<double> out;
  out.rows = b.rows * copies;
  out.columns = b.columns;
  const bool per_token_adv = b.advantages.size() == per_copy && b.columns > 1;
  for (std::size_t c = 0; c < copies; ++c) {
    const double shift = double(c % 7) * 0x1p-8;
    for (std::size_t k = 0; k < per_copy; ++k) {
      const bool valid = b.mask[k] != 0;
      out.mask.push_back(b.mask[k]);
      out.logp.push_back(valid ? b.logp[k] - shift : b.logp[k]);
      out.logp_old.push_back(valid ? b.logp_old[k] - shift : b.logp_old[k]);
      out.logp_ref.push_back(b.logp_ref[k]);
      if (per_token_adv) out.advantages.push_back(b.advantages[k]);
    }
    for (std::size_t i = 0; i < b.rows; ++i) {
      out.reward.push_back(b.reward[i]);
      out.group.push_back(b.group[i] + std::int64_t(1000 * c));
      out.log_z.push_back(b.log_z[i] + double(c % 5) * 0x1p-6);
      if (!per_token_adv && b.advantages.size() == b.rows) out.advantages.push_back(b.advantages[i]);
    }
  }
  return out;
}

// Converting a finite double beyond the float range is undefined behaviour; padding
// garbage such as 1e300 becomes the infinity of its sign instead, which padding may hold.
template <class To, class From>
To narrow_value(From v) {
  if (std::isfinite(v) && std::fabs(v) > double(std::numeric_limits<To>::max())) {
    return v > 0 ? std::numeric_limits<To>::infinity() : -std::numeric_limits<To>::infinity();
  }
  return static_cast<To>(v);
}

template <class To, class From>
loss::BatchData<To> convert_batch(const loss::BatchData<From>& b) {
  loss::BatchData<To> c;
  c.rows = b.rows;
  c.columns = b.columns;
  auto conv = [](const std::vector<From>& v) {
    std::vector<To> out(v.size());
    for (std::size_t k = 0; k < v.size(); ++k) out[k] = narrow_value<To>(v[k]);
    return out;
  };
  c.logp = conv(b.logp);
  c.logp_old = conv(b.logp_old);
  c.logp_ref = conv(b.logp_ref);
  c.mask = conv(b.mask);
  c.reward = conv(b.reward);
  c.log_z = conv(b.log_z);
  c.advantages = conv(b.advantages);
  c.group = b.group;
  return c;
}

}  // namespace disa::test
