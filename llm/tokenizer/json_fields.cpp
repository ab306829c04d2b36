#include "llm/tokenizer/json_fields.h"

#include <fmt/format.h>

#include "src/input_error.h"

namespace disa::llm::json_fields {

void fail(std::string_view file, std::string_view field, std::string_view problem) {
  throw InputError(fmt::format("{}: {}: {}", file, field, problem));
}

const nlohmann::json& require(const nlohmann::json& object, std::string_view key, std::string_view file,
                              std::string_view field) {
  if (!object.is_object()) fail(file, field, "missing (its parent is not a JSON object)");
  const auto it = object.find(key);
  if (it == object.end()) fail(file, field, "missing");
  return *it;
}

std::string require_string(const nlohmann::json& object, std::string_view key, std::string_view file,
                           std::string_view field) {
  const nlohmann::json& value = require(object, key, file, field);
  if (!value.is_string()) fail(file, field, fmt::format("expected a string, got {}", brief(value)));
  return value.get<std::string>();
}

bool optional_bool(const nlohmann::json& object, std::string_view key, bool otherwise, std::string_view file,
                   std::string_view field) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return otherwise;
  if (!it->is_boolean()) fail(file, field, fmt::format("expected true or false, got {}", brief(*it)));
  return it->get<bool>();
}

std::string brief(const nlohmann::json& value) {
  std::string s = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

}  // namespace disa::llm::json_fields
