// write_safetensors -> SafetensorsFile::open round trips: every dtype, scalars, empty
// tensors, metadata, the header's 8-byte padding and the aligned layout; and the
// writer's refusals (bad names, byte counts that do not match the shape).
#include <cstring>
#include <limits>
#include <numeric>

#include <gtest/gtest.h>

#include "llm/safetensors/safetensors.h"
#include "src/input_error.h"
#include "tests/llm/safetensors/safetensors_test_files.h"
#include "tests/util/errors.h"

namespace disa::llm {
namespace {

using test::ScratchDir;

std::vector<std::byte> pattern(std::size_t n, unsigned seed) {
  std::vector<std::byte> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::byte>((i * 131 + seed * 17 + 7) & 0xFF);
  return out;
}

bool same_bytes(std::span<const std::byte> a, std::span<const std::byte> b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

TEST(safetensors_roundtrip, EveryDtypeScalarsAndEmptyTensors) {
  ScratchDir dir;
  std::vector<std::vector<std::byte>> storage;
  std::vector<TensorToWrite> tensors;
  unsigned seed = 0;
  for (Dtype d : kAllDtypes) {
    const std::string name(dtype_name(d));
    const std::vector<std::vector<std::int64_t>> shapes = {{2, 3}, {}, {0}, {4, 0, 2}};
    for (std::size_t s = 0; s < shapes.size(); ++s) {
      std::int64_t count = 1;
      for (auto x : shapes[s]) count *= x;
      storage.push_back(pattern(count * dtype_size(d), ++seed));
      tensors.push_back({name + ".shape" + std::to_string(s), d, shapes[s], storage.back()});
    }
  }
  const auto path = dir / "all.safetensors";
  write_safetensors(path, tensors, {{"format", "pt"}, {"note", "caf\xC3\xA9"}});

  const SafetensorsFile file = SafetensorsFile::open(path);
  ASSERT_EQ(file.tensors().size(), tensors.size());
  for (const TensorToWrite& t : tensors) {
    const TensorView* v = file.find(t.name);
    ASSERT_NE(v, nullptr) << t.name;
    EXPECT_EQ(v->name, t.name);
    EXPECT_EQ(v->dtype, t.dtype) << t.name;
    EXPECT_EQ(v->shape, t.shape) << t.name;
    EXPECT_TRUE(same_bytes(v->bytes, t.bytes)) << t.name;
  }
  EXPECT_EQ(file.metadata().at("format"), "pt");
  EXPECT_EQ(file.metadata().at("note"), "caf\xC3\xA9");
  EXPECT_EQ(file.find("absent"), nullptr);
  EXPECT_EQ(file.find("__metadata__"), nullptr);
}

TEST(safetensors_roundtrip, HeaderIsPaddedAndTensorsAreAligned) {
  // Odd-sized tensors of mixed element sizes: the layout must still align each one.
  std::vector<std::byte> a = pattern(3, 1), b = pattern(5 * 8, 2), c = pattern(3 * 2, 3);
  const std::vector<std::byte> bytes = serialize_safetensors(
      {{"a", Dtype::U8, {3}, a}, {"b", Dtype::F64, {5}, b}, {"c", Dtype::BF16, {3}, c}});
  const SafetensorsFile file = SafetensorsFile::parse(bytes);
  EXPECT_EQ(file.header_size() % 8, 0u);
  const std::string header(reinterpret_cast<const char*>(bytes.data()) + 8, file.header_size());
  EXPECT_EQ(header.front(), '{');
  EXPECT_EQ(header.find_last_not_of(' '), header.find_last_of('}'));  // only spaces after the object
  for (const TensorView& v : file.tensors()) {
    const std::size_t offset = v.bytes.data() - bytes.data();
    EXPECT_EQ(offset % dtype_size(v.dtype), 0u) << v.name << " at " << offset;
  }
  // Larger elements first, as the reference writer lays them out.
  ASSERT_EQ(file.tensors().size(), 3u);
  EXPECT_EQ(file.tensors()[0].name, "b");
  EXPECT_EQ(file.tensors()[1].name, "c");
  EXPECT_EQ(file.tensors()[2].name, "a");
}

TEST(safetensors_roundtrip, EmptyTensorWithHugeOtherDimensions) {
  // Zero elements however large the other dimensions: reader and writer must agree
  // (the writer once checked overflow before seeing the zero and refused it).
  const std::int64_t big = std::numeric_limits<std::int64_t>::max();
  const std::vector<std::int64_t> shape = {big, big, 0};
  const std::vector<std::byte> bytes = serialize_safetensors({{"e", Dtype::F64, shape, {}}});
  const SafetensorsFile file = SafetensorsFile::parse(bytes);
  ASSERT_NE(file.find("e"), nullptr);
  EXPECT_EQ(file.find("e")->shape, shape);
  EXPECT_TRUE(file.find("e")->bytes.empty());
}

TEST(safetensors_roundtrip, NoTensorsAtAll) {
  const std::vector<std::byte> bytes = serialize_safetensors({}, {{"k", "v"}});
  const SafetensorsFile file = SafetensorsFile::parse(bytes);
  EXPECT_TRUE(file.tensors().empty());
  EXPECT_EQ(file.metadata().size(), 1u);
}

TEST(safetensors_roundtrip, MoveKeepsViewsValid) {
  ScratchDir dir;
  std::vector<std::byte> a = pattern(64, 9);
  write_safetensors(dir / "m.safetensors", {{"a", Dtype::F32, {16}, a}});
  SafetensorsFile first = SafetensorsFile::open(dir / "m.safetensors");
  const TensorView* before = first.find("a");
  SafetensorsFile moved = std::move(first);
  EXPECT_EQ(moved.find("a"), before);  // the views live on the heap, not in the object
  SafetensorsFile assigned = SafetensorsFile::parse(serialize_safetensors({}));
  assigned = std::move(moved);
  ASSERT_NE(assigned.find("a"), nullptr);
  EXPECT_TRUE(same_bytes(assigned.find("a")->bytes, a));
}

TEST(safetensors_roundtrip, WriteIsAtomicAndLeavesNoTemporary) {
  ScratchDir dir;
  std::vector<std::byte> a = pattern(4, 1);
  const auto path = dir / "x.safetensors";
  write_safetensors(path, {{"a", Dtype::U8, {4}, a}});
  // A failing second write (bad byte count) must leave the first file intact.
  EXPECT_THROW(write_safetensors(path, {{"a", Dtype::F32, {4}, a}}), InputError);
  const SafetensorsFile file = SafetensorsFile::open(path);
  EXPECT_EQ(file.find("a")->dtype, Dtype::U8);
  std::size_t entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    ++entries;
    EXPECT_EQ(e.path().filename(), "x.safetensors");
  }
  EXPECT_EQ(entries, 1u);
}

TEST(safetensors_writer, RejectsBadInputNamingTheTensor) {
  std::vector<std::byte> four = pattern(4, 1);
  using test::contains_all;
  using test::input_error_message;
  EXPECT_TRUE(contains_all(input_error_message([&] {
    serialize_safetensors({{"w", Dtype::F32, {2}, four}});
  }), {"'w'", "needs 8 bytes", "4 were given"}));
  EXPECT_TRUE(contains_all(input_error_message([&] {
    serialize_safetensors({{"w", Dtype::U8, {4}, four}, {"w", Dtype::U8, {4}, four}});
  }), {"'w'", "appears twice"}));
  EXPECT_TRUE(contains_all(input_error_message([&] {
    serialize_safetensors({{"__metadata__", Dtype::U8, {4}, four}});
  }), {"__metadata__", "reserved"}));
  EXPECT_TRUE(contains_all(input_error_message([&] {
    serialize_safetensors({{"", Dtype::U8, {4}, four}});
  }), {"empty name"}));
  EXPECT_TRUE(contains_all(input_error_message([&] {
    serialize_safetensors({{"w", Dtype::U8, {-4}, four}});
  }), {"'w'", "shape[0] = -4", "negative"}));
  EXPECT_TRUE(contains_all(input_error_message([&] {
    serialize_safetensors({{"bad\xFF", Dtype::U8, {4}, four}});
  }), {"tensor name", "not valid UTF-8"}));
  EXPECT_TRUE(contains_all(input_error_message([&] {
    serialize_safetensors({{"w", Dtype::U8, {4}, four}}, {{"k", "\xC0"}});
  }), {"metadata value", "not valid UTF-8"}));
  // A header the reader would refuse (over its cap) is never written.
  EXPECT_TRUE(contains_all(input_error_message([&] {
    serialize_safetensors({}, {{"notes", std::string(kMaxSafetensorsHeaderBytes, 'x')}});
  }), {"above the cap of 100000000"}));
  EXPECT_TRUE(contains_all(input_error_message([&] {
    serialize_safetensors({{"w", Dtype::F64, {1LL << 40, 1LL << 40}, four}});
  }), {"'w'", "overflows"}));
}

}  // namespace
}  // namespace disa::llm
