// Tests src/json_strict.h: a key given twice in one object is refused, naming the key and
// its JSON pointer; the same key in different objects, valid documents and the caller's
// own invalid-JSON handling are unchanged.
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "src/json_strict.h"
#include "tests/util/errors.h"

namespace disa {
namespace {

using test::contains_all;
using test::input_error_message;

std::string strict_error(const std::string& text) {
  return input_error_message([&] { parse_json_strict(text, "in.json"); });
}

TEST(JsonStrict, ARepeatedTopLevelKeyIsNamed) {
  // nlohmann's default keeps the last: this batch would have log_z = [100], silently.
  EXPECT_EQ(strict_error(R"({"logp": [[-1]], "log_z": [0.5], "log_z": [100]})"),
            "in.json: /log_z: key \"log_z\" is given twice in one object");
}

TEST(JsonStrict, ThePointerWalksObjectsAndArrays) {
  EXPECT_EQ(strict_error(R"({"leaves": [{"path": [0], "reward": 1}, {"path": [1], "reward": 0, "reward": 1}]})"),
            "in.json: /leaves/1/reward: key \"reward\" is given twice in one object");
  // Elements before the repeat of every kind (number, string, null, list, object) count.
  EXPECT_EQ(strict_error(R"([1, "a", null, [2, {"x": 1}], {"y": {}}, {"z": [], "z": 2}])"),
            "in.json: /5/z: key \"z\" is given twice in one object");
  EXPECT_EQ(strict_error(R"({"a": {"b": [[], [{"c": 1, "d": 2, "c": 3}]]}})"),
            "in.json: /a/b/1/0/c: key \"c\" is given twice in one object");
}

TEST(JsonStrict, KeysAreEscapedInThePointerAndTheMessageStaysOneLine) {
  // RFC 6901: "~" is "~0", "/" is "~1"; a newline in a key is shown escaped.
  EXPECT_EQ(strict_error(R"({"a/b~": {"k\n": 1, "k\n": 2}})"),
            "in.json: /a~1b~0/k\\n: key \"k\\n\" is given twice in one object");
}

TEST(JsonStrict, AHugeKeyIsShownCut) {
  const std::string key(1000, 'k');
  const std::string shown = std::string(80, 'k') + "... (1000 bytes)";
  EXPECT_EQ(strict_error("{\"" + key + "\": 1, \"" + key + "\": 2}"),
            "in.json: /" + shown + ": key \"" + shown + "\" is given twice in one object");
}

TEST(JsonStrict, TheSameKeyInDifferentObjectsIsFine) {
  const nlohmann::json j = parse_json_strict(R"({"a": {"x": 1}, "b": {"x": 2}, "c": [{"x": 3}, {"x": 4}], "x": 5})",
                                             "in.json");
  EXPECT_EQ(j["c"][1]["x"], 4);
  EXPECT_EQ(j["x"], 5);
  // An equal string value, or a key spelled like another key's value, is no repeat.
  EXPECT_NO_THROW(parse_json_strict(R"({"a": "b", "b": "a", "l": ["a", "a"]})", "in.json"));
}

TEST(JsonStrict, OrderedAndStreamVariants) {
  const nlohmann::ordered_json o = parse_ordered_json_strict(R"({"z": 1, "a": 2})", "in.jsonl:3");
  EXPECT_EQ(o.begin().key(), "z");  // insertion order kept
  EXPECT_EQ(input_error_message([] { parse_ordered_json_strict(R"({"prompt": "p", "prompt": "q"})", "in.jsonl:3"); }),
            "in.jsonl:3: /prompt: key \"prompt\" is given twice in one object");
  std::istringstream in(R"({"beta": 3, "beta": 50})");
  EXPECT_TRUE(contains_all(input_error_message([&] { parse_json_strict(in, "c.json"); }),
                           {"c.json: /beta: key \"beta\" is given twice"}));
}

TEST(JsonStrict, ANulByteIsRefusedNotTakenForTheEnd) {
  // nlohmann's lexer ends the input at a raw NUL: the trailing duplicate would be unseen.
  const std::string text = std::string(R"({"a": 1})") + '\0' + R"(, "a": 2})";
  EXPECT_EQ(strict_error(text), "in.json: not valid JSON: a NUL byte at offset 8");
}

TEST(JsonStrict, InvalidJsonIsLeftToTheCaller) {
  // Each reader words "not JSON" its own way (and adds hints): nlohmann's exception passes through.
  EXPECT_THROW(parse_json_strict(R"({"a": )", "in.json"), nlohmann::json::parse_error);
  EXPECT_THROW(parse_json_strict(R"({"a": 1e400})", "in.json"), nlohmann::json::out_of_range);
  // A repeat before a syntax error later in the text is what is reported.
  EXPECT_TRUE(contains_all(strict_error(R"({"a": 1, "a": 2} trailing)"), {"/a: key \"a\" is given twice"}));
}

std::string nested(int depth, char open, char close, const std::string& inner = "") {
  std::string text;
  for (int i = 0; i < depth; ++i) text += open == '{' ? std::string("{\"a\":") : std::string(1, open);
  text += inner.empty() ? "1" : inner;
  return text + std::string(static_cast<std::size_t>(depth), close);
}

TEST(JsonStrict, DeepNestingIsRefusedBeforeAnythingRecursesOnIt) {
  // 60,000 levels crashed every reader: dump() in an error message, or an ordered_json
  // copy, recursed once per level and overflowed the stack.
  const std::string limit = "in.json: arrays and objects nested more than 512 levels deep";
  EXPECT_TRUE(contains_all(strict_error(std::string(100000, '[') + std::string(100000, ']')), {limit}));
  EXPECT_TRUE(contains_all(input_error_message([] { parse_ordered_json_strict(nested(100000, '{', '}'), "in.json"); }),
                           {limit}));
  // The limit itself: 512 levels parse (and dump), 513 do not; arrays and objects count alike.
  EXPECT_EQ(parse_json_strict(nested(kMaxJsonDepth, '[', ']'), "in.json").dump(), nested(kMaxJsonDepth, '[', ']'));
  EXPECT_TRUE(contains_all(strict_error(nested(kMaxJsonDepth + 1, '[', ']')), {limit}));
  EXPECT_TRUE(contains_all(strict_error(nested(kMaxJsonDepth / 2, '[', ']', nested(kMaxJsonDepth / 2 + 1, '{', '}'))),
                           {limit}));
  std::istringstream in(std::string(1000, '[') + std::string(1000, ']'));
  EXPECT_TRUE(
      contains_all(input_error_message([&] { parse_json_strict(in, "c.json"); }), {"c.json: arrays and objects"}));
}

TEST(JsonExcerpt, AValueIsShownCutToOneShortLine) {
  EXPECT_EQ(json_excerpt(nlohmann::json::parse(R"({"a":[1,2]})")), R"({"a":[1,2]})");
  EXPECT_EQ(json_excerpt(nlohmann::json("x")), "\"x\"");
  // 3 million elements were a 6 MB message.
  const nlohmann::json big(std::vector<int>(3000000, 1));
  const std::string shown = json_excerpt(big);
  EXPECT_EQ(shown.substr(0, 7), "[1,1,1,");
  EXPECT_TRUE(shown.ends_with("... (6000001 bytes)")) << shown;
  EXPECT_LT(shown.size(), 110u);
  // Ordered values alike; a cut never splits a UTF-8 character, and bad bytes show as U+FFFD.
  std::string e_acute;
  for (int i = 0; i < 60; ++i) e_acute += "\xC3\xA9";
  const std::string cut = json_excerpt(nlohmann::ordered_json(e_acute));
  EXPECT_EQ(invalid_utf8_offset(cut), std::string::npos) << cut;
  EXPECT_TRUE(cut.ends_with("... (122 bytes)")) << cut;
  EXPECT_EQ(json_excerpt(nlohmann::json(std::string("a\xFF"))), "\"a\xEF\xBF\xBD\"");
}

TEST(InvalidUtf8Offset, FindsTheFirstByteThatIsNotUtf8) {
  EXPECT_EQ(invalid_utf8_offset(""), std::string::npos);
  EXPECT_EQ(invalid_utf8_offset("plain ascii"), std::string::npos);
  EXPECT_EQ(invalid_utf8_offset("\xC3\xA9t\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"), std::string::npos);  // été € 😀
  EXPECT_EQ(invalid_utf8_offset("s\xFF.jsonl"), 1u);
  EXPECT_EQ(invalid_utf8_offset("lab\xFE"), 3u);
  EXPECT_EQ(invalid_utf8_offset("ab\xC3"), 2u);              // cut sequence
  EXPECT_EQ(invalid_utf8_offset("\xC0\xAF"), 0u);            // overlong '/'
  EXPECT_EQ(invalid_utf8_offset("x\xE0\x80\xAF"), 1u);       // overlong, 3 bytes
  EXPECT_EQ(invalid_utf8_offset("\xED\xA0\x80"), 0u);        // a UTF-16 surrogate
  EXPECT_EQ(invalid_utf8_offset("\xF4\x90\x80\x80"), 0u);    // above U+10FFFF
  EXPECT_EQ(invalid_utf8_offset("\xE2\x82"), 0u);            // truncated
  EXPECT_EQ(invalid_utf8_offset("\xE2\x28\xA1"), 0u);        // bad continuation
  // What nlohmann's dump() accepts and refuses, byte for byte, on these.
  for (const std::string text : {"ok \xC3\xA9", "s\xFF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xC0\xAF"}) {
    bool dumps = true;
    try {
      (void)nlohmann::json(text).dump();
    } catch (const nlohmann::json::type_error&) {
      dumps = false;
    }
    EXPECT_EQ(invalid_utf8_offset(text) == std::string::npos, dumps) << text;
  }
}

}  // namespace
}  // namespace disa
