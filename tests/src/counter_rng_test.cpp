// Tests src/counter_rng.h: Philox4x32-10 and CounterRng.
//
// Against: Random123's published known-answer vectors for Philox4x32-10
// (Salmon et al. SC'11; tests/kat_vectors of the Random123 distribution, also
// used by TensorFlow's stateful random tests), the documented contract of
// CounterRng (a pure function of (seed, stream, index), doubles in [0, 1) on a
// 2^-53 grid), and the first two moments of U(0, 1) and N(0, 1) within
// CLT-derived bounds.
#include <cmath>
#include <cstdint>
#include <set>

#include <gtest/gtest.h>

#include "src/counter_rng.h"

namespace disa {
namespace {

struct KnownAnswer {
  PhiloxBlock ctr;
  PhiloxKey key;
  PhiloxBlock expected;
};

constexpr KnownAnswer kKnownAnswers[] = {
    {{0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u},
     {0x00000000u, 0x00000000u},
     {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}},
    {{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
     {0xffffffffu, 0xffffffffu},
     {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}},
    // Counter and key are the leading hex digits of pi.
    {{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
     {0xa4093822u, 0x299f31d0u},
     {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}},
};

// philox4x32_10 is constexpr: the vectors are checked at compile time too.
static_assert(philox4x32_10(kKnownAnswers[0].ctr, kKnownAnswers[0].key) == kKnownAnswers[0].expected);
static_assert(philox4x32_10(kKnownAnswers[1].ctr, kKnownAnswers[1].key) == kKnownAnswers[1].expected);
static_assert(philox4x32_10(kKnownAnswers[2].ctr, kKnownAnswers[2].key) == kKnownAnswers[2].expected);

TEST(Philox4x32_10, Random123KnownAnswerVectors) {
  for (const KnownAnswer& k : kKnownAnswers) {
    const PhiloxBlock got = philox4x32_10(k.ctr, k.key);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(got[i], k.expected[i]) << "word " << i;
  }
}

TEST(CounterRng, UniformsLieInUnitIntervalOnA53BitGrid) {
  for (std::uint64_t seed : {0ull, 1ull, 0xffffffffffffffffull}) {
    for (std::uint64_t stream : {0ull, 7ull, 0x123456789abcdefull}) {
      const CounterRng rng(seed, stream);
      for (std::uint64_t i = 0; i < 20000; ++i) {
        for (double u : rng.uniform_pair(i)) {
          ASSERT_GE(u, 0.0);
          ASSERT_LT(u, 1.0);
          // "53 random bits": u * 2^53 is an integer (exact in double).
          const double scaled = u * 0x1.0p53;
          ASSERT_EQ(scaled, std::floor(scaled));
        }
      }
    }
  }
}

TEST(CounterRng, PureFunctionOfSeedStreamIndex) {
  const CounterRng a(42, 5), b(42, 5);
  for (std::uint64_t i : {0ull, 1ull, 1000ull, 0xffffffffull, 0x100000000ull}) {
    EXPECT_EQ(a.uniform(i), b.uniform(i));
    EXPECT_EQ(a.uniform_pair(i), CounterRng(42, 5).uniform_pair(i));
    EXPECT_EQ(a.normal(i), b.normal(i));
    // Querying out of order changes nothing: there is no state.
    EXPECT_EQ(a.uniform(i), a.uniform(i));
  }
}

// Distinct streams (and seeds, and indices above 2^32, which use the counter's
// high word) give distinct values. For 2000 draws of 53 bits the chance of any
// collision among truly independent values is ~ 2000^2 / 2^54 ~ 2e-10.
TEST(CounterRng, DifferentStreamsSeedsAndIndicesDiffer) {
  std::set<double> seen;
  for (std::uint64_t stream = 0; stream < 500; ++stream) seen.insert(CounterRng(9, stream).uniform(0));
  for (std::uint64_t seed = 0; seed < 500; ++seed) seen.insert(CounterRng(seed, 1u << 20).uniform(0));
  for (std::uint64_t i = 0; i < 500; ++i) seen.insert(CounterRng(9, 0).uniform(i + (1ull << 32)));
  // stream 2^32 differs from stream 0 only in the counter's third word's high half
  seen.insert(CounterRng(9, 1ull << 32).uniform(0));
  seen.insert(CounterRng(1ull << 32, 0).uniform(0));
  EXPECT_EQ(seen.size(), 1502u);
  const auto pair = CounterRng(3, 4).uniform_pair(5);
  EXPECT_NE(pair[0], pair[1]);
}

// Moments with N = 10^6 draws. Tolerance: 5 standard errors of the CLT
// (two-sided false-alarm probability 5.7e-7 for an ideal generator):
//   mean of U(0,1): sd = sqrt(1/12 / N);   mean of (U - 1/2)^2 (= 1/12): sd = sqrt(1/180 / N)
//     (Var[(U-1/2)^2] = E(U-1/2)^4 - 1/144 = 1/80 - 1/144 = 1/180);
//   mean of N(0,1): sd = 1/sqrt(N);        mean of Z^2 (= 1): sd = sqrt(2 / N).
TEST(CounterRng, MomentsOfUniformAndNormal) {
  constexpr int kN = 1000000;
  const CounterRng rng(20240531, 3);
  double su = 0.0, su2 = 0.0, sz = 0.0, sz2 = 0.0;
  for (int i = 0; i < kN; ++i) {
    const double u = rng.uniform(static_cast<std::uint64_t>(i));
    su += u;
    su2 += (u - 0.5) * (u - 0.5);
    const double z = rng.normal(static_cast<std::uint64_t>(i) + kN);
    sz += z;
    sz2 += z * z;
  }
  const double n = kN;
  EXPECT_NEAR(su / n, 0.5, 5.0 * std::sqrt(1.0 / 12.0 / n));
  EXPECT_NEAR(su2 / n, 1.0 / 12.0, 5.0 * std::sqrt(1.0 / 180.0 / n));
  EXPECT_NEAR(sz / n, 0.0, 5.0 * std::sqrt(1.0 / n));
  EXPECT_NEAR(sz2 / n, 1.0, 5.0 * std::sqrt(2.0 / n));
}

}  // namespace
}  // namespace disa
