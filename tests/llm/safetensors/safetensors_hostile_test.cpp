// Corrupted and hostile safetensors files: each must be an InputError whose message
// names the file (or buffer), the tensor and field at fault and the values involved.
// The headers are written by hand so each test breaks exactly one rule.
#include <gtest/gtest.h>

#include "llm/safetensors/safetensors.h"
#include "src/input_error.h"
#include "tests/llm/safetensors/safetensors_test_files.h"
#include "tests/util/errors.h"

namespace disa::llm {
namespace {

using test::contains_all;
using test::raw_file;

std::string parse_error(const std::vector<std::byte>& file) {
  return test::input_error_message([&] { SafetensorsFile::parse(file); });
}
std::string parse_error(const std::string& header, const std::string& data = "") {
  return parse_error(raw_file(header, data));
}

// One well-formed tensor entry.
std::string entry(const std::string& name, const std::string& dtype, const std::string& shape,
                  const std::string& offsets) {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape +
         ",\"data_offsets\":" + offsets + "}";
}

TEST(safetensors_hostile, AWellFormedControlCaseParses) {
  // The same builders as the cases below, unbroken: so a rejection there is the break's doing.
  const auto file = SafetensorsFile::parse(
      raw_file(std::string("{") + entry("a", "U8", "[2]", "[0,2]") + "," + entry("b", "I16", "[1]", "[2,4]") +
                   ",\"__metadata__\":{\"k\":\"v\"}}   ",
               "abcd"));
  ASSERT_EQ(file.tensors().size(), 2u);
  EXPECT_EQ(file.find("b")->bytes.size(), 2u);
  EXPECT_EQ(file.metadata().at("k"), "v");
}

TEST(safetensors_hostile, LengthField) {
  EXPECT_TRUE(contains_all(parse_error(std::vector<std::byte>(5)),
                           {"safetensors buffer", "5 bytes", "shorter than the 8-byte"}));
  EXPECT_TRUE(contains_all(parse_error(std::vector<std::byte>{}), {"0 bytes", "shorter"}));
  EXPECT_TRUE(contains_all(parse_error(raw_file("{}", "", 0)), {"header length is 0"}));
  EXPECT_TRUE(contains_all(parse_error(raw_file("{}", "", 1ULL << 63)),
                           {"header length 9223372036854775808", "exceeds the cap of 100000000"}));
  EXPECT_TRUE(contains_all(parse_error(raw_file("{}", "", 100'000'001)), {"exceeds the cap"}));
  EXPECT_TRUE(contains_all(parse_error(raw_file("{}", "", 3)),
                           {"header length 3", "exceeds the 2 bytes after the length field"}));
  // Just under the cap but past the end: rejected on the file size, not the cap.
  EXPECT_TRUE(contains_all(parse_error(raw_file("{}", "", 99'999'999)),
                           {"header length 99999999", "exceeds the 2 bytes"}));
}

TEST(safetensors_hostile, HeaderEncodingAndShape) {
  EXPECT_TRUE(contains_all(parse_error("{\"a\xFF\":1}"), {"not valid UTF-8", "header byte 3"}));
  EXPECT_TRUE(contains_all(parse_error("[1,2]"), {"does not start with '{'", "0x5B"}));
  EXPECT_TRUE(contains_all(parse_error(" {}"), {"does not start with '{'", "0x20"}));
  EXPECT_TRUE(contains_all(parse_error("{\"a\":"), {"not valid JSON"}));
  EXPECT_TRUE(contains_all(parse_error("{} x"), {"not valid JSON"}));
  EXPECT_TRUE(contains_all(parse_error("{}{}"), {"not valid JSON"}));
  // A raw NUL ends nlohmann's input: what follows it would go unread (a polyglot).
  EXPECT_TRUE(contains_all(parse_error(std::string("{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}") +
                                       std::string(1, '\0') + ",\"evil\":1} <script>"),
                           {"NUL byte at header byte 53"}));
  EXPECT_TRUE(contains_all(parse_error("{\"a\":1}"), {"tensor 'a' must be an object", "the number 1"}));
  EXPECT_TRUE(contains_all(parse_error("{\"a\":[]}"), {"tensor 'a' must be an object", "a list"}));
  // Nesting stops at the first container the grammar has no place for.
  EXPECT_TRUE(contains_all(parse_error("{\"a\":{\"shape\":[[[[[[[[]]]]]]]]}}"),
                           {"tensor 'a'", "shape[0] must be a non-negative integer", "a list"}));
}

TEST(safetensors_hostile, DuplicateKeys) {
  const std::string a = entry("a", "U8", "[0]", "[0,0]");
  EXPECT_TRUE(contains_all(parse_error("{" + a + "," + a + "}"), {"duplicate key 'a'"}));
  EXPECT_TRUE(contains_all(
      parse_error("{\"a\":{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}"),
      {"tensor 'a'", "field \"dtype\" appears twice"}));
  EXPECT_TRUE(contains_all(parse_error("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}"),
                           {"__metadata__ has the key 'k' twice"}));
  EXPECT_TRUE(contains_all(parse_error("{\"__metadata__\":{},\"__metadata__\":{}}"),
                           {"duplicate key '__metadata__'"}));
}

TEST(safetensors_hostile, TensorFields) {
  EXPECT_TRUE(contains_all(parse_error(std::string("{") + entry("w", "F4", "[2]", "[0,1]") + "}", "x"),
                           {"tensor 'w'", "unknown dtype 'F4'", "supported: F64"}));
  EXPECT_TRUE(contains_all(
      parse_error("{\"w\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,1]}}", "x"),
      {"tensor 'w'", "dtype must be a string", "the number 7"}));
  EXPECT_TRUE(contains_all(parse_error(std::string("{") + entry("w", "U8", "[2,-1]", "[0,0]") + "}"),
                           {"tensor 'w'", "shape[1] = -1 is negative"}));
  EXPECT_TRUE(contains_all(parse_error(std::string("{") + entry("w", "U8", "[1.5]", "[0,0]") + "}"),
                           {"tensor 'w'", "shape[0] = '1.5' is not a non-negative integer"}));
  EXPECT_TRUE(contains_all(parse_error(std::string("{") + entry("w", "U8", "[\"2\"]", "[0,2]") + "}", "ab"),
                           {"tensor 'w'", "shape[0] must be a non-negative integer", "a string"}));
  EXPECT_TRUE(contains_all(parse_error(std::string("{") + entry("w", "U8", "2", "[0,2]") + "}", "ab"),
                           {"tensor 'w'", "shape must be a list", "the number 2"}));
  EXPECT_TRUE(contains_all(parse_error(std::string("{") + entry("w", "U8", "[9223372036854775808]", "[0,0]") + "}"),
                           {"tensor 'w'", "shape[0] = 9223372036854775808 is too large"}));
  EXPECT_TRUE(contains_all(parse_error(std::string("{") + entry("w", "U8", "[1]", "[0]") + "}", "a"),
                           {"tensor 'w'", "data_offsets has 1 entries, expected two"}));
  EXPECT_TRUE(contains_all(parse_error(std::string("{") + entry("w", "U8", "[1]", "[0,1,2]") + "}", "a"),
                           {"tensor 'w'", "data_offsets has more than two entries"}));
  EXPECT_TRUE(contains_all(parse_error(std::string("{") + entry("w", "U8", "[1]", "[-1,0]") + "}", "a"),
                           {"tensor 'w'", "data_offsets[0] = -1 is negative"}));
  EXPECT_TRUE(contains_all(parse_error(std::string("{") + entry("w", "U8", "[0]", "[2,1]") + "}", "ab"),
                           {"tensor 'w'", "data_offsets [2, 1] has begin > end"}));
  EXPECT_TRUE(contains_all(
      parse_error("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"extra\":0}}", "a"),
      {"tensor 'w'", "unknown field 'extra'"}));
  EXPECT_TRUE(contains_all(parse_error("{\"w\":{\"dtype\":\"U8\",\"shape\":[1]}}", "a"),
                           {"tensor 'w'", "missing field \"data_offsets\""}));
  EXPECT_TRUE(contains_all(parse_error("{\"w\":{\"shape\":[1],\"data_offsets\":[0,1]}}", "a"),
                           {"tensor 'w'", "missing field \"dtype\""}));
}

TEST(safetensors_hostile, Metadata) {
  EXPECT_TRUE(contains_all(parse_error("{\"__metadata__\":{\"k\":1}}"),
                           {"__metadata__ value of key 'k' must be a string", "the number 1"}));
  EXPECT_TRUE(contains_all(parse_error("{\"__metadata__\":{\"k\":{}}}"),
                           {"__metadata__ value of key 'k' must be a string", "an object"}));
  EXPECT_TRUE(contains_all(parse_error("{\"__metadata__\":[\"k\"]}"),
                           {"__metadata__ must be an object of strings", "a list"}));
  EXPECT_TRUE(contains_all(parse_error("{\"__metadata__\":null}"),
                           {"__metadata__ must be an object of strings", "null"}));
}

TEST(safetensors_hostile, SizesAndRanges) {
  EXPECT_TRUE(contains_all(parse_error(std::string("{") + entry("w", "F32", "[3]", "[0,8]") + "}", "12345678"),
                           {"tensor 'w'", "shape [3] of F32 needs 12 bytes", "[0, 8] hold 8"}));
  EXPECT_TRUE(contains_all(
      parse_error(std::string("{") + entry("w", "F64", "[4611686018427387904,4]", "[0,8]") + "}", "12345678"),
      {"tensor 'w'", "shape [4611686018427387904, 4]", "overflows 64 bits"}));
  // A product that only overflows after the element size is applied.
  EXPECT_TRUE(contains_all(
      parse_error(std::string("{") + entry("w", "F32", "[4611686018427387904]", "[0,8]") + "}", "12345678"),
      {"tensor 'w'", "overflows 64 bits"}));
  EXPECT_TRUE(contains_all(parse_error(std::string("{") + entry("w", "U8", "[4]", "[0,4]") + "}", "ab"),
                           {"tensor 'w'", "data_offsets [0, 4] extend past the data buffer (2 bytes)"}));
  EXPECT_TRUE(contains_all(
      parse_error(std::string("{") + entry("w", "U8", "[0]", "[18446744073709551615,18446744073709551615]") + "}"),
      {"tensor 'w'", "extend past the data buffer (0 bytes)"}));
  EXPECT_TRUE(contains_all(
      parse_error(std::string("{") + entry("a", "U8", "[4]", "[0,4]") + "," + entry("b", "U8", "[4]", "[2,6]") + "}",
                  "abcdef"),
      {"tensor 'b'", "[2, 6] overlap tensor 'a' at [0, 4]"}));
  EXPECT_TRUE(contains_all(
      parse_error(std::string("{") + entry("a", "U8", "[2]", "[0,2]") + "," + entry("b", "U8", "[2]", "[0,2]") + "}",
                  "ab"),
      {"overlap tensor 'a'"}));
  // An empty tensor inside another tensor's range is an overlap, as in the reference reader.
  EXPECT_TRUE(contains_all(
      parse_error(std::string("{") + entry("a", "U8", "[4]", "[0,4]") + "," + entry("e", "U8", "[0]", "[2,2]") + "}",
                  "abcd"),
      {"tensor 'e'", "overlap tensor 'a'"}));
  EXPECT_TRUE(contains_all(
      parse_error(std::string("{") + entry("a", "U8", "[2]", "[0,2]") + "," + entry("b", "U8", "[2]", "[4,6]") + "}",
                  "abcdef"),
      {"bytes [2, 4) of the data buffer belong to no tensor", "hole before tensor 'b'"}));
  EXPECT_TRUE(contains_all(parse_error(std::string("{") + entry("a", "U8", "[2]", "[1,3]") + "}", "abc"),
                           {"bytes [0, 1)", "hole before tensor 'a'"}));
  EXPECT_TRUE(contains_all(parse_error(std::string("{") + entry("a", "U8", "[2]", "[0,2]") + "}", "abcde"),
                           {"bytes [2, 5)", "trailing bytes"}));
  EXPECT_TRUE(contains_all(parse_error("{}", "x"), {"bytes [0, 1)", "trailing bytes"}));
}

TEST(safetensors_hostile, HostileNamesAreQuotedShortInMessages) {
  const std::string long_name(10'000, 'n');
  const std::string message = parse_error(std::string("{") + entry(long_name, "F4", "[1]", "[0,1]") + "}", "x");
  EXPECT_TRUE(contains_all(message, {"unknown dtype", "(10000 bytes)"}));
  EXPECT_LT(message.size(), 1000u);
  EXPECT_TRUE(contains_all(parse_error(std::string("{") + entry("a\\u0001b", "F4", "[1]", "[0,1]") + "}", "x"),
                           {"tensor 'a\\x01b'"}));
}

TEST(safetensors_hostile, OpenNamesThePath) {
  test::ScratchDir dir;
  const auto path = dir / "broken.safetensors";
  test::write_bytes(path, raw_file(std::string("{") + entry("w", "F32", "[3]", "[0,8]") + "}", "12345678"));
  EXPECT_TRUE(contains_all(test::input_error_message([&] { SafetensorsFile::open(path); }),
                           {"safetensors file '" + path.string() + "'", "tensor 'w'", "needs 12 bytes"}));
  EXPECT_TRUE(contains_all(test::input_error_message([&] { SafetensorsFile::open(dir / "nope"); }),
                           {"cannot open", "nope", "No such file"}));
  EXPECT_TRUE(contains_all(test::input_error_message([&] { SafetensorsFile::open(dir.path()); }),
                           {"not a regular file"}));
  test::write_bytes(dir / "empty.safetensors", {});
  EXPECT_TRUE(contains_all(
      test::input_error_message([&] { SafetensorsFile::open(dir / "empty.safetensors"); }),
      {"empty.safetensors", "0 bytes", "shorter"}));
}

}  // namespace
}  // namespace disa::llm
