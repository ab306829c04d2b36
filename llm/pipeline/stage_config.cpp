#include "llm/pipeline/stage_config.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <system_error>

#include <fmt/format.h>

#include "src/input_error.h"
#include "src/json_strict.h"
#include "src/key_value_list.h"

namespace disa::llm::pipeline {

StageConfig StageConfig::load(std::string_view stage, const std::string& config_path,
                              const std::vector<std::string>& sets) {
  std::map<std::string, std::string> values;
  nlohmann::ordered_json given = nlohmann::ordered_json::object();
  if (!config_path.empty()) {
    std::ifstream in(config_path);
    if (!in) throw InputError(fmt::format("{}: --config '{}': cannot read it", stage, config_path));
    nlohmann::json j;
    try {
      j = parse_json_strict(in, fmt::format("{}: --config '{}'", stage, config_path));
    } catch (const nlohmann::json::exception& e) {
      throw InputError(fmt::format("{}: --config '{}': not JSON ({})", stage, config_path, e.what()));
    }
    if (!j.is_object()) throw InputError(fmt::format("{}: --config '{}': must be a JSON object", stage, config_path));
    for (const auto& [key, value] : j.items()) {
      if (value.is_object() || value.is_array() || value.is_null()) {
        throw InputError(fmt::format("{}: --config '{}': key '{}' must be a number, string or boolean", stage,
                                     config_path, key));
      }
      values[key] = value.is_string() ? value.get<std::string>() : value.dump();
    }
  }
  // A key given twice among the --set entries is refused (which one was meant?); a --set
  // of a key the file holds wins over the file, the way to override one setting.
  for (auto& [key, value] : parse_key_values(fmt::format("{}: --set", stage), sets)) values[key] = std::move(value);
  std::vector<std::string> loss_settings;
  std::map<std::string, std::string> own;
  for (const auto& [key, value] : values) {
    given[key] = value;
    if (key.rfind("loss.", 0) == 0) {
      loss_settings.push_back(key.substr(5) + "=" + value);
    } else {
      own[key] = value;
    }
  }
  return StageConfig(loss::Settings(std::string(stage), std::move(own)), std::move(loss_settings), std::move(given));
}

void StageConfig::finish() const {
  if (!loss_settings_taken_ && !loss_settings_.empty()) {
    const std::string& first = loss_settings_.front();
    throw InputError(fmt::format("{}: loss.{}: the loss head's options are train's{}", settings_.objective(), first,
                                 settings_.objective() == "pipeline" ? " (here: train.loss.KEY=VALUE)" : ""));
  }
  settings_.finish();
}

double StageConfig::number(std::string_view key, double fallback, double low, double high, bool low_open) {
  return settings_.number_in(key, fallback, low, high, low_open, true);
}

std::int64_t StageConfig::integer(std::string_view key, std::int64_t fallback, std::int64_t low, std::int64_t high) {
  const std::string text = settings_.word(key, fmt::format("{}", fallback));
  const std::string range = high == INT64_MAX ? fmt::format("must be an integer >= {}", low)
                                              : fmt::format("must be an integer in [{}, {}]", low, high);
  // Parsed as an integer, not through a double: a seed of 2^53 + 1 stays itself.
  std::int64_t v = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc{} || ptr != end) {
    // A config file written by a tool may hold 16.0 or 1e3: an exactly representable
    // whole number (|v| <= 2^53) is that integer; anything else is rejected.
    char* stop = nullptr;
    const double d = text.empty() || std::isspace(static_cast<unsigned char>(text[0])) ? NAN : std::strtod(text.c_str(), &stop);
    if (stop != text.c_str() + text.size() || !(d == std::floor(d)) || std::abs(d) > 9007199254740992.0) {
      settings_.reject(key, text, range);
    }
    v = static_cast<std::int64_t>(d);
  }
  if (v < low || v > high) settings_.reject(key, text, range);
  return v;
}

std::string StageConfig::choice(std::string_view key, std::string_view fallback, const std::vector<std::string>& choices) {
  std::string v = settings_.word(key, fallback);
  for (const std::string& c : choices) {
    if (c == v) return v;
  }
  std::string list;
  for (const std::string& c : choices) list += (list.empty() ? "" : ", ") + c;
  settings_.reject(key, v, "must be one of " + list);
}

}  // namespace disa::llm::pipeline
