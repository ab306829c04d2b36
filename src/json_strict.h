// Parsing the JSON a user gives (batch, tree, samples, anchor, checkpoint, config,
// benchmark and records files) with a key given twice in one object refused.
//
// nlohmann's DOM keeps the last of two equal keys silently, so {"log_z": [0.5],
// "log_z": [100]} would be read as [100] with nothing said; which one a writer meant
// is unknowable, so the input is refused. A raw NUL byte is refused too: nlohmann's
// lexer takes it for the end of the input, so "{...}\0<anything>" would parse as the
// object alone, and valid JSON never holds an unescaped NUL.
//
// Nesting deeper than kMaxJsonDepth arrays and objects is refused too (InputError "<source>:
// arrays and objects nested more than 512 levels deep (the limit of every JSON reader here)"):
// nlohmann parses any depth, but dumping a value and copying an ordered_json recurse once
// per level, so a 60,000-deep file would overflow the stack in the first error message or
// copy that touched it. No file the project reads nests more than a few levels.
//
// Invalid JSON is left to the caller: the nlohmann::json::exception (parse_error,
// out_of_range for 1e400) propagates unchanged, so each reader keeps its own message.
#pragma once

#include <cstddef>
#include <istream>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace disa {

inline constexpr int kMaxJsonDepth = 512;

// Parses one JSON document. A repeated key throws InputError
//   "<source>: <JSON pointer of the member>: key \"<key>\" is given twice in one object"
// (e.g. "dup.json: /leaves/0/reward: key \"reward\" is given twice in one object");
// source names the input, with its line for JSON Lines ("samples.jsonl:3").
nlohmann::json parse_json_strict(std::string_view text, const std::string& source);
nlohmann::ordered_json parse_ordered_json_strict(std::string_view text, const std::string& source);

// The same for a whole stream (a file, standard input): read to the end, then parsed.
nlohmann::json parse_json_strict(std::istream& in, const std::string& source);

// For error messages, which must stay one short line whatever a file holds (a 3-million
// element array, a 100 MB string, control bytes): the JSON text of `value`, or a string's
// escaped content (without quotes), cut after about 80 bytes to "<first bytes>... (N bytes)".
// Invalid UTF-8 shows as U+FFFD.
std::string json_excerpt(const nlohmann::json& value);
std::string json_excerpt(const nlohmann::ordered_json& value);
std::string text_excerpt(std::string_view text);

// The byte offset of the first byte of `text` that is not part of well-formed UTF-8
// (overlong forms, surrogates and code points above U+10FFFF included), or npos. JSON
// output holds UTF-8 only: nlohmann's dump() throws on anything else.
std::size_t invalid_utf8_offset(std::string_view text);

}  // namespace disa
