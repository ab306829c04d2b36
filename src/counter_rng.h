// Counter-based random numbers: Philox4x32-10 (Salmon et al., "Parallel random
// numbers: as easy as 1, 2, 3", SC'11).
//
// A draw is a pure function of (seed, stream, index), so results never depend
// on how work is split across threads: trajectory i of a batch uses stream i
// and draw index t at step t. Checked against the Random123 known-answer vectors
// in tests/src/counter_rng_test.cpp.
#pragma once

#include <array>
#include <cstdint>

namespace disa {

using PhiloxBlock = std::array<std::uint32_t, 4>;
using PhiloxKey = std::array<std::uint32_t, 2>;

// One Philox4x32 block with 10 rounds.
constexpr PhiloxBlock philox4x32_10(PhiloxBlock ctr, PhiloxKey key) {
  constexpr std::uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr std::uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t p0 = std::uint64_t{kMul0} * ctr[0];
    const std::uint64_t p1 = std::uint64_t{kMul1} * ctr[2];
    ctr = {static_cast<std::uint32_t>(p1 >> 32) ^ ctr[1] ^ key[0], static_cast<std::uint32_t>(p1),
           static_cast<std::uint32_t>(p0 >> 32) ^ ctr[3] ^ key[1], static_cast<std::uint32_t>(p0)};
    key[0] += kWeyl0;
    key[1] += kWeyl1;
  }
  return ctr;
}

// SplitMix64's finaliser: derives a key for one purpose from a user's seed
// (splitmix64(seed ^ TAG)), so two consumers of the same seed never read the same
// Philox numbers.
constexpr std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Uniform doubles in [0, 1) with 53 random bits, addressed by (seed, stream, index).
class CounterRng {
 public:
  constexpr CounterRng(std::uint64_t seed, std::uint64_t stream)
      : key_{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)},
        stream_(stream) {}

  // Two independent uniforms from one Philox block.
  constexpr std::array<double, 2> uniform_pair(std::uint64_t index) const {
    const PhiloxBlock r = philox4x32_10(
        {static_cast<std::uint32_t>(index), static_cast<std::uint32_t>(index >> 32),
         static_cast<std::uint32_t>(stream_), static_cast<std::uint32_t>(stream_ >> 32)},
        key_);
    return {to_unit(r[0], r[1]), to_unit(r[2], r[3])};
  }

  constexpr double uniform(std::uint64_t index) const { return uniform_pair(index)[0]; }

  // Standard normal by Box-Muller on one block (used to draw logits).
  double normal(std::uint64_t index) const;

 private:
  static constexpr double to_unit(std::uint32_t hi, std::uint32_t lo) {
    const std::uint64_t bits = ((std::uint64_t{hi} << 32) | lo) >> 11;  // 53 bits
    return static_cast<double>(bits) * 0x1.0p-53;
  }

  PhiloxKey key_;
  std::uint64_t stream_;
};

}  // namespace disa
