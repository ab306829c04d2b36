// The project's one UTF-8 checker (src/json_strict.h), in the optional form the
// safetensors reader and writer use.
#include "llm/safetensors/utf8.h"

#include "src/json_strict.h"

namespace disa::llm {

std::optional<std::size_t> first_invalid_utf8(std::string_view text) {
  const std::size_t at = invalid_utf8_offset(text);
  if (at == std::string_view::npos) return std::nullopt;
  return at;
}

}  // namespace disa::llm
