// Tests the character-level tokenizer (llm/tokenizer/char_tokenizer.h): ids in the
// documented order, special tokens matched whole, round trips (RapidCheck), save and
// load through load_tokenizer(), and the errors for bad characters, ids and files.
#include "llm/tokenizer/char_tokenizer.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "llm/tokenizer/tokenizer.h"
#include "src/input_error.h"
#include "tests/util/errors.h"

namespace disa::llm {
namespace {

namespace fs = std::filesystem;
using disa::test::contains_all;
using disa::test::input_error_message;

const std::string kCharacters = "abc \n=é😀";  // 8 characters, some multi-byte

CharTokenizer small() {
  return CharTokenizer(kCharacters, {"<|im_start|>", "<|im_end|>", "<|endoftext|>"}, "<|im_end|>", "<|endoftext|>");
}

TEST(CharTokenizer, NumbersCharactersThenSpecialTokens) {
  const CharTokenizer t = small();
  EXPECT_EQ(t.vocab_size(), 11);
  const std::vector<std::int32_t> want = {8, 0, 5, 1, 6, 7, 4, 9, 10};
  EXPECT_EQ(t.encode("<|im_start|>a=bé😀\n<|im_end|><|endoftext|>"), want);
  EXPECT_EQ(t.token_to_id("😀"), 7);
  EXPECT_EQ(t.id_to_token(9), "<|im_end|>");
  EXPECT_EQ(t.id_to_token(11), std::nullopt);
  EXPECT_EQ(t.special_ids().eos, 9);
  EXPECT_EQ(t.special_ids().pad, 10);
  EXPECT_EQ(t.special_ids().im_start, 8);
  EXPECT_EQ(t.special_ids().im_end, 9);
}

RC_GTEST_PROP(CharTokenizer, DecodeOfEncodeIsTheText, (const std::vector<std::uint8_t>& picks)) {
  // Texts over the character set and the special tokens.
  const CharTokenizer t = small();
  std::string text;
  for (std::uint8_t p : picks) text += *t.id_to_token(p % t.vocab_size());
  const std::vector<std::int32_t> ids = t.encode(text);
  RC_ASSERT(t.decode(ids) == text);
  RC_ASSERT(ids.size() == picks.size());  // one id per character or special token
}

TEST(CharTokenizer, RejectsUnknownCharactersAndIds) {
  const CharTokenizer t = small();
  EXPECT_TRUE(
      contains_all(input_error_message([&] { t.encode("abXc"); }), {"'X'", "U+0058", "byte 2", "character set"}));
  EXPECT_TRUE(contains_all(input_error_message([&] { t.encode("<|im_end|>ä"); }), {"U+00E4", "byte 10"}));
  EXPECT_TRUE(contains_all(input_error_message([&] { t.decode(std::vector<std::int32_t>{0, 11}); }), {"token id 11"}));
  EXPECT_TRUE(contains_all(input_error_message([&] { t.decode(std::vector<std::int32_t>{-1}); }), {"token id -1"}));
}

TEST(CharTokenizer, RejectsBadConstructorArguments) {
  EXPECT_TRUE(contains_all(input_error_message([] { CharTokenizer("abca", {}); }), {"characters", "'a'", "twice"}));
  EXPECT_TRUE(contains_all(input_error_message([] { CharTokenizer("ab", {"a"}); }), {"special_tokens", "'a'"}));
  EXPECT_TRUE(contains_all(input_error_message([] { CharTokenizer("ab", {""}); }), {"special_tokens", "empty"}));
  EXPECT_TRUE(contains_all(input_error_message([] { CharTokenizer("ab", {"<s>"}, "</s>"); }), {"eos_token", "'</s>'"}));
  EXPECT_TRUE(contains_all(input_error_message([] { CharTokenizer("a\xFF", {}); }), {"characters", "UTF-8"}));
}

class CharTokenizerFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("disa_char_tokenizer_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& text) { std::ofstream(dir_ / "tokenizer.json") << text; }
  std::string load_error() {
    return input_error_message([&] { load_tokenizer(dir_); });
  }
  fs::path dir_;
};

TEST_F(CharTokenizerFile, SavesAndLoadsThroughLoadTokenizer) {
  const CharTokenizer saved = small();
  saved.save(dir_ / "tokenizer.json");
  EXPECT_FALSE(fs::exists(dir_ / ("tokenizer.json.tmp-" + std::to_string(::getpid()))));
  const std::unique_ptr<Tokenizer> loaded = load_tokenizer(dir_);  // the model folder
  ASSERT_NE(dynamic_cast<const CharTokenizer*>(loaded.get()), nullptr);
  EXPECT_EQ(loaded->vocab_size(), saved.vocab_size());
  for (std::int32_t id = 0; id < saved.vocab_size(); ++id) EXPECT_EQ(loaded->id_to_token(id), saved.id_to_token(id));
  const std::string text = "<|im_start|>a b\né😀=c<|im_end|>";
  EXPECT_EQ(loaded->encode(text), saved.encode(text));
  EXPECT_EQ(loaded->special_ids().eos, saved.special_ids().eos);
  EXPECT_EQ(loaded->special_ids().pad, saved.special_ids().pad);
  // The same file again: saving is deterministic.
  const std::unique_ptr<Tokenizer> again = load_tokenizer(dir_ / "tokenizer.json");
  EXPECT_EQ(dynamic_cast<const CharTokenizer&>(*again).to_json(), saved.to_json());
}

TEST_F(CharTokenizerFile, RejectsBadFilesNamingTheField) {
  write(R"({"model": {"type": "disa-char"}})");
  EXPECT_TRUE(contains_all(load_error(), {"tokenizer.json", "model.vocab", "missing"}));
  write(R"({"model": {"type": "disa-char", "vocab": {"a": 0, "bc": 1}}})");
  EXPECT_TRUE(contains_all(load_error(), {"model.vocab[\"bc\"]", "single character"}));
  write(R"({"model": {"type": "disa-char", "vocab": {"a": 0, "b": 2}}})");
  EXPECT_TRUE(contains_all(load_error(), {"model.vocab[\"b\"]", "0..1", "2"}));
  write(R"({"model": {"type": "disa-char", "vocab": {"a": 0, "b": 1}},
            "added_tokens": [{"id": 5, "content": "<e>", "special": true}]})");
  EXPECT_TRUE(contains_all(load_error(), {"added_tokens[0].id", "expected 2"}));
  write(R"({"model": {"type": "disa-char", "vocab": {"a": 0}, "eos_token": "<e>"}})");
  EXPECT_TRUE(contains_all(load_error(), {"tokenizer.json", "eos_token", "'<e>'"}));
  write(R"({"model": {"type": "Unigram", "vocab": []}})");
  EXPECT_TRUE(contains_all(load_error(), {"model.type", "'Unigram'", "BPE, disa-char"}));
  write(R"({"model": )");
  EXPECT_TRUE(contains_all(load_error(), {"tokenizer.json", "not valid JSON"}));
  fs::remove(dir_ / "tokenizer.json");
  EXPECT_TRUE(contains_all(load_error(), {"tokenizer.json", "no such file"}));
}

}  // namespace
}  // namespace disa::llm
