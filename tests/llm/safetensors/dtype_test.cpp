// The dtype table (llm/safetensors/dtype.h): sizes as the format defines them, names
// that parse back, and exact-case matching (the reader must not accept "f32").
#include "llm/safetensors/dtype.h"

#include <set>
#include <string>

#include <gtest/gtest.h>

namespace disa::llm {
namespace {

TEST(safetensors_dtype, SizesMatchTheFormat) {
  EXPECT_EQ(dtype_size(Dtype::F64), 8u);
  EXPECT_EQ(dtype_size(Dtype::I64), 8u);
  EXPECT_EQ(dtype_size(Dtype::U64), 8u);
  EXPECT_EQ(dtype_size(Dtype::F32), 4u);
  EXPECT_EQ(dtype_size(Dtype::I32), 4u);
  EXPECT_EQ(dtype_size(Dtype::U32), 4u);
  EXPECT_EQ(dtype_size(Dtype::F16), 2u);
  EXPECT_EQ(dtype_size(Dtype::BF16), 2u);
  EXPECT_EQ(dtype_size(Dtype::I16), 2u);
  EXPECT_EQ(dtype_size(Dtype::U16), 2u);
  EXPECT_EQ(dtype_size(Dtype::I8), 1u);
  EXPECT_EQ(dtype_size(Dtype::U8), 1u);
  EXPECT_EQ(dtype_size(Dtype::BOOL), 1u);
  EXPECT_EQ(dtype_size(Dtype::F8_E4M3), 1u);
  EXPECT_EQ(dtype_size(Dtype::F8_E5M2), 1u);
  EXPECT_EQ(dtype_size(Dtype::F8_E8M0), 1u);
}

TEST(safetensors_dtype, NamesAreDistinctAndParseBack) {
  std::set<std::string> names;
  for (Dtype d : kAllDtypes) {
    const std::string name(dtype_name(d));
    EXPECT_TRUE(names.insert(name).second) << name;
    ASSERT_TRUE(dtype_from_name(name).has_value()) << name;
    EXPECT_EQ(*dtype_from_name(name), d) << name;
  }
  EXPECT_EQ(dtype_name(Dtype::BF16), "BF16");
  EXPECT_EQ(dtype_name(Dtype::F8_E4M3), "F8_E4M3");
}

TEST(safetensors_dtype, UnknownAndWrongCaseNamesAreRejected) {
  EXPECT_FALSE(dtype_from_name("f32").has_value());
  EXPECT_FALSE(dtype_from_name("F4").has_value());  // sub-byte, deliberately unsupported
  EXPECT_FALSE(dtype_from_name("").has_value());
  EXPECT_FALSE(dtype_from_name("F32 ").has_value());
  EXPECT_FALSE(dtype_from_name("float32").has_value());
}

}  // namespace
}  // namespace disa::llm
