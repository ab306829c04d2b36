#include "src/key_value_list.h"

#include <fmt/format.h>

#include "src/input_error.h"

namespace disa {

std::map<std::string, std::string> parse_key_values(std::string_view what, const std::vector<std::string>& entries) {
  std::map<std::string, std::string> values;
  for (const std::string& entry : entries) {
    const auto eq = entry.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw InputError(fmt::format("{}: option '{}' is not key=value", what, entry));
    }
    std::string key = entry.substr(0, eq);
    if (!values.emplace(key, entry.substr(eq + 1)).second) {
      throw InputError(fmt::format("{}: option '{}' is given twice", what, key));
    }
  }
  return values;
}

std::vector<std::string> override_key_values(std::vector<std::string> defaults,
                                             const std::vector<std::string>& overrides) {
  const auto key_of = [](const std::string& entry) { return entry.substr(0, entry.find('=')); };
  for (const std::string& entry : overrides) {
    const std::string key = key_of(entry);
    std::erase_if(defaults, [&](const std::string& d) { return key_of(d) == key; });
  }
  defaults.insert(defaults.end(), overrides.begin(), overrides.end());
  return defaults;
}

}  // namespace disa
