// The one rule for a number a user types as text (a command-line option, a KEY=VALUE
// setting): plain decimal, all of the text. strtod, which CLI11 and the settings used,
// also takes hexadecimal ("0x1p1" is 2), leading white space (" 2"), "inf", "nan" and
// "infinity", and reads 1e-400 as 0 with only errno to tell; what a user meant by any of
// those is a guess, so they are refused.
#pragma once

#include <charconv>
#include <cstdlib>
#include <string>
#include <string_view>
#include <system_error>

namespace disa {

// Reads `text` as a finite decimal number: an optional sign, digits with an optional
// point, an optional exponent ("2", "-0.5", "+.5", "1e-3", "4E+2"). Sets `value` and
// returns "" on success; otherwise returns why not, worded to follow the option and the
// text in a message ("--beta: expected a finite decimal number, got '0x1p1'"). A nonzero
// literal too small for a double (1e-400) is refused rather than read as 0; subnormal
// numbers (1e-310) are kept.
inline std::string read_decimal(std::string_view text, double& value) {
  const std::string kNotDecimal = "expected a finite decimal number";
  std::size_t i = 0;
  const auto digits = [&] {
    const std::size_t from = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    return i - from;
  };
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
  const std::size_t number_begin = !text.empty() && text[0] == '+' ? 1 : 0;  // from_chars takes '-' but not '+'
  std::size_t mantissa = digits();
  if (i < text.size() && text[i] == '.') {
    ++i;
    mantissa += digits();
  }
  if (mantissa == 0) return kNotDecimal;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    if (digits() == 0) return kNotDecimal;
  }
  if (i != text.size()) return kNotDecimal;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data() + number_begin, end, value);
  if (ec == std::errc::result_out_of_range) {
    // Which way it is out of range: strtod returns HUGE_VAL past the top, a value at most
    // the smallest normal number below the bottom.
    const double rough = std::strtod(std::string(text).c_str(), nullptr);
    return rough == 0.0 || (rough > -1.0 && rough < 1.0) ? "too small in magnitude for a double (it underflows to 0)"
                                                         : "beyond the largest finite double (about 1.8e308)";
  }
  if (ec != std::errc{} || ptr != end) return kNotDecimal;
  return {};
}

}  // namespace disa
