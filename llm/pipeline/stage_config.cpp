#include "llm/pipeline/stage_config.h"

#include <fstream>
#include <map>

#include <fmt/format.h>

#include "src/input_error.h"
#include "src/input_file.h"
#include "src/json_strict.h"
#include "src/key_value_list.h"

namespace disa::llm::pipeline {

StageConfig StageConfig::load(std::string_view stage, const std::string& config_path,
                              const std::vector<std::string>& sets) {
  std::map<std::string, std::string> values;
  nlohmann::ordered_json given = nlohmann::ordered_json::object();
  if (!config_path.empty()) {
    refuse_folder_input(config_path, fmt::format("{}: --config", stage));
    std::ifstream in(config_path);
    if (!in) throw InputError(fmt::format("{}: --config '{}': cannot read it", stage, config_path));
    nlohmann::json j;
    try {
      j = parse_json_strict(in, fmt::format("{}: --config '{}'", stage, config_path));
    } catch (const nlohmann::json::exception& e) {
      check_read_completed(in, config_path, fmt::format("{}: --config", stage));  // a read error, not bad JSON
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
  return settings_.integer(key, fallback, low, high);  // one parser for the stages' and disa train's integers
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
