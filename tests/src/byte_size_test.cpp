// Tests src/byte_size.h: byte_size picks B, KiB, MiB or GiB, so that a small memory budget
// (DISA_MAX_TREE_BYTES=1000) no longer reads "0.0 GiB".
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "src/byte_size.h"

namespace disa {
namespace {

TEST(ByteSize, WholeBytesBelowOneKiB) {
  EXPECT_EQ(byte_size(0), "0 B");
  EXPECT_EQ(byte_size(1), "1 B");
  EXPECT_EQ(byte_size(1000), "1000 B");
  EXPECT_EQ(byte_size(1023), "1023 B");
}

TEST(ByteSize, OneDecimalInTheLargestUnitAtLeastOne) {
  EXPECT_EQ(byte_size(1024), "1.0 KiB");
  EXPECT_EQ(byte_size(1536), "1.5 KiB");
  EXPECT_EQ(byte_size(100000), "97.7 KiB");
  EXPECT_EQ(byte_size(1 << 20), "1.0 MiB");
  EXPECT_EQ(byte_size(393620.0 * 1024), "384.4 MiB");
  EXPECT_EQ(byte_size(1 << 30), "1.0 GiB");
  EXPECT_EQ(byte_size(12.0 * (1 << 30)), "12.0 GiB");
}

TEST(ByteSize, GiBIsTheLargestUnit) {
  EXPECT_EQ(byte_size(1024.0 * (1 << 30)), "1024.0 GiB");
  EXPECT_EQ(byte_size(std::ldexp(1.0, 50)), "1048576.0 GiB");
}

// A value that would print as 1024 of a unit is printed as 1.0 of the next.
TEST(ByteSize, RoundingUpToTheNextUnitMovesToIt) {
  EXPECT_EQ(byte_size(1023.4), "1023 B");
  EXPECT_EQ(byte_size(1023.6), "1.0 KiB");
  EXPECT_EQ(byte_size(1023.94 * 1024), "1023.9 KiB");
  EXPECT_EQ(byte_size(1023.96 * 1024), "1.0 MiB");
  EXPECT_EQ(byte_size(1023.96 * (1 << 20)), "1.0 GiB");
}

TEST(ByteSize, NonFiniteAndNegativeValuesArePrintedAsBytes) {
  EXPECT_EQ(byte_size(-5), "-5 B");
  EXPECT_EQ(byte_size(std::numeric_limits<double>::infinity()), "inf B");
}

}  // namespace
}  // namespace disa
