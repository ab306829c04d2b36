// The machine's physical memory, the bound the memory checks refuse a size against.
#pragma once

#include <unistd.h>

#include <cstdint>

namespace disa {

// Pages x page size; UINT64_MAX when the system does not say (so nothing is refused).
inline std::uint64_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page) : UINT64_MAX;
}

}  // namespace disa
