// Tests the byte-level BPE tokenizer (llm/tokenizer/bpe_tokenizer.h).
//
// Against: llama.cpp's reference ids for Qwen2 (../shared/data/tokenizer/llama.cpp-qwen2,
// the test-tokenizer-0 format), every case id for id, with Qwen3's tokenizer.json; and
// decode(encode(s)) == NFC(s) for those inputs and for random UTF-8 strings. Without
// ../shared: the same properties on a small tokenizer (mini_tokenizer.h), added and
// special tokens, and tokenizer.json files the loader must reject naming the field.
#include "llm/tokenizer/bpe_tokenizer.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "llm/tokenizer/utf8.h"
#include "src/input_error.h"
#include "tests/llm/tokenizer/mini_tokenizer.h"
#include "tests/llm/tokenizer/shared_tokenizer_data.h"
#include "tests/util/errors.h"

namespace disa::llm {
namespace {

namespace fs = std::filesystem;
using disa::test::contains_all;
using disa::test::input_error_message;
using nlohmann::json;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct ReferenceCase {
  std::string text;
  std::vector<std::int32_t> ids;
};

// llama.cpp's test-tokenizer-0 files: .inp holds each text followed by
// "\n__ggml_vocab_test__\n"; .out one line of space-separated ids per text.
std::vector<ReferenceCase> llama_cpp_cases(const fs::path& dir) {
  const std::string inp = read_file(dir / "ggml-vocab-qwen2.gguf.inp");
  const std::string marker = "\n__ggml_vocab_test__\n";
  std::vector<ReferenceCase> cases;
  for (std::size_t pos = 0; pos < inp.size();) {
    const std::size_t end = inp.find(marker, pos);
    EXPECT_NE(end, std::string::npos) << "the .inp file does not end with the marker";
    if (end == std::string::npos) break;
    cases.push_back({inp.substr(pos, end - pos), {}});
    pos = end + marker.size();
  }
  std::ifstream out(dir / "ggml-vocab-qwen2.gguf.out");
  std::string line;
  for (ReferenceCase& c : cases) {
    EXPECT_TRUE(std::getline(out, line)) << "the .out file has fewer lines than the .inp has texts";
    std::istringstream ids(line);
    for (std::int32_t id; ids >> id;) c.ids.push_back(id);
  }
  return cases;
}

std::string nfc(const std::string& s) { return utf8::normalize(s, utf8::NormalForm::kNFC); }

const ByteLevelBpeTokenizer& mini() {
  static const ByteLevelBpeTokenizer tokenizer(test::mini_tokenizer_json(), "mini/tokenizer.json");
  return tokenizer;
}

// ---------------------------------------------------------------------------------------
// The reference ids (../shared).

TEST(BpeTokenizerQwen, ReproducesEveryLlamaCppReferenceCase) {
  DISA_REQUIRE_SHARED_TOKENIZER_DIR(dir);
  const std::vector<ReferenceCase> cases = llama_cpp_cases(*dir / "llama.cpp-qwen2");
  ASSERT_EQ(cases.size(), 43u);
  const Tokenizer& qwen = test::qwen_tokenizer(*dir);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(qwen.encode(cases[i].text), cases[i].ids) << "case " << i << ": '" << cases[i].text << "'";
  }
}

TEST(BpeTokenizerQwen, DecodeOfEncodeIsTheNfcTextForTheReferenceInputs) {
  DISA_REQUIRE_SHARED_TOKENIZER_DIR(dir);
  const Tokenizer& qwen = test::qwen_tokenizer(*dir);
  for (const ReferenceCase& c : llama_cpp_cases(*dir / "llama.cpp-qwen2")) {
    EXPECT_EQ(qwen.decode(qwen.encode(c.text)), nfc(c.text)) << "'" << c.text << "'";
    EXPECT_EQ(qwen.decode(c.ids), nfc(c.text)) << "'" << c.text << "'";
  }
}

// Random code points as UTF-8 (surrogates, which are not characters, moved below them).
std::string utf8_of(const std::u32string& code_points) {
  std::string text;
  for (char32_t cp : code_points) {
    cp %= 0x110000;
    if (cp >= 0xD800 && cp <= 0xDFFF) cp -= 0x800;
    utf8::append(text, cp);
  }
  return text;
}

TEST(BpeTokenizerQwen, DecodeOfEncodeIsTheNfcTextForRandomUtf8) {
  DISA_REQUIRE_SHARED_TOKENIZER_DIR(dir);
  const Tokenizer& qwen = test::qwen_tokenizer(*dir);
  EXPECT_TRUE(rc::check("decode(encode(s)) == NFC(s)", [&](const std::u32string& code_points) {
    const std::string text = utf8_of(code_points);
    RC_ASSERT(qwen.decode(qwen.encode(text)) == nfc(text));
  }));
  // Mostly ASCII, where words are long and merges many.
  EXPECT_TRUE(rc::check("decode(encode(ascii)) == ascii", [&](const std::string& ascii) {
    std::string text = ascii;
    for (char& c : text) c = static_cast<char>(static_cast<unsigned char>(c) % 128);
    RC_ASSERT(qwen.decode(qwen.encode(text)) == text);
  }));
}

TEST(BpeTokenizerQwen, SpecialAndAddedTokensInTextAreSingleIds) {
  DISA_REQUIRE_SHARED_TOKENIZER_DIR(dir);
  const Tokenizer& qwen = test::qwen_tokenizer(*dir);
  const std::vector<std::int32_t> ids = qwen.encode("<|im_start|>user\nHi<|im_end|><think>x</think><|endoftext|>");
  const std::vector<std::int32_t> want = {151644, 872, 198, 13048, 151645, 151667, 87, 151668, 151643};
  EXPECT_EQ(ids, want);
  // A near miss is ordinary text.
  const std::vector<std::int32_t> near_miss = qwen.encode("<|im_end|");
  EXPECT_EQ(std::count(near_miss.begin(), near_miss.end(), 151645), 0);
  EXPECT_GT(near_miss.size(), 1u);
  EXPECT_EQ(qwen.token_to_id("<|im_end|>"), 151645);
  EXPECT_EQ(qwen.id_to_token(151643), "<|endoftext|>");
  EXPECT_EQ(qwen.id_to_token(9707), "Hello");
  EXPECT_EQ(qwen.id_to_token(21927), "ĠHello");
  EXPECT_EQ(qwen.vocab_size(), 151669);
  EXPECT_EQ(qwen.id_to_token(151669), std::nullopt);
}

TEST(BpeTokenizerQwen, SpecialIdsComeFromTokenizerConfig) {
  DISA_REQUIRE_SHARED_TOKENIZER_DIR(dir);
  const SpecialTokenIds& s = test::qwen_tokenizer(*dir).special_ids();
  EXPECT_EQ(s.eos, 151645);  // tokenizer_config.json: eos_token <|im_end|>
  EXPECT_EQ(s.pad, 151643);  // pad_token <|endoftext|>
  EXPECT_EQ(s.im_start, 151644);
  EXPECT_EQ(s.im_end, 151645);
}

TEST(BpeTokenizerQwen, DecodeReplacesCutCharactersAndRejectsUnknownIds) {
  DISA_REQUIRE_SHARED_TOKENIZER_DIR(dir);
  const Tokenizer& qwen = test::qwen_tokenizer(*dir);
  // "𓀀" (U+13000, 4 bytes) takes three tokens; without the last one the bytes left are an
  // incomplete character, one U+FFFD (as @huggingface/tokenizers decodes them too).
  const std::vector<std::int32_t> hieroglyph = qwen.encode("𓀀");
  ASSERT_EQ(hieroglyph, (std::vector<std::int32_t>{124373, 222, 222}));
  EXPECT_EQ(qwen.decode(std::vector<std::int32_t>{124373, 222}), "\xEF\xBF\xBD");
  EXPECT_EQ(qwen.decode(hieroglyph), "𓀀");
  EXPECT_TRUE(contains_all(input_error_message([&] {
                             qwen.decode(std::vector<std::int32_t>{1, 151669});
                           }),
                           {"token id 151669", "not in the vocabulary"}));
}

// ---------------------------------------------------------------------------------------
// The mini tokenizer (no ../shared).

TEST(BpeTokenizerMini, MergesByRankAndMapsSpecialTokens) {
  using enum test::MiniId;
  const std::vector<std::int32_t> hello_world = {kHello, kSpaceWorld};
  EXPECT_EQ(mini().encode("hello world"), hello_world);
  const std::vector<std::int32_t> chat = {test::kMiniImStart, kHe, 'y', test::kMiniImEnd, '\n'};
  EXPECT_EQ(mini().encode("<|im_start|>hey<|im_end|>\n"), chat);
  EXPECT_EQ(mini().encode(""), std::vector<std::int32_t>{});
  // One pre-token without the space: "or" and "ld" merge, "Ġw" cannot.
  const std::vector<std::int32_t> no_space = {'o', 'w', kOr, kLd};
  EXPECT_EQ(mini().encode("oworld"), no_space);
  EXPECT_EQ(mini().special_ids().eos, test::kMiniImEnd);  // no tokenizer_config.json: <|im_end|>
  EXPECT_EQ(mini().special_ids().pad, test::kMiniEndOfText);
}

TEST(BpeTokenizerMini, NormalisesToNfcBeforeTokenising) {
  // "e" + combining acute (NFD) becomes "é" (U+00E9, bytes C3 A9).
  const std::vector<std::int32_t> want = {0xC3, 0xA9};
  EXPECT_EQ(mini().encode("e\xCC\x81"), want);
  EXPECT_EQ(mini().decode(mini().encode("e\xCC\x81")), "\xC3\xA9");
}

RC_GTEST_PROP(BpeTokenizerMini, DecodeOfEncodeIsTheNfcText, (const std::u32string& code_points)) {
  const std::string text = utf8_of(code_points);
  RC_ASSERT(mini().decode(mini().encode(text)) == nfc(text));
}

TEST(BpeTokenizerMini, ByteLevelSplitsWithGpt2PatternAndAddsAPrefixSpace) {
  using enum test::MiniId;
  json j = test::mini_tokenizer_json();
  j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}};
  const ByteLevelBpeTokenizer t(j, "gpt2-style/tokenizer.json");
  EXPECT_EQ(t.encode("hello world"), (std::vector<std::int32_t>{' ', kHello, kSpaceWorld}));
  EXPECT_EQ(t.encode(" world"), (std::vector<std::int32_t>{kSpaceWorld}));  // already starts with a space
}

