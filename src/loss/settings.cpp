#include "src/loss/settings.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <system_error>

#include "src/decimal_number.h"
#include "src/input_error.h"
#include "src/key_value_list.h"

namespace disa::loss {

namespace {

// `text` as plain integer digits ("-12"), or nullopt when it is no whole number. Besides
// "12" it takes what a tool writing a config file may give for one, "+12", "12.0" and
// "1.2e1", exactly: decided on the digits, never through a double (which would turn
// 2^53 + 1 into 2^53 and 8999999999999999.5 into 9000000000000000).
std::optional<std::string> integer_text(std::string_view text) {
  std::size_t i = 0;
  std::string sign;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) sign = text[i] == '-' ? "-" : "", ++i;
  std::string digits;  // the mantissa's digits, the point removed
  std::int64_t point = 0;  // digits before the decimal point
  bool seen_point = false, any = false;
  for (; i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'); ++i) {
    if (text[i] == '.') {
      if (seen_point) return std::nullopt;
      seen_point = true;
      continue;
    }
    any = true;
    digits += text[i];
    if (!seen_point) ++point;
  }
  if (!any) return std::nullopt;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    std::int64_t exponent = 0;
    const char* begin = text.data() + i + 1;
    const char* end = text.data() + text.size();
    if (begin < end && *begin == '+') ++begin;  // from_chars takes '-' but not '+'
    const auto [ptr, ec] = std::from_chars(begin, end, exponent);
    if (ec != std::errc{} || ptr != end || exponent > 1000 || exponent < -1000) return std::nullopt;
    point += exponent;
    i = text.size();
  }
  if (i != text.size()) return std::nullopt;
  // Digits after the point must all be 0; missing digits before it are zeros.
  const std::size_t whole = static_cast<std::size_t>(std::clamp<std::int64_t>(point, 0, digits.size()));
  if (digits.find_first_not_of('0', whole) != std::string::npos) return std::nullopt;
  std::string out = digits.substr(0, whole);
  const std::size_t first = out.find_first_not_of('0');
  out = first == std::string::npos ? "0" : out.substr(first);
  if (point > static_cast<std::int64_t>(digits.size()) && out != "0") {
    if (point > 40) return std::nullopt;  // far beyond int64: refused as out of range
    out.append(static_cast<std::size_t>(point) - digits.size(), '0');
  }
  return out == "0" ? out : sign + out;
}

}  // namespace

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
  double value = 0.0;
  if (const std::string why = read_decimal(*text, value); !why.empty()) reject(used, *text, why);
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

std::int64_t Settings::integer(std::string_view key, std::int64_t fallback, std::int64_t low, std::int64_t high) {
  std::string used;
  const std::string* given = find(key, {}, &used);
  if (given == nullptr) return fallback;
  // The range stated in full (also when it is the int64 one): a refusal says what would
  // have been accepted.
  const std::string range = fmt::format("must be an integer in [{}, {}]", low, high);
  const std::optional<std::string> digits = integer_text(*given);
  std::int64_t v = 0;
  if (!digits) reject(used, *given, range);
  const char* end = digits->data() + digits->size();
  const auto [ptr, ec] = std::from_chars(digits->data(), end, v);
  if (ec != std::errc{} || ptr != end || v < low || v > high) reject(used, *given, range);
  return v;
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
