// GPT-2's byte-to-unicode map, which byte-level BPE vocabularies are spelled in: each of
// the 256 bytes is a printable character (printable Latin-1 bytes stand for themselves,
// the others for U+0100.., so a space is "Ġ" U+0120 and a newline "Ċ" U+010A).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace disa::llm::byte_level {

// The UTF-8 spelling of each byte's character.
const std::array<std::string, 256>& byte_to_token_text();

// The bytes a vocabulary spelling stands for; nullopt when a character is not in the
// map (a token that is not byte-level, e.g. an added "<|im_end|>" is, by chance, ASCII).
std::optional<std::string> token_text_to_bytes(std::string_view token_text);

}  // namespace disa::llm::byte_level
