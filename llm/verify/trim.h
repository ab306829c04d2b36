// Whitespace trimming shared by the answer extraction, normalisation and equivalence
// steps, so that they agree on what counts as blank.
#pragma once

#include <string>
#include <string_view>

namespace disa::llm::verify {

inline std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

}  // namespace disa::llm::verify
