// Tests bench/bench_args.h: a benchmark flag is taken only under its exact name, its
// value must parse whole, and a bad value is rejected with the flag and the value named,
// so a typo stops the benchmark instead of silently timing another shape.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "bench/bench_args.h"

namespace disa::bench {
namespace {

// The message of the std::invalid_argument take_flag throws, or "" when it does not.
template <class T>
std::string rejection(const std::string& arg, const char* name) {
  T value{};
  try {
    take_flag(arg, name, &value);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(TakeFlag, TakesOnlyItsOwnName) {
  std::int64_t rows = 7;
  EXPECT_FALSE(take_flag("--rowsx=3", "--rows", &rows));
  EXPECT_FALSE(take_flag("--row=3", "--rows", &rows));
  EXPECT_FALSE(take_flag("--rows", "--rows", &rows));  // a switch, not this flag
  EXPECT_FALSE(take_flag("--benchmark_filter=rows", "--rows", &rows));
  EXPECT_EQ(rows, 7);
  EXPECT_TRUE(take_flag("--rows=16384", "--rows", &rows));
  EXPECT_EQ(rows, 16384);
}

TEST(TakeFlag, ParsesEachType) {
  double beta = 0;
  std::uint64_t seed = 0;
  int threads = 0;
  std::string path;
  std::vector<std::int64_t> batches{99};
  EXPECT_TRUE(take_flag("--beta=0.25", "--beta", &beta));
  EXPECT_EQ(beta, 0.25);
  EXPECT_TRUE(take_flag("--beta=1e-3", "--beta", &beta));
  EXPECT_EQ(beta, 1e-3);
  EXPECT_TRUE(take_flag("--seed=18446744073709551615", "--seed", &seed));
  EXPECT_EQ(seed, 18446744073709551615ull);
  EXPECT_TRUE(take_flag("--threads=-1", "--threads", &threads));
  EXPECT_EQ(threads, -1);  // the range is the benchmark's to check, not the parser's
  EXPECT_TRUE(take_flag("--tree=a=b.dtree", "--tree", &path));
  EXPECT_EQ(path, "a=b.dtree");
  EXPECT_TRUE(take_flag("--batches=1,8,64", "--batches", &batches));
  EXPECT_EQ(batches, (std::vector<std::int64_t>{1, 8, 64}));
}

TEST(TakeFlag, RejectsAValueThatDoesNotParseWholeNamingFlagAndValue) {
  EXPECT_EQ(rejection<std::int64_t>("--rows=12x", "--rows"), "--rows=12x: not an integer");
  EXPECT_EQ(rejection<std::int64_t>("--rows=", "--rows"), "--rows=: not an integer");
  EXPECT_EQ(rejection<std::int64_t>("--rows=1.5", "--rows"), "--rows=1.5: not an integer");
  EXPECT_EQ(rejection<std::int64_t>("--rows= 3", "--rows"), "--rows= 3: not an integer");
  EXPECT_EQ(rejection<int>("--reps=99999999999", "--reps"), "--reps=99999999999: out of range");
  EXPECT_EQ(rejection<std::uint64_t>("--seed=-1", "--seed"), "--seed=-1: not an integer");
  EXPECT_EQ(rejection<double>("--beta=one", "--beta"), "--beta=one: not a number");
  EXPECT_EQ(rejection<double>("--beta=1e999", "--beta"), "--beta=1e999: out of range");
  EXPECT_EQ(rejection<std::vector<std::int64_t>>("--batches=1,,8", "--batches"),
            "--batches=1,,8: element 2 (''): not an integer");
  EXPECT_EQ(rejection<std::vector<std::int64_t>>("--batches=1,8x", "--batches"),
            "--batches=1,8x: element 2 ('8x'): not an integer");
  EXPECT_EQ(rejection<std::int64_t>("--rows=12", "--rows"), "");
}

}  // namespace
}  // namespace disa::bench
