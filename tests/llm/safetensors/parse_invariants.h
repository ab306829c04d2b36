// What must hold of any file SafetensorsFile::parse accepts, checked byte by byte: the
// views tile the data buffer exactly, sizes match shapes, lookups agree, and writing
// the tensors back out gives a file that parses to the same tensors. Shared by the
// libFuzzer target (which aborts on a violation) and the corpus replay test.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>
#include <span>
#include <string>

#include "llm/safetensors/safetensors.h"
#include "llm/safetensors/utf8.h"

namespace disa::llm {

// "" if every invariant holds, else a description of the first that does not.
inline std::string check_parse_invariants(std::span<const std::byte> file, const SafetensorsFile& parsed) {
  const std::size_t data_begin = 8 + parsed.header_size();
  if (data_begin > file.size()) return "header_size runs past the file";
  const std::byte* cursor = file.data() + data_begin;
  unsigned checksum = 0;  // stored to a volatile below so the reads are not optimised away
  for (const TensorView& t : parsed.tensors()) {
    if (t.bytes.data() != cursor) return "tensor " + t.name + " does not start where the previous ended";
    if (t.bytes.data() < file.data() + data_begin || t.bytes.data() + t.bytes.size() > file.data() + file.size()) {
      return "tensor " + t.name + " lies outside the data buffer";
    }
    unsigned __int128 count = dtype_size(t.dtype);
    for (std::int64_t d : t.shape) {
      if (d < 0) return "tensor " + t.name + " has a negative dimension";
      count *= static_cast<std::uint64_t>(d);
      if (count > file.size()) count = file.size() + 1;  // saturate: it cannot match anyway
    }
    if (count != t.bytes.size()) return "tensor " + t.name + " has a byte count that does not match its shape";
    for (std::byte b : t.bytes) checksum += std::to_integer<unsigned>(b);  // touch every byte (ASan)
    if (parsed.find(t.name) != &t) return "find(" + t.name + ") does not return its view";
    if (dtype_from_name(dtype_name(t.dtype)) != t.dtype) return "dtype name does not round-trip";
    if (first_invalid_utf8(t.name)) return "a tensor name is not valid UTF-8";
    cursor = t.bytes.data() + t.bytes.size();
  }
  [[maybe_unused]] static volatile unsigned sink;
  sink = checksum;
  if (cursor != file.data() + file.size()) return "the views do not cover the data buffer up to the end";
  for (const auto& [k, v] : parsed.metadata()) {
    if (first_invalid_utf8(k) || first_invalid_utf8(v)) return "metadata is not valid UTF-8";
  }
  if (parsed.find("__metadata__") != nullptr) return "__metadata__ parsed as a tensor";

  // Whatever parses must survive the writer (which refuses empty names, as a policy).
  std::vector<TensorToWrite> again;
  for (const TensorView& t : parsed.tensors()) {
    if (t.name.empty()) return "";
    again.push_back({t.name, t.dtype, t.shape, t.bytes});
  }
  const std::vector<std::byte> rewritten = serialize_safetensors(again, parsed.metadata());
  const SafetensorsFile reparsed = SafetensorsFile::parse(rewritten);
  if (reparsed.tensors().size() != parsed.tensors().size()) return "rewrite changed the tensor count";
  if (reparsed.metadata() != parsed.metadata()) return "rewrite changed the metadata";
  for (const TensorView& t : parsed.tensors()) {
    const TensorView* r = reparsed.find(t.name);
    if (r == nullptr || r->dtype != t.dtype || r->shape != t.shape || r->bytes.size() != t.bytes.size() ||
        !std::equal(t.bytes.begin(), t.bytes.end(), r->bytes.begin())) {
      return "rewrite changed tensor " + t.name;
    }
  }
  return "";
}

}  // namespace disa::llm
