// JSON has no inf or NaN: every JSON file the project writes spells them as the
// strings "inf", "-inf" and "nan", and reads them back from those. One definition,
// so the anchor file, the check summaries and the CLI's --json agree.
#pragma once

#include <cmath>
#include <limits>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace disa {

inline nlohmann::ordered_json to_json_number(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  return x;
}

// The number a JSON value holds (a number, or one of the three strings); nullopt otherwise.
inline std::optional<double> from_json_number(const nlohmann::ordered_json& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
  }
  return std::nullopt;
}

}  // namespace disa
