// Boost's cpp_int -> string (to_string below) trips GCC 12's false -Wrestrict inside
// std::string (GCC bug 105651); it is reported at the end of the file, so the whole
// file ignores it.
#pragma GCC diagnostic ignored "-Wrestrict"

#include "llm/verify/numeric_value.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace disa::llm::verify {

NumericValue NumericValue::of_exact(const Rational& r) { return {r, r.convert_to<double>()}; }

NumericValue NumericValue::of_approx(double x) { return {std::nullopt, x}; }

std::string NumericValue::to_string() const {
  if (exact) return exact->str();
  return fmt::format("{}", approx);
}

bool numerically_equal(const NumericValue& a, const NumericValue& b, double decimal_tolerance) {
  if (a.exact && b.exact && *a.exact == *b.exact) return true;
  if (!std::isfinite(a.approx) || !std::isfinite(b.approx)) return false;
  const double scale = std::max(std::abs(a.approx), std::abs(b.approx));
  if (decimal_tolerance > 0 && std::abs(a.approx - b.approx) <= decimal_tolerance * scale) return true;
  if (a.exact && b.exact) return false;
  // Rounding in \sin(\pi) or \sqrt{2}^2-2 leaves ~1e-16 where 0 is meant: dust equals
  // a zero. Physical constants are tiny and nonzero (1.6e-19, 6.6e-34): two nonzero
  // values are never "both tiny, so equal", nor is \pi/10^{13} a zero.
  if (a.approx == 0.0 || b.approx == 0.0) return scale < kZeroDust;
  return std::abs(a.approx - b.approx) <= kRelativeTolerance * scale;
}

}  // namespace disa::llm::verify
