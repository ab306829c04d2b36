// The JSON header of a safetensors file, parsed by a SAX handler straight into tensor
// entries: no JSON tree is built, duplicate keys (which nlohmann's DOM would silently
// merge) are caught, and the first structural surprise (wrong type, unknown or missing
// field, nesting) stops the parse. Byte-range checks against the buffer are the
// caller's job (safetensors_parse.cpp).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "llm/safetensors/dtype.h"

namespace disa::llm {

struct HeaderEntry {
  std::string name;
  Dtype dtype;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0;  // data_offsets, relative to the byte buffer
  std::uint64_t end = 0;
};

struct ParsedHeader {
  std::vector<HeaderEntry> tensors;  // in header order
  std::map<std::string, std::string> metadata;
};

// Throws InputError starting with SOURCE (e.g. "safetensors file 'x'") and naming the
// tensor, field and value at fault.
ParsedHeader parse_header_json(std::string_view json, const std::string& source);

}  // namespace disa::llm
