#include "src/loss/settings.h"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "src/input_error.h"
#include "src/key_value_list.h"

namespace disa::loss {

Settings Settings::parse(std::string_view objective, const std::vector<std::string>& entries) {
  return Settings(std::string(objective), parse_key_values(objective, entries));
}

Settings::Settings(std::string objective, std::map<std::string, std::string> values)
    : objective_(std::move(objective)), values_(std::move(values)) {}

const std::string* Settings::find(std::string_view key, std::initializer_list<std::string_view> aliases,
                                  std::string* used_key) {
  known_.emplace(key);
  for (std::string_view alias : aliases) known_.emplace(alias);
  const std::string* found = nullptr;
  auto look = [&](std::string_view name) {
    auto it = values_.find(std::string(name));
    if (it == values_.end()) return;
    read_.insert(it->first);
    if (found != nullptr) {
      throw InputError(
          fmt::format("{}: options '{}' and '{}' are the same option; give one", objective_, *used_key, it->first));
    }
    found = &it->second;
    *used_key = it->first;
  };
  look(key);
  for (std::string_view alias : aliases) look(alias);
  return found;
}

void Settings::reject(std::string_view key, std::string_view value, std::string_view why) const {
  throw InputError(fmt::format("{}: {}={}: {}", objective_, key, value, why));
}

double Settings::number(std::string_view key, double fallback, std::initializer_list<std::string_view> aliases) {
  std::string used;
  const std::string* text = find(key, aliases, &used);
  if (text == nullptr) return fallback;
  errno = 0;
  char* end = nullptr;
  const double value = std::strtod(text->c_str(), &end);
  if (text->empty() || end != text->c_str() + text->size() || !std::isfinite(value)) {
    reject(used, *text, "expected a finite number");
  }
  // strtod's ERANGE on a finite result is underflow: 1e-400 is a finite number, just not
  // one a double holds.
  if (errno == ERANGE) reject(used, *text, "too small in magnitude for a double (it underflows)");
  return value;
}

double Settings::number_in(std::string_view key, double fallback, double low, double high, bool low_open,
                           bool high_open) {
  const double value = number(key, fallback);
  const bool above = low_open ? value > low : value >= low;
  const bool below = std::isinf(high) || (high_open ? value < high : value <= high);
  if (!(above && below)) {
    reject(key, fmt::format("{}", value),
           fmt::format("must be in {}{}, {}{}", low_open ? "(" : "[", low, high, high_open ? ")" : "]"));
  }
  return value;
}

bool Settings::flag(std::string_view key, bool fallback, std::initializer_list<std::string_view> aliases) {
  std::string used;
  const std::string* text = find(key, aliases, &used);
  if (text == nullptr) return fallback;
  if (*text == "true" || *text == "1" || *text == "on") return true;
  if (*text == "false" || *text == "0" || *text == "off") return false;
  reject(used, *text, "expected true or false");
}

std::string Settings::word(std::string_view key, std::string_view fallback,
                           std::initializer_list<std::string_view> aliases) {
  std::string used;
  const std::string* text = find(key, aliases, &used);
  return text == nullptr ? std::string(fallback) : *text;
}

std::string Settings::given_key(std::string_view key, std::initializer_list<std::string_view> aliases) const {
  if (values_.count(std::string(key)) != 0) return std::string(key);
  for (std::string_view alias : aliases) {
    if (values_.count(std::string(alias)) != 0) return std::string(alias);
  }
  return std::string(key);
}

void Settings::finish() const {
  for (const auto& [key, value] : values_) {
    if (read_.count(key) != 0) continue;
    std::string list;
    for (const std::string& k : known_) list += (list.empty() ? "" : ", ") + k;
    throw InputError(fmt::format("{}: unknown option '{}' (options: {})", objective_, key, list));
  }
}

}  // namespace disa::loss
