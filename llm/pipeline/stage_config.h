// A stage's options: a JSON config file (a flat object of key: value) overridden by
// `--set key=value` entries, read through the typed getters of loss::Settings, so that an
// unknown key, a value that does not parse or one outside its range is an InputError
// naming the stage, the key and the value ("train: lr=-1: must be in (0, inf)").
//
//   StageConfig c = StageConfig::load("propose", "propose.json", {"samples=16"});
//   const std::int64_t n = c.integer("samples", 8, 1);
//   c.finish();   // rejects keys nothing read
//
// Keys under "loss." (train only) are kept apart: take_loss_settings() returns them
// without the prefix, for loss::make_objective; a stage that does not take them rejects
// them in finish(), so "loss.kl_coef=0.3" given to anchor, eval or the pipeline (where
// it is "train.loss.kl_coef") is an error, not an option silently dropped.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/loss/settings.h"

namespace disa::llm::pipeline {

inline constexpr double kNoLimit = loss::kNoBound;

class StageConfig {
 public:
  static StageConfig load(std::string_view stage, const std::string& config_path, const std::vector<std::string>& sets);

  double number(std::string_view key, double fallback, double low, double high, bool low_open = false);
  std::int64_t integer(std::string_view key, std::int64_t fallback, std::int64_t low,
                       std::int64_t high = INT64_MAX);
  bool flag(std::string_view key, bool fallback) { return settings_.flag(key, fallback); }
  std::string word(std::string_view key, std::string_view fallback) { return settings_.word(key, fallback); }
  // One of `choices`, else an InputError listing them.
  std::string choice(std::string_view key, std::string_view fallback, const std::vector<std::string>& choices);
  const std::vector<std::string>& take_loss_settings() {
    loss_settings_taken_ = true;
    return loss_settings_;
  }
  void finish() const;
  // Every key=value given (file and --set), for the stage's record of what it ran with.
  const nlohmann::ordered_json& given() const { return given_; }

 private:
  StageConfig(loss::Settings settings, std::vector<std::string> loss_settings, nlohmann::ordered_json given)
      : settings_(std::move(settings)), loss_settings_(std::move(loss_settings)), given_(std::move(given)) {}
  loss::Settings settings_;
  std::vector<std::string> loss_settings_;
  bool loss_settings_taken_ = false;
  nlohmann::ordered_json given_;
};

}  // namespace disa::llm::pipeline