TEST(BpeTokenizerMini, IgnoreMergesTakesWholeWordsFromTheVocabulary) {
  json j = test::mini_tokenizer_json();
  j["model"]["vocab"]["owo"] = 400;  // no merge spells it
  EXPECT_EQ(ByteLevelBpeTokenizer(j, "a").encode("owo"), (std::vector<std::int32_t>{'o', 'w', 'o'}));
  j["model"]["ignore_merges"] = true;
  EXPECT_EQ(ByteLevelBpeTokenizer(j, "b").encode("owo"), (std::vector<std::int32_t>{400}));
}

TEST(BpeTokenizerMini, RejectsTextThatIsNotUtf8) {
  EXPECT_TRUE(
      contains_all(input_error_message([] { mini().encode("ok\xFFno"); }), {"text", "not valid UTF-8", "byte 2"}));
}

// ---------------------------------------------------------------------------------------
// Bad tokenizer.json files: rejected naming the field.

std::string load_error(const json& j) {
  return input_error_message([&] { ByteLevelBpeTokenizer t(j, "bad/tokenizer.json"); });
}

TEST(BpeTokenizerJson, RejectsAMissingVocab) {
  json j = test::mini_tokenizer_json();
  j["model"].erase("vocab");
  EXPECT_TRUE(contains_all(load_error(j), {"bad/tokenizer.json", "model.vocab", "missing"}));
}

