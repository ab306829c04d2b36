// Shared by the benchmark programs: their own --name=value flags are taken off
// argv before the rest goes to Google Benchmark.
#pragma once

#include <string>

namespace disa::bench {

// True (and *value set) when arg is "name=value".
inline bool take_flag(const std::string& arg, const char* name, std::string* value) {
  const std::string prefix = std::string(name) + "=";
  if (arg.rfind(prefix, 0) != 0) return false;
  *value = arg.substr(prefix.size());
  return true;
}

}  // namespace disa::bench
