// Reading tokenizer.json fields with errors that name the file, the field and the value.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace disa::llm::json_fields {

// Throws InputError "<file>: <field>: <problem>".
[[noreturn]] void fail(std::string_view file, std::string_view field, std::string_view problem);

// object[key], which must exist; `field` is its dotted path (e.g. "model.vocab").
const nlohmann::json& require(const nlohmann::json& object, std::string_view key, std::string_view file,
                              std::string_view field);

std::string require_string(const nlohmann::json& object, std::string_view key, std::string_view file,
                           std::string_view field);

// object[key] when present and not null, else `otherwise`; a non-boolean value fails.
bool optional_bool(const nlohmann::json& object, std::string_view key, bool otherwise, std::string_view file,
                   std::string_view field);

// A short rendering of a JSON value for messages (long values are cut).
std::string brief(const nlohmann::json& value);

}  // namespace disa::llm::json_fields