TEST(BpeTokenizerJson, RejectsAMergeNamingAnUnknownToken) {
  json j = test::mini_tokenizer_json();
  j["model"]["merges"].push_back("x zzz");
  EXPECT_TRUE(contains_all(load_error(j), {"model.merges[9]", "'zzz'", "not in model.vocab"}));
  j = test::mini_tokenizer_json();
  j["model"]["merges"].push_back(json::array({"q", "q"}));  // "qq" is no token
  EXPECT_TRUE(contains_all(load_error(j), {"model.merges[9]", "'qq'"}));
}

TEST(BpeTokenizerJson, RejectsMalformedMerges) {
  json j = test::mini_tokenizer_json();
  j["model"]["merges"][0] = "h e x";
  EXPECT_TRUE(contains_all(load_error(j), {"model.merges[0]", "one space", "h e x"}));
  j["model"]["merges"][0] = 7;
  EXPECT_TRUE(contains_all(load_error(j), {"model.merges[0]", "7"}));
}

TEST(BpeTokenizerJson, AcceptsLegacyStringMerges) {
  json j = test::mini_tokenizer_json();
  for (json& m : j["model"]["merges"]) m = m[0].get<std::string>() + " " + m[1].get<std::string>();
  const ByteLevelBpeTokenizer t(j, "legacy/tokenizer.json");
  EXPECT_EQ(t.encode("hello world"), mini().encode("hello world"));
}

