// A model folder's weights (llm/safetensors/model_weights.h): one file or a sharded
// index, and every way an index can disagree with its shards.
#include "llm/safetensors/model_weights.h"

#include <fstream>

#include <gtest/gtest.h>

#include "src/input_error.h"
#include "tests/llm/safetensors/safetensors_test_files.h"
#include "tests/util/errors.h"

namespace disa::llm {
namespace {

using test::contains_all;
using test::input_error_message;
using test::ScratchDir;

const std::vector<std::byte> kFour = {std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
const std::vector<std::byte> kEight(8, std::byte{9});

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

// Two shards: a+b in shard 1, c in shard 2, and an index listing exactly that.
void write_two_shards(const ScratchDir& dir) {
  write_safetensors(dir / "model-00001-of-00002.safetensors",
                    {{"a", Dtype::U8, {4}, kFour}, {"b", Dtype::F32, {2}, kEight}});
  write_safetensors(dir / "model-00002-of-00002.safetensors", {{"c", Dtype::I64, {1}, kEight}});
  write_text(dir / "model.safetensors.index.json",
             R"({"metadata": {"total_size": 20}, "weight_map": {
                  "a": "model-00001-of-00002.safetensors",
                  "b": "model-00001-of-00002.safetensors",
                  "c": "model-00002-of-00002.safetensors"}})");
}

TEST(safetensors_model_weights, SingleFileFolder) {
  ScratchDir dir;
  write_safetensors(dir / "model.safetensors", {{"a", Dtype::U8, {4}, kFour}});
  for (const auto& path : {dir.path(), dir / "model.safetensors"}) {
    const ModelWeights w = open_model_weights(path);
    ASSERT_EQ(w.tensors.size(), 1u);
    EXPECT_EQ(w.tensors.at("a")->shape, std::vector<std::int64_t>{4});
    EXPECT_EQ(w.files.size(), 1u);
  }
}

TEST(safetensors_model_weights, TwoShardsLoadThroughFolderOrIndex) {
  ScratchDir dir;
  write_two_shards(dir);
  for (const auto& path : {dir.path(), dir / "model.safetensors.index.json"}) {
    const ModelWeights w = open_model_weights(path);
    ASSERT_EQ(w.tensors.size(), 3u);
    EXPECT_EQ(w.shards.size(), 2u);
    EXPECT_EQ(w.tensors.at("a")->bytes[3], std::byte{4});
    EXPECT_EQ(w.tensors.at("b")->dtype, Dtype::F32);
    EXPECT_EQ(w.tensors.at("c")->dtype, Dtype::I64);
    EXPECT_EQ(w.files[1].filename(), "model-00002-of-00002.safetensors");
  }
}

TEST(safetensors_model_weights, ViewsSurviveMovingTheWeights) {
  ScratchDir dir;
  write_two_shards(dir);
  ModelWeights w = open_model_weights(dir.path());
  ModelWeights moved = std::move(w);
  EXPECT_EQ(moved.tensors.at("c")->bytes.size(), 8u);
  EXPECT_EQ(moved.tensors.at("c")->bytes[0], std::byte{9});
}

TEST(safetensors_model_weights, MissingShardIsRejected) {
  ScratchDir dir;
  write_two_shards(dir);
  std::filesystem::remove(dir / "model-00002-of-00002.safetensors");
  EXPECT_TRUE(contains_all(input_error_message([&] { open_model_weights(dir.path()); }),
                           {"model.safetensors.index.json", "shard 'model-00002-of-00002.safetensors'",
                            "does not exist"}));
}

TEST(safetensors_model_weights, NameInTwoShardsIsRejected) {
  ScratchDir dir;
  write_two_shards(dir);
  write_safetensors(dir / "model-00002-of-00002.safetensors",
                    {{"c", Dtype::I64, {1}, kEight}, {"a", Dtype::U8, {4}, kFour}});
  EXPECT_TRUE(contains_all(input_error_message([&] { open_model_weights(dir.path()); }),
                           {"tensor 'a' is in two shards", "model-00001-of-00002.safetensors",
                            "model-00002-of-00002.safetensors"}));
}

TEST(safetensors_model_weights, IndexAndShardsMustAgree) {
  ScratchDir dir;
  write_two_shards(dir);
  const auto index = dir / "model.safetensors.index.json";
  // A tensor listed for a shard that does not hold it.
  write_text(index, R"({"weight_map": {"a": "model-00001-of-00002.safetensors",
      "b": "model-00001-of-00002.safetensors", "c": "model-00002-of-00002.safetensors",
      "d": "model-00002-of-00002.safetensors"}})");
  EXPECT_TRUE(contains_all(input_error_message([&] { open_model_weights(index); }),
                           {"tensor 'd' is listed in weight_map", "does not hold it"}));
  // A tensor in a shard but not listed.
  write_text(index, R"({"weight_map": {"a": "model-00001-of-00002.safetensors",
      "c": "model-00002-of-00002.safetensors"}})");
  EXPECT_TRUE(contains_all(input_error_message([&] { open_model_weights(index); }),
                           {"tensor 'b'", "is not listed in weight_map"}));
  // A tensor listed under the wrong shard.
  write_text(index, R"({"weight_map": {"a": "model-00001-of-00002.safetensors",
      "b": "model-00001-of-00002.safetensors", "c": "model-00001-of-00002.safetensors",
      "x": "model-00002-of-00002.safetensors"}})");
  EXPECT_TRUE(contains_all(input_error_message([&] { open_model_weights(index); }),
                           {"tensor 'c' is in shard 'model-00002-of-00002.safetensors'",
                            "weight_map says 'model-00001-of-00002.safetensors'"}));
  // The same name twice in weight_map (JSON duplicates are not silently merged).
  write_text(index, R"({"weight_map": {"a": "model-00001-of-00002.safetensors",
      "a": "model-00002-of-00002.safetensors"}})");
  EXPECT_TRUE(contains_all(input_error_message([&] { open_model_weights(index); }),
                           {"/weight_map/a: key \"a\" is given twice in one object"}));
}

