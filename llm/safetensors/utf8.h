// UTF-8 validation for safetensors headers and tensor names: the format requires a
// UTF-8 header, and a clear "invalid UTF-8 at byte k" beats a JSON lexer's message.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace disa::llm {

// The offset of the first byte that does not belong to a well-formed UTF-8 sequence
// (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF); nullopt if valid.
std::optional<std::size_t> first_invalid_utf8(std::string_view text);

}  // namespace disa::llm
