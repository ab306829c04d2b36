// Parsing the JSON a user gives (batch, tree, samples, anchor, checkpoint, config,
// benchmark and records files) with a key given twice in one object refused.
//
// nlohmann's DOM keeps the last of two equal keys silently, so {"log_z": [0.5],
// "log_z": [100]} would be read as [100] with nothing said; which one a writer meant
// is unknowable, so the input is refused. A raw NUL byte is refused too: nlohmann's
// lexer takes it for the end of the input, so "{...}\0<anything>" would parse as the
// object alone, and valid JSON never holds an unescaped NUL.
//
// Invalid JSON is left to the caller: the nlohmann::json::exception (parse_error,
// out_of_range for 1e400) propagates unchanged, so each reader keeps its own message.
#pragma once

#include <istream>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace disa {

// Parses one JSON document. A repeated key throws InputError
//   "<source>: <JSON pointer of the member>: key \"<key>\" is given twice in one object"
// (e.g. "dup.json: /leaves/0/reward: key \"reward\" is given twice in one object");
// source names the input, with its line for JSON Lines ("samples.jsonl:3").
nlohmann::json parse_json_strict(std::string_view text, const std::string& source);
nlohmann::ordered_json parse_ordered_json_strict(std::string_view text, const std::string& source);

// The same for a whole stream (a file, standard input): read to the end, then parsed.
nlohmann::json parse_json_strict(std::istream& in, const std::string& source);

}  // namespace disa