TEST(BpeTokenizerJson, RejectsUnknownModelAndComponentTypes) {
  json j = test::mini_tokenizer_json();
  j["model"]["type"] = "WordPiece";
  EXPECT_TRUE(contains_all(load_error(j), {"model.type", "'WordPiece'"}));
  j = test::mini_tokenizer_json();
  j["normalizer"] = {{"type", "Lowercase"}};
  EXPECT_TRUE(contains_all(load_error(j), {"normalizer.type", "'Lowercase'"}));
  j = test::mini_tokenizer_json();
  j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "MergedWithNext";
  EXPECT_TRUE(contains_all(load_error(j), {"pre_tokenizer.pretokenizers[0].behavior", "'MergedWithNext'"}));
  j = test::mini_tokenizer_json();
  j["pre_tokenizer"] = {{"type", "Whitespace"}};
  EXPECT_TRUE(contains_all(load_error(j), {"pre_tokenizer.type", "'Whitespace'"}));
  j = test::mini_tokenizer_json();
  j["pre_tokenizer"] = nullptr;
  EXPECT_TRUE(contains_all(load_error(j), {"pre_tokenizer", "no ByteLevel step"}));
  j = test::mini_tokenizer_json();
  j["post_processor"] = {{"type", "TemplateProcessing"}};
  EXPECT_TRUE(contains_all(load_error(j), {"post_processor.type", "'TemplateProcessing'"}));
}