TEST(safetensors_model_weights, HostileIndexFiles) {
  ScratchDir dir;
  write_two_shards(dir);
  const auto index = dir / "model.safetensors.index.json";
  write_text(index, R"({"weight_map": {"a": "../outside.safetensors"}})");
  EXPECT_TRUE(contains_all(input_error_message([&] { open_model_weights(index); }),
                           {"weight_map['a']", "'../outside.safetensors' is not a plain file name"}));
  write_text(index, R"({"weight_map": {"a": 3}})");
  EXPECT_TRUE(contains_all(input_error_message([&] { open_model_weights(index); }),
                           {"weight_map['a'] must be a file name", "number"}));
  write_text(index, R"({"metadata": {}})");
  EXPECT_TRUE(contains_all(input_error_message([&] { open_model_weights(index); }),
                           {"missing field \"weight_map\""}));
  write_text(index, R"({"weight_map": {}})");
  EXPECT_TRUE(contains_all(input_error_message([&] { open_model_weights(index); }),
                           {"weight_map is empty"}));
  write_text(index, std::string(R"({"weight_map": {"a": "model-00001-of-00002.safetensors"}})") + std::string(1, '\0') +
                        R"(,"weight_map": {"a": "../x"}} junk)");
  EXPECT_TRUE(contains_all(input_error_message([&] { open_model_weights(index); }),
                           {"not valid JSON: a NUL byte at offset 57"}));
  write_text(index, R"({"weight_map": )");
  EXPECT_TRUE(contains_all(input_error_message([&] { open_model_weights(index); }),
                           {"model.safetensors.index.json", "not valid JSON"}));
  // A corrupt shard is reported with the shard's own path.
  write_two_shards(dir);
  test::write_bytes(dir / "model-00002-of-00002.safetensors", test::raw_file("{}", "junk"));
  EXPECT_TRUE(contains_all(input_error_message([&] { open_model_weights(index); }),
                           {"model-00002-of-00002.safetensors", "trailing bytes"}));
}

TEST(safetensors_model_weights, FolderWithoutWeights) {
  ScratchDir dir;
  EXPECT_TRUE(contains_all(input_error_message([&] { open_model_weights(dir.path()); }),
                           {"has neither model.safetensors nor model.safetensors.index.json"}));
  EXPECT_TRUE(contains_all(input_error_message([&] { open_model_weights(dir / "missing.safetensors"); }),
                           {"missing.safetensors", "does not exist"}));
}

}  // namespace
}  // namespace disa::llm
