// CPU checks of kernel 1's shared math (kernels/token_logprobs_math.h) and of its CPU
// reference (kernels/token_logprobs_ref.cpp), both against long-double brute force:
// the online softmax state (one element at a time, in 8-wide chunks as the kernel's
// bf16 vectors, and merged from arbitrary splits as the block reduction merges),
// its edge cases, bf16 rounding, and the reference's forward and backward.
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/token_logprobs.h"

namespace {

using disa::kernels::bf16;
using disa::kernels::SoftmaxState;
constexpr double kInf = std::numeric_limits<double>::infinity();

struct Brute {
  long double lse, entropy;
};

// lse and entropy in long double, finite entries only (the caller avoids specials).
Brute brute(const std::vector<double>& x) {
  long double m = -INFINITY;
  for (double v : x) m = std::max<long double>(m, v);
  long double s = 0;
  for (double v : x) s += std::exp(static_cast<long double>(v) - m);
  const long double lse = m + std::log(s);
  long double h = 0;
  for (double v : x) {
    const long double p = std::exp(static_cast<long double>(v) - lse);
    h -= p * (static_cast<long double>(v) - lse);
  }
  return {lse, h};
}

std::vector<double> random_row(std::mt19937_64& rng, std::size_t n, double scale, double shift) {
  std::normal_distribution<double> normal(shift, scale);
  std::vector<double> x(n);
  for (double& v : x) v = normal(rng);
  return x;
}

template <class Acc>
SoftmaxState<Acc> one_by_one(const std::vector<double>& x) {
  SoftmaxState<Acc> st;
  for (double v : x) st.add(Acc(v));
  return st;
}

template <class Acc>
SoftmaxState<Acc> chunked_and_merged(const std::vector<double>& x, std::size_t chunk, std::size_t parts) {
  // `parts` states over interleaved chunks (as threads stride a row), then merged.
  std::vector<SoftmaxState<Acc>> states(parts);
  std::vector<Acc> buf(chunk);
  for (std::size_t c = 0, j = 0; c < x.size(); c += chunk, ++j) {
    const std::size_t n = std::min(chunk, x.size() - c);
    for (std::size_t k = 0; k < n; ++k) buf[k] = Acc(x[c + k]);
    states[j % parts].add_chunk(buf.data(), int(n));
  }
  SoftmaxState<Acc> r;
  for (const auto& s : states) r.merge(s);
  return r;
}

TEST(SoftmaxStateMath, MatchesLongDoubleOnRandomRows) {
  std::mt19937_64 rng(20261205);
  for (std::size_t n : {1, 2, 7, 8, 9, 100, 1000, 4097}) {
    for (double scale : {0.01, 1.0, 30.0}) {
      for (double shift : {0.0, 1000.0, -1000.0}) {
        const std::vector<double> x = random_row(rng, n, scale, shift);
        const Brute b = brute(x);
        const auto d1 = one_by_one<double>(x);
        const auto d2 = chunked_and_merged<double>(x, 8, 5);
        const auto f2 = chunked_and_merged<float>(x, 8, 3);
        // double: a few ulps per term; float: |x| ~ 1000 costs absolute 1000 * 2^-24 per value.
        const double lse = double(b.lse), h = double(b.entropy);
        EXPECT_NEAR(d1.lse(), lse, 1e-12 * (1 + std::fabs(lse))) << "n=" << n << " scale=" << scale;
        EXPECT_NEAR(d2.lse(), lse, 1e-12 * (1 + std::fabs(lse))) << "n=" << n << " scale=" << scale;
        EXPECT_NEAR(d1.entropy(), h, 1e-10 * (1 + h)) << "n=" << n << " scale=" << scale;
        EXPECT_NEAR(d2.entropy(), h, 1e-10 * (1 + h)) << "n=" << n << " scale=" << scale;
        EXPECT_NEAR(f2.lse(), lse, 1e-5 * (1 + std::fabs(lse))) << "n=" << n << " scale=" << scale;
        EXPECT_NEAR(f2.entropy(), h, 2e-4 * (1 + h)) << "n=" << n << " scale=" << scale << " shift=" << shift;
      }
    }
  }
}

// add_chunk's fast path (finite chunks) hands a chunk with -inf, +inf or NaN to the
// classified path after it may already have rescaled to the chunk's max: the result must
// be the classified path's, exactly, and -inf must count as absent.
TEST(SoftmaxStateMath, ChunksWithNonFiniteValuesAreRedoneExactly) {
  std::mt19937_64 rng(20261206);
  for (const double special : {-kInf, kInf, std::nan("")}) {
    for (std::size_t chunk : {1, 3, 4, 8}) {
      for (int trial = 0; trial < 20; ++trial) {
        std::vector<double> x = random_row(rng, 200, 3.0, 0.0), finite;
        // Every chunk of the first half holds a special (so each is redone, some after a
        // rescale); the second half has one every ~10 values.
        for (std::size_t i = 0; i < x.size(); ++i) {
          const bool first_half_slot = i < 100 && i % chunk == std::size_t(trial) % chunk;
          if (first_half_slot || (i >= 100 && rng() % 10 == 0)) x[i] = special;
        }
        for (double v : x)
          if (std::isfinite(v)) finite.push_back(v);
        const auto fast = chunked_and_merged<float>(x, chunk, 1);
        SoftmaxState<float> classified;
        for (std::size_t c = 0; c < x.size(); c += chunk) {
          std::vector<float> buf(x.begin() + long(c), x.begin() + long(std::min(x.size(), c + chunk)));
          classified.add_chunk_classified(buf.data(), int(buf.size()));
        }
        if (std::isnan(special)) {
          EXPECT_TRUE(std::isnan(fast.lse()) && std::isnan(fast.entropy())) << "chunk " << chunk;
        } else if (special > 0) {
          EXPECT_EQ(fast.lse(), INFINITY) << "chunk " << chunk;
          EXPECT_TRUE(std::isnan(fast.entropy())) << "chunk " << chunk;
        } else {
          const Brute b = brute(finite);
          EXPECT_NEAR(fast.lse(), double(b.lse), 1e-5 * (1 + std::fabs(double(b.lse)))) << "chunk " << chunk;
          EXPECT_NEAR(fast.entropy(), double(b.entropy), 2e-4 * (1 + double(b.entropy))) << "chunk " << chunk;
        }
        EXPECT_EQ(fast.flags, classified.flags) << "chunk " << chunk;
        EXPECT_EQ(fast.m, classified.m) << "chunk " << chunk;
      }
    }
  }
  // A chunk whose -inf makes the fast path fall back after rescaling to its finite max:
  // the state is the classified path's, bit for bit.
  SoftmaxState<double> a, b;
  const double first[4] = {0.5, -1.0, 2.0, 0.25}, second[4] = {7.0, -kInf, 3.0, 6.5};
  a.add_chunk(first, 4);
  a.add_chunk(second, 4);
  b.add_chunk(first, 4);
  b.add_chunk_classified(second, 4);
  EXPECT_EQ(a.m, b.m);
  EXPECT_EQ(a.s, b.s);
  EXPECT_EQ(a.u, b.u);
}

TEST(SoftmaxStateMath, EdgeCasesFollowLogSumExpConventions) {
  SoftmaxState<float> empty;
  EXPECT_EQ(empty.lse(), -INFINITY);
  EXPECT_TRUE(std::isnan(empty.entropy()));
  const std::vector<double> all_neg_inf = {-kInf, -kInf, -kInf};
  EXPECT_EQ(one_by_one<float>(all_neg_inf).lse(), -INFINITY);
  EXPECT_EQ(chunked_and_merged<float>(all_neg_inf, 2, 2).lse(), -INFINITY);
  EXPECT_TRUE(std::isnan(one_by_one<float>(all_neg_inf).entropy()));
  // -inf entries add nothing: same as the row without them.
  const std::vector<double> with_neg_inf = {-kInf, 1.0, -kInf, 2.0, -kInf};
  const Brute b = brute({1.0, 2.0});
  EXPECT_NEAR(one_by_one<double>(with_neg_inf).lse(), double(b.lse), 1e-15);
  EXPECT_NEAR(chunked_and_merged<double>(with_neg_inf, 3, 2).entropy(), double(b.entropy), 1e-15);
  // -inf first, then finite (the state starts at m = -inf).
  EXPECT_NEAR(chunked_and_merged<double>({-kInf, 5.0}, 1, 2).lse(), 5.0, 0.0);
  EXPECT_EQ(one_by_one<float>({1.0, kInf, 2.0}).lse(), INFINITY);
  EXPECT_TRUE(std::isnan(one_by_one<float>({1.0, kInf}).entropy()));
  EXPECT_TRUE(std::isnan(one_by_one<float>({1.0, std::nan(""), kInf}).lse()));
  EXPECT_TRUE(std::isnan(chunked_and_merged<float>({1.0, 2.0, std::nan("")}, 2, 2).lse()));
  // A single value: lse = x, entropy 0.
  EXPECT_EQ(one_by_one<float>({3.5}).lse(), 3.5f);
  EXPECT_EQ(one_by_one<float>({3.5}).entropy(), 0.0f);
  // An empty chunk leaves the state as it was.
  SoftmaxState<float> st = one_by_one<float>({1.0, 2.0});
  const SoftmaxState<float> before = st;
  st.add_chunk(nullptr, 0);
  EXPECT_EQ(st.m, before.m);
  EXPECT_EQ(st.s, before.s);
  EXPECT_EQ(st.u, before.u);
}

TEST(SoftmaxStateMath, LogProbOfAConfidentTokenDoesNotDependOnTheShift) {
  // A confident token: log p = -log(1 + e^-9 + e^-10 + e^-11) = -1.8e-4 for any shift c of
  // the row. In float, x_t - lse() carries lse's rounding, up to ulp(c)/2 (3e-5 at
  // c = 1000); log_prob's error is the float sum s (3 additions near 1, 6e-8 each) and
  // log s's few ulp of 1.8e-4, so 3e-7 bounds it at every shift (x_t - m is exact:
  // Sterbenz). Few terms on purpose: a long row's tiny terms vanish in a float sum near 1,
  // whatever the subtraction (the kernel sums per thread and per chunk first).
  const long double exact = -std::log1p(std::exp(-9.0L) + std::exp(-10.0L) + std::exp(-11.0L));
  for (const double shift : {0.0, 40.0, 1000.0, -1000.0, 3.0e5}) {
    const std::vector<double> x = {shift, shift - 9, shift - 10, shift - 11};  // exact in float
    for (const auto& st : {one_by_one<float>(x), chunked_and_merged<float>(x, 1, 2), chunked_and_merged<float>(x, 3, 2)}) {
      EXPECT_NEAR(st.log_prob(float(x[0])), double(exact), 3e-7) << "shift " << shift;
    }
    EXPECT_NEAR(one_by_one<double>(x).log_prob(x[0]), double(exact), 1e-15) << "shift " << shift;
  }
  // Special rows: as x - lse().
  EXPECT_TRUE(std::isnan(one_by_one<float>({-kInf, -kInf}).log_prob(-INFINITY)));  // no distribution
  EXPECT_EQ(one_by_one<float>({1.0, kInf}).log_prob(1.0f), -INFINITY);               // all mass on the +inf
  EXPECT_TRUE(std::isnan(one_by_one<float>({1.0, kInf}).log_prob(INFINITY)));
  EXPECT_TRUE(std::isnan(one_by_one<float>({1.0, std::nan("")}).log_prob(1.0f)));
  EXPECT_EQ(one_by_one<float>({1.0, -kInf}).log_prob(-INFINITY), -INFINITY);  // a masked target
  EXPECT_EQ(one_by_one<float>({3.5}).log_prob(3.5f), 0.0f);
}

TEST(SoftmaxStateMath, TargetGradientOfAConfidentTokenDoesNotDependOnTheShift) {
  // The backward's target element g (p_t - 1) = g expm1(log p_t) for the row above. expm1's
  // slope is p_t <= 1, so log_prob's 3e-7 bound carries over (plus expm1's own ulp of
  // 1.8e-4, 1e-11): 3e-7 at every shift. From lse instead, e^{x_t - lse} - 1 takes lse's
  // rounding in full: at c = 3e5 lse rounds to c itself (ulp 0.03) and p_t - 1 comes out 0,
  // the whole 1.8e-4 off.
  const long double exact = std::expm1(-std::log1p(std::exp(-9.0L) + std::exp(-10.0L) + std::exp(-11.0L)));
  for (const double shift : {0.0, 40.0, 1000.0, -1000.0, 3.0e5}) {
    const std::vector<double> x = {shift, shift - 9, shift - 10, shift - 11};
    for (const float g : {1.0f, -2.5f}) {
      const auto st = chunked_and_merged<float>(x, 3, 2);
      const float pm1 = disa::kernels::target_softmax_minus_one(st.log_prob(float(x[0])));
      EXPECT_NEAR(pm1, double(exact), 3e-7) << "shift " << shift;
      const float tg = disa::kernels::softmax_grad(float(x[0]), st.lse(), g, true, pm1);
      EXPECT_EQ(tg, g * pm1);
      // the per-element function puts it on the target and g e^{x - lse} elsewhere, whose
      // relative error is lse's rounding, ulp(lse)/2, plus ex2's few ulp (1e-6)
      const float off = disa::kernels::softmax_grad(float(x[1]), st.lse(), g, false, pm1);
      const double half_ulp = 0.5 * (std::nextafter(st.lse(), INFINITY) - st.lse());
      const double p1 = std::exp(-9.0L - std::log1p(std::exp(-9.0L) + std::exp(-10.0L) + std::exp(-11.0L)));
      EXPECT_NEAR(off, g * p1, std::fabs(g) * p1 * (half_ulp + 1e-6)) << "shift " << shift;
    }
  }
  const auto far = one_by_one<float>({3.0e5, 3.0e5 - 9, 3.0e5 - 10, 3.0e5 - 11});
  EXPECT_EQ(std::exp2((3.0e5f - far.lse()) * SoftmaxState<float>::kLog2e) - 1.0f, 0.0f);  // the failure above
  // Special rows: NaN log p gives NaN; log p = -inf (all mass on a +inf elsewhere) gives -1.
  EXPECT_TRUE(std::isnan(disa::kernels::target_softmax_minus_one(NAN)));
  EXPECT_EQ(disa::kernels::target_softmax_minus_one(-INFINITY), -1.0f);
  EXPECT_EQ(disa::kernels::target_softmax_minus_one(0.0f), 0.0f);  // p_t = 1: no gradient
}

TEST(SoftmaxStateMath, LogitsMaskedAtTheFloatMinimumAddNothing) {
  // Masking with torch.finfo(float32).min instead of -inf: the masked terms underflow,
  // and the rescale from m = -3.4e38 must not form 0 * (s * d) = 0 * -inf = NaN.
  const double lowest = std::numeric_limits<float>::lowest();
  const std::vector<double> finite = {0.5, -1.0, 2.0, 0.25};
  const Brute b = brute(finite);
  std::vector<double> masked_first(8, lowest), masked_last = finite;
  masked_first.insert(masked_first.end(), finite.begin(), finite.end());
  masked_last.insert(masked_last.end(), 8, lowest);
  for (const auto& x : {masked_first, masked_last}) {
    for (std::size_t chunk : {1, 2, 4, 8}) {
      for (std::size_t parts : {1, 2, 3}) {
        const SoftmaxState<float> st = chunked_and_merged<float>(x, chunk, parts);
        EXPECT_NEAR(st.lse(), double(b.lse), 1e-6) << "chunk " << chunk << " parts " << parts;
        EXPECT_NEAR(st.entropy(), double(b.entropy), 1e-6) << "chunk " << chunk << " parts " << parts;
      }
    }
    EXPECT_NEAR(one_by_one<float>(x).entropy(), double(b.entropy), 1e-6);
  }
  // Only masked values: lse is the minimum itself (a finite row), entropy that of 8 equal terms.
  const SoftmaxState<float> all = one_by_one<float>(std::vector<double>(8, lowest));
  EXPECT_EQ(all.lse(), float(lowest + std::log(8.0)));
  EXPECT_NEAR(all.entropy(), std::log(8.0), 1e-6);
}

TEST(Bf16Math, RoundsToNearestEvenAndKeepsSpecials) {
  using disa::kernels::float_to_bf16;
  using disa::kernels::to_float;
  EXPECT_EQ(float_to_bf16(1.0f).bits, 0x3f80);
  EXPECT_EQ(to_float(bf16{0x3f80}), 1.0f);
  // 1 + 2^-8 is half-way between 1 and 1 + 2^-7: ties to even (1).
  EXPECT_EQ(float_to_bf16(1.0f + 0x1p-8f).bits, 0x3f80);
  // 1 + 3 * 2^-8 is half-way between 1 + 2^-7 and 1 + 2^-6: ties to even (1 + 2^-6).
  EXPECT_EQ(float_to_bf16(1.0f + 3 * 0x1p-8f).bits, 0x3f82);
  EXPECT_EQ(float_to_bf16(1.0f + 0x1p-8f + 0x1p-20f).bits, 0x3f81);  // above half-way: up
  EXPECT_EQ(float_to_bf16(-INFINITY).bits, 0xff80);
  EXPECT_TRUE(std::isnan(to_float(float_to_bf16(NAN))));
  // Every NaN, whatever its sign and payload, becomes the canonical 0x7fff (as cvt.rn.bf16.f32
  // and cuda_bf16.hpp's software rounding make it).
  EXPECT_EQ(float_to_bf16(NAN).bits, 0x7fff);
  EXPECT_EQ(float_to_bf16(-NAN).bits, 0x7fff);
  EXPECT_EQ(float_to_bf16(disa::kernels::bits_float(0x7f800001u)).bits, 0x7fff);  // signalling, payload 1
  EXPECT_EQ(to_float(float_to_bf16(-INFINITY)), -INFINITY);
  // Every bf16 value survives the round trip.
  for (std::uint32_t b = 0; b < 0x10000; ++b) {
    const float f = to_float(bf16{std::uint16_t(b)});
    if (std::isnan(f)) continue;
    ASSERT_EQ(float_to_bf16(f).bits, b);
  }
}

template <class Elem>
std::vector<Elem> as(const std::vector<double>& x) {
  std::vector<Elem> out(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) out[i] = disa::kernels::from_float<Elem>(float(x[i]));
  return out;
}

template <class Elem>
void check_reference(double tol, double elem_rel) {  // elem_rel: rounding of one Elem
  std::mt19937_64 rng(7);
  const std::int64_t N = 5, V = 1001;
  std::vector<double> x = random_row(rng, N * V, 3.0, 0.0);
  for (std::int64_t v = 0; v < V; ++v) x[3 * V + v] = -kInf;  // row 3: all -inf
  x[1 * V + 10] = -kInf;                                      // row 1: one -inf
  const std::vector<Elem> logits = as<Elem>(x);
  const std::vector<std::int64_t> target = {0, 500, V - 1, 7, V};  // row 4: out of range
  std::vector<float> logp(N), lse(N), ent(N);
  disa::kernels::token_logprobs_ref(logits.data(), target.data(), N, V, logp.data(), lse.data(), ent.data());
  for (std::int64_t r = 0; r < N; ++r) {
    std::vector<double> row;
    for (std::int64_t v = 0; v < V; ++v) {
      const double xv = disa::kernels::to_float(logits[r * V + v]);
      if (xv != -kInf) row.push_back(xv);
    }
    if (r == 3) {
      EXPECT_EQ(lse[r], -INFINITY);
      EXPECT_TRUE(std::isnan(logp[r]));
      EXPECT_TRUE(std::isnan(ent[r]));
      continue;
    }
    if (r == 4) {
      EXPECT_TRUE(std::isnan(logp[r]) && std::isnan(lse[r]) && std::isnan(ent[r]));
      continue;
    }
    const Brute b = brute(row);
    EXPECT_NEAR(lse[r], double(b.lse), tol * (1 + std::fabs(double(b.lse))));
    EXPECT_NEAR(ent[r], double(b.entropy), tol * (1 + double(b.entropy)));
    const double xt = disa::kernels::to_float(logits[r * V + target[r]]);
    EXPECT_NEAR(logp[r], double(xt - b.lse), tol * (1 + std::fabs(double(xt - b.lse))));
  }
  // Backward: g (softmax - onehot); rows sum to 0 (up to rounding to Elem).
  const std::vector<float> g = {1.0f, -0.5f, 2.0f, 1.0f, 1.0f};
  std::vector<Elem> d(N * V);
  disa::kernels::token_logprobs_backward_ref(logits.data(), target.data(), lse.data(), logp.data(), g.data(), N, V,
                                             d.data());
  for (std::int64_t r : {0, 1, 2}) {
    double sum = 0;
    for (std::int64_t v = 0; v < V; ++v) {
      const double xv = disa::kernels::to_float(logits[r * V + v]);
      // the target's p - 1 from logp (target_softmax_minus_one), the rest from lse
      const double want = v == target[r] ? g[r] * std::expm1(double(logp[r])) : g[r] * std::exp(xv - double(lse[r]));
      const double got = disa::kernels::to_float(d[r * V + v]);
      ASSERT_NEAR(got, want, 1e-7 + elem_rel * std::fabs(want)) << "row " << r << " v " << v;
      sum += got;
    }
    EXPECT_NEAR(sum, 0.0, 1e-5 + 2 * elem_rel * std::fabs(g[r]));  // sum |got| ~ 2 |g|
  }
  for (std::int64_t v = 0; v < V; ++v) {
    EXPECT_TRUE(std::isnan(disa::kernels::to_float(d[3 * V + v])));  // all -inf row
    EXPECT_TRUE(std::isnan(disa::kernels::to_float(d[4 * V + v])));  // target out of range
  }
}

TEST(TokenLogprobsReference, Float32MatchesLongDouble) { check_reference<float>(1e-6, 1e-6); }
TEST(TokenLogprobsReference, Bf16MatchesLongDouble) { check_reference<bf16>(1e-6, 0x1p-8); }

}  // namespace

namespace {

// The kernels' row split (head, 16-byte vectors, tail) tiles [0, V) and puts the vectors
// on 16-byte boundaries, for every start offset and the awkward V.
TEST(TokenLogprobsMath, RowSegmentsTileTheRowOnAlignedVectors) {
  for (int elem : {2, 4}) {
    for (std::uint64_t base = 4096; base < 4096 + 32; base += elem) {
      for (std::int64_t V : {1, 2, 3, 7, 8, 9, 15, 16, 17, 1000, 151936, 151937}) {
        const auto s = disa::kernels::row_segments(base, V, elem);
        ASSERT_GE(s.head, 0);
        ASSERT_LE(s.head, V);
        ASSERT_GE(s.vectors, 0);
        ASSERT_EQ(s.tail_begin, s.head + s.vectors * (16 / elem));
        ASSERT_LE(s.tail_begin, V);
        ASSERT_LT(V - s.tail_begin, 16 / elem) << "the tail is shorter than one vector";
        if (s.vectors > 0) {
          ASSERT_EQ((base + std::uint64_t(s.head) * elem) % 16, 0u) << base << " " << V;
        }
        ASSERT_LT(s.head, 16 / elem);
      }
    }
  }
}

}  // namespace