TEST(BpeTokenizerJson, RejectsBadVocabAndAddedTokens) {
  json j = test::mini_tokenizer_json();
  j["model"]["vocab"].erase("Ġ");
  EXPECT_TRUE(contains_all(load_error(j), {"model.vocab", "'Ġ'", "byte 0x20"}));
  j = test::mini_tokenizer_json();
  j["model"]["vocab"]["x"] = -3;
  EXPECT_TRUE(contains_all(load_error(j), {"model.vocab[\"x\"]", "-3"}));
  j = test::mini_tokenizer_json();
  j["model"]["vocab"]["hey"] = 5;
  EXPECT_TRUE(contains_all(load_error(j), {"model.vocab", "id 5", "'hey'"}));
  j = test::mini_tokenizer_json();
  j["added_tokens"][1].erase("content");
  EXPECT_TRUE(contains_all(load_error(j), {"added_tokens[1].content", "missing"}));
  j = test::mini_tokenizer_json();
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(?i:[a-z])";
  EXPECT_TRUE(contains_all(load_error(j), {"pre_tokenizer.pretokenizers[0].pattern.Regex", "(?i:"}));
  j = test::mini_tokenizer_json();
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(unclosed";
  EXPECT_TRUE(contains_all(load_error(j), {"pre_tokenizer.pretokenizers[0].pattern.Regex", "does not compile"}));
}

// An added token that contradicts the vocabulary or another added token was taken: id 97
// ("a") given to "<evil>" encoded "a" as 97 and decoded 97 as "<evil>"; "<|im_end|>" listed
// at 301 and 306 encoded as 301 while special_ids().eos was 306.
TEST(BpeTokenizerJson, RejectsAddedTokensThatContradictTheVocabularyOrEachOther) {
  const json mini_json = test::mini_tokenizer_json();
  const auto with_added = [&](std::int64_t id, const std::string& content) {
    json j = mini_json;
    j["added_tokens"].push_back({{"id", id}, {"content", content}, {"normalized", false}, {"special", true}});
    return j;
  };
  EXPECT_TRUE(contains_all(load_error(with_added(97, "<evil>")), {"bad/tokenizer.json", "added_tokens[3].id",
                                                                  "id 97 of '<evil>' is already 'a' in model.vocab"}));
  EXPECT_TRUE(contains_all(load_error(with_added(test::kMiniImEnd, "<other>")),
                           {"added_tokens[3].id", "id 301 of '<other>' is already '<|im_end|>' in added_tokens[1]"}));
  EXPECT_TRUE(contains_all(load_error(with_added(306, "<|im_end|>")),
                           {"added_tokens[3].content", "'<|im_end|>' (id 306) already has id 301 in added_tokens[1]"}));
  EXPECT_TRUE(contains_all(load_error(with_added(303, "hello")),
                           {"added_tokens[3].content", "'hello' (id 303) already has id 259 in model.vocab"}));
  // Control bytes in a content are escaped, not printed.
  EXPECT_TRUE(contains_all(load_error(with_added(97, "<\x1b[31m>")), {"added_tokens[3].id", "'<\\x1B[31m>'"}));

  // A repeat of a vocabulary entry (GPT-2 lists <|endoftext|> in both) or of an added
  // token, same id and same text, is the same token.
  const ByteLevelBpeTokenizer repeats(with_added(test::kHello, "hello"), "repeats/tokenizer.json");
  EXPECT_EQ(repeats.encode("hello"), (std::vector<std::int32_t>{test::kHello}));
  EXPECT_EQ(repeats.decode(std::vector<std::int32_t>{test::kHello}), "hello");
  json twice = with_added(test::kMiniImEnd, "<|im_end|>");
  const ByteLevelBpeTokenizer repeated(twice, "repeated/tokenizer.json");
  EXPECT_EQ(repeated.encode("a<|im_end|>"), (std::vector<std::int32_t>{'a', test::kMiniImEnd}));
  EXPECT_EQ(repeated.special_ids().eos, test::kMiniImEnd);
}

// Ids index dense tables, so an id far beyond the file's tokens is refused by name rather
// than allocated: 2^31 - 1 overflowed `id + 1`, 1.5e9 threw bad_alloc, 1e8 took 6 GB.
TEST(BpeTokenizerJson, RejectsIdsFarBeyondTheFilesTokens) {
  const json mini_json = test::mini_tokenizer_json();
  for (const std::int64_t id : {std::int64_t{INT32_MAX}, std::int64_t{1'500'000'000}, std::int64_t{100'000'000}}) {
    json j = mini_json;
    j["added_tokens"][2]["id"] = id;
    EXPECT_TRUE(
        contains_all(load_error(j), {"bad/tokenizer.json", "added_tokens[2].id", std::to_string(id), "too large"}));
    j = mini_json;
    j["model"]["vocab"]["hey"] = id;
    EXPECT_TRUE(contains_all(load_error(j), {"model.vocab[\"hey\"]", std::to_string(id), "too large"}));
  }
  // The bound: the file's vocabulary entries and added tokens (265 + 3) + 65536 spare ids.
  const std::int64_t limit = 265 + 3 + 65536;
  ASSERT_EQ(mini_json["model"]["vocab"].size(), 265u);
  json j = mini_json;
  j["added_tokens"][2]["id"] = limit;
  EXPECT_TRUE(contains_all(load_error(j), {"added_tokens[2].id", std::to_string(limit), "below 65804"}));
  // A gap below the bound is a tokenizer like any other.
  j["added_tokens"][2]["id"] = limit - 1;
  const ByteLevelBpeTokenizer gap(j, "gap/tokenizer.json");
  EXPECT_EQ(gap.encode("hello<|endoftext|>"),
            (std::vector<std::int32_t>{test::kHello, static_cast<std::int32_t>(limit - 1)}));
  EXPECT_EQ(gap.vocab_size(), limit);
  EXPECT_EQ(gap.id_to_token(400), std::nullopt);
}

}  // namespace
}  // namespace disa::llm
