// The LibTorch glue (llm/safetensors/safetensors_torch.h): bit-identical round trips,
// strided/non-contiguous inputs, sharded loading, and dtypes LibTorch 1.13 lacks.
#include "llm/safetensors/safetensors_torch.h"

#include <cstring>

#include <gtest/gtest.h>

#include "src/input_error.h"
#include "tests/llm/safetensors/safetensors_test_files.h"
#include "tests/util/errors.h"

namespace disa::llm {
namespace {

using test::contains_all;
using test::input_error_message;
using test::ScratchDir;

bool bit_identical(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || !a.sizes().equals(b.sizes())) return false;
  const torch::Tensor ca = a.contiguous(), cb = b.contiguous();
  return std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.numel() * ca.element_size()) == 0;
}

TEST(safetensors_torch, RoundTripIsBitIdentical) {
  ScratchDir dir;
  torch::manual_seed(7);
  std::map<std::string, torch::Tensor> tensors;
  tensors["f32"] = torch::randn({3, 5});
  tensors["f32"][0][0] = std::numeric_limits<float>::quiet_NaN();
  tensors["f32"][0][1] = -0.0f;
  tensors["bf16"] = torch::randn({4, 2}).to(torch::kBFloat16);
  tensors["i64"] = torch::tensor({std::numeric_limits<std::int64_t>::min(), std::int64_t{0},
                                  std::numeric_limits<std::int64_t>::max()});
  tensors["f16"] = torch::randn({2}).to(torch::kFloat16);
  tensors["f64"] = torch::randn({2, 2}, torch::kFloat64);
  tensors["i32"] = torch::arange(6, torch::kInt32).reshape({2, 3});
  tensors["i16"] = torch::arange(3, torch::kInt16);
  tensors["i8"] = torch::arange(-3, 3, torch::kInt8);
  tensors["u8"] = torch::arange(250, 256, torch::kInt32).to(torch::kUInt8);
  tensors["bool"] = torch::tensor({true, false, true});
  tensors["scalar"] = torch::tensor(3.5f);
  tensors["empty"] = torch::empty({0, 4});
  save_safetensors(dir / "t.safetensors", tensors, {{"format", "pt"}});

  const auto loaded = load_safetensors(dir / "t.safetensors");
  ASSERT_EQ(loaded.size(), tensors.size());
  for (const auto& [name, t] : tensors) {
    ASSERT_TRUE(loaded.count(name)) << name;
    EXPECT_TRUE(bit_identical(loaded.at(name), t)) << name;
  }
  EXPECT_EQ(SafetensorsFile::open(dir / "t.safetensors").metadata().at("format"), "pt");
}

TEST(safetensors_torch, NonContiguousInputIsSavedAsItsValues) {
  ScratchDir dir;
  const torch::Tensor base = torch::arange(12, torch::kFloat32).reshape({3, 4});
  const torch::Tensor transposed = base.t();  // strides (1, 4)
  ASSERT_FALSE(transposed.is_contiguous());
  save_safetensors(dir / "t.safetensors", {{"t", transposed}});
  const auto loaded = load_safetensors(dir / "t.safetensors");
  EXPECT_TRUE(torch::equal(loaded.at("t"), transposed));
  EXPECT_EQ(loaded.at("t").sizes(), (std::vector<std::int64_t>{4, 3}));
}

TEST(safetensors_torch, LoadsTwoShards) {
  ScratchDir dir;
  const torch::Tensor a = torch::randn({2, 3}).to(torch::kBFloat16), b = torch::arange(5);
  save_safetensors(dir / "model-00001-of-00002.safetensors", {{"a", a}});
  save_safetensors(dir / "model-00002-of-00002.safetensors", {{"b", b}});
  std::ofstream(dir / "model.safetensors.index.json")
      << R"({"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}})";
  const auto loaded = load_safetensors(dir.path());
  ASSERT_EQ(loaded.size(), 2u);
  EXPECT_TRUE(bit_identical(loaded.at("a"), a));
  EXPECT_TRUE(bit_identical(loaded.at("b"), b));
}

TEST(safetensors_torch, UnsupportedDtypesNameTheTensor) {
  const std::vector<std::byte> one(1);
  const auto bytes = serialize_safetensors({{"fp8", Dtype::F8_E4M3, {1}, one}});
  const SafetensorsFile file = SafetensorsFile::parse(bytes);
  EXPECT_TRUE(contains_all(input_error_message([&] { to_tensor(*file.find("fp8")); }),
                           {"tensor 'fp8'", "F8_E4M3", "no LibTorch"}));
  EXPECT_TRUE(contains_all(
      input_error_message([] { save_safetensors("/nonexistent/x", {{"c", torch::zeros({1}, torch::kComplexFloat)}}); }),
      {"tensor 'c'", "cannot store"}));
}

TEST(safetensors_torch, EmptyTensorWithHugeDimensionsGivesATensorOrAnInputError) {
  // Valid safetensors (zero elements), but the other dimensions overflow int64 together.
  const std::int64_t big = std::numeric_limits<std::int64_t>::max();
  const auto bytes = serialize_safetensors({{"e", Dtype::F32, {big, big, 0}, {}}});
  const SafetensorsFile file = SafetensorsFile::parse(bytes);
  try {
    const torch::Tensor t = to_tensor(*file.find("e"));
    EXPECT_EQ(t.numel(), 0);
  } catch (const InputError& e) {
    EXPECT_TRUE(contains_all(e.what(), {"tensor 'e'", "LibTorch cannot create"}));
  }
}

TEST(safetensors_torch, NonCanonicalBoolBytesAreRejected) {
  const std::vector<std::byte> two = {std::byte{1}, std::byte{2}};
  const SafetensorsFile file = SafetensorsFile::parse(serialize_safetensors({{"m", Dtype::BOOL, {2}, two}}));
  EXPECT_TRUE(contains_all(input_error_message([&] { to_tensor(*file.find("m")); }),
                           {"tensor 'm'", "BOOL element 1 has byte value 2"}));
}

TEST(safetensors_torch, ToTensorCopiesTheBytes) {
  std::vector<std::byte> data(8, std::byte{0});
  auto bytes = serialize_safetensors({{"x", Dtype::F32, {2}, data}});
  const SafetensorsFile file = SafetensorsFile::parse(bytes);
  const torch::Tensor t = to_tensor(*file.find("x"));
  std::fill(bytes.begin(), bytes.end(), std::byte{0xFF});  // the view's memory changes ...
  EXPECT_EQ(t.sum().item<float>(), 0.0f);                   // ... the tensor does not
}

}  // namespace
}  // namespace disa::llm
