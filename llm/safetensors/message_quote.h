// Quoting untrusted text (tensor names, JSON keys) inside error messages: a hostile
// header may hold a 100 MB name or control bytes, and an error message must stay
// one short readable line.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace disa::llm {

inline std::string quote_for_message(std::string_view text, std::size_t max_chars = 80) {
  std::string out = "'";
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i == max_chars) {
      out += "...' (" + std::to_string(text.size()) + " bytes)";
      return out;
    }
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7F || c == '\'' || c == '\\') {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02X", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += "'";
  return out;
}

}  // namespace disa::llm
