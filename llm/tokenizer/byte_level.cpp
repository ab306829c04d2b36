#include "llm/tokenizer/byte_level.h"

#include "llm/tokenizer/utf8.h"

namespace disa::llm::byte_level {
namespace {

// The code point of each byte, as GPT-2's bytes_to_unicode() builds it.
std::array<char32_t, 256> byte_code_points() {
  std::array<char32_t, 256> cps{};
  std::array<bool, 256> printable{};
  for (int b = '!'; b <= '~'; ++b) printable[b] = true;
  for (int b = 0xA1; b <= 0xAC; ++b) printable[b] = true;
  for (int b = 0xAE; b <= 0xFF; ++b) printable[b] = true;
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) cps[b] = printable[b] ? static_cast<char32_t>(b) : next++;
  return cps;
}

// The byte of each code point below 256 + 68 (the map's range), or -1.
const std::array<int, 324>& code_point_to_byte() {
  static const auto table = [] {
    std::array<int, 324> t;
    t.fill(-1);
    const auto cps = byte_code_points();
    for (int b = 0; b < 256; ++b) t[cps[b]] = b;
    return t;
  }();
  return table;
}

}  // namespace

const std::array<std::string, 256>& byte_to_token_text() {
  static const auto table = [] {
    std::array<std::string, 256> t;
    const auto cps = byte_code_points();
    for (int b = 0; b < 256; ++b) utf8::append(t[b], cps[b]);
    return t;
  }();
  return table;
}

std::optional<std::string> token_text_to_bytes(std::string_view token_text) {
  const auto& table = code_point_to_byte();
  std::string bytes;
  std::size_t pos = 0;
  while (pos < token_text.size()) {
    const char32_t cp = utf8::next_code_point(token_text, pos);
    if (cp >= table.size() || table[cp] < 0) return std::nullopt;
    bytes += static_cast<char>(table[cp]);
  }
  return bytes;
}

}  // namespace disa::llm::byte_level
