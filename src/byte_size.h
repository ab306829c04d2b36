// A size in bytes as the memory-budget messages print it. Each message divided by 2^30
// and printed "{:.1f} GiB" itself, so DISA_MAX_TREE_BYTES=1000 read "more than the 0.0 GiB
// budget"; this picks the unit instead.
#pragma once

#include <cmath>
#include <string>

#include <fmt/format.h>

namespace disa {

// "1000 B", "1.5 KiB", "384.4 MiB", "12.0 GiB": whole bytes below 1 KiB, else one decimal
// in the largest of KiB, MiB and GiB that keeps the number at least 1 (GiB at most: 2^40
// bytes is "1024.0 GiB"). A value that rounds up to 1024 of a unit is printed in the next
// ("1.0 MiB", not "1024.0 KiB"). Negative, NaN or infinite values are printed as bytes.
inline std::string byte_size(double bytes) {
  if (!std::isfinite(bytes) || bytes < 1023.5) return fmt::format("{:.0f} B", bytes);
  constexpr const char* kUnits[] = {"KiB", "MiB", "GiB"};
  double value = bytes / 1024.0;
  for (int unit = 0; unit < 2; ++unit) {
    if (value < 1023.95) return fmt::format("{:.1f} {}", value, kUnits[unit]);
    value /= 1024.0;
  }
  return fmt::format("{:.1f} {}", value, kUnits[2]);
}

}  // namespace disa
