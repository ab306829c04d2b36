// prod(shape) x element size with overflow checks, shared by the reader and the writer
// so that both agree on every shape (whatever the writer writes, the reader accepts).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace disa::llm {

// nullopt if the product does not fit in 64 bits. A zero dimension makes the count
// zero whatever the others are (an empty tensor is valid however large its other
// dimensions). Dimensions must be non-negative (the caller checks).
inline std::optional<std::uint64_t> checked_byte_count(const std::vector<std::int64_t>& shape,
                                                       std::size_t element_size) {
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return 0;
  std::uint64_t count = element_size;
  for (std::int64_t d : shape) {
    if (__builtin_mul_overflow(count, static_cast<std::uint64_t>(d), &count)) return std::nullopt;
  }
  return count;
}

}  // namespace disa::llm
