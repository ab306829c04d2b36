// Checks of an option's text before CLI11 (2.1) converts it. Left to CLI11, "--seed -3"
// becomes the unsigned 2^64 - 3 and an overflowing number the type's maximum, both
// without a word; integers are read with strtoll(text, 0), so "--seed 010" is seed 8,
// "--n 0x10" is 16 and "--prompt 08" "Could not convert"; floating options go through
// strtold, which takes "0x1p1", " 2" and "inf" and reads 1e-400 as 0; "--out ''" reaches
// the filesystem as an empty path (exit 1, naming nothing); and a failed
// CLI::PositiveNumber prints the range up to the double's 309-digit maximum. Each
// check's message names the value given:
//   disa: error: --seed: must be a non-negative integer, got '-3' (see --help)
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <system_error>
#include <type_traits>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "src/decimal_number.h"
#include "src/json_strict.h"

namespace disa::cli {

// `text` as a base-10 Int (no sign for an unsigned one, no '+'), rewritten to its
// canonical decimal ("010" to "10"); otherwise why not. CLI11 then converts, with its
// base-guessing strtoll, exactly the number checked here.
template <class Int>
std::string make_decimal_integer(std::string& text) {
  constexpr bool is_unsigned = std::is_unsigned_v<Int>;
  Int value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec == std::errc::result_out_of_range && !(is_unsigned && text.front() == '-')) {
    return is_unsigned ? fmt::format("got '{}', above the largest 64-bit value {}", text, UINT64_MAX)
                       : fmt::format("got '{}', outside the 64-bit range [{}, {}]", text, INT64_MIN, INT64_MAX);
  }
  if (ec != std::errc{} || ptr != end) {
    return fmt::format("must be {}, got '{}'", is_unsigned ? "a non-negative integer" : "an integer", text);
  }
  text = std::to_string(value);
  return {};
}

// Every integer option: a transform, so it runs before the option's other checks. These
// three have no description: CLI11 would append it to the type shown by --help.
inline CLI::Validator decimal_integer(bool non_negative) {
  return CLI::Validator(non_negative ? make_decimal_integer<std::uint64_t> : make_decimal_integer<std::int64_t>,
                        "", non_negative ? "non-negative integer" : "integer");
}

// A finite decimal number (src/decimal_number.h), rewritten to its exact hexadecimal
// form: CLI11 reads a double through a long double, and a decimal text rounded twice can
// land one ulp away from the double checked here; hexadecimal converts exactly.
inline CLI::Validator decimal_real() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        double value = 0.0;
        if (const std::string why = read_decimal(text, value); !why.empty()) {
          return fmt::format("{}, got '{}'", why, text);
        }
        text = fmt::format("{:a}", value);
        return {};
      },
      "", "decimal number");
}

// Valid UTF-8: names and labels end up in JSON output (a config.json, an anchor file,
// --json), which holds UTF-8 only, and nlohmann's dump() throws on anything else; refused
// here rather than failing after the work. One rule for every text option, since which of
// them a command records is its own business and changes.
inline CLI::Validator utf8_text() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const std::size_t at = invalid_utf8_offset(text);
        if (at == std::string::npos) return {};
        return fmt::format("must be valid UTF-8 (names and labels are recorded in JSON output, which holds UTF-8 "
                           "only), got '{}' with byte 0x{:02X} at offset {}",
                           text_excerpt(text), static_cast<unsigned char>(text[at]), at);
      },
      "", "UTF-8 text");
}

// A non-negative integer, for options of a signed type (--seed, --prompt); a check.
inline CLI::Validator non_negative_integer() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        std::uint64_t value = 0;
        const char* end = text.data() + text.size();
        const auto [ptr, ec] = std::from_chars(text.data(), end, value);
        if (text.empty() || text.front() == '-' || text.front() == '+' || ec != std::errc{} || ptr != end) {
          return ec == std::errc::result_out_of_range
                     ? fmt::format("got '{}', above the largest 64-bit value {}", text, UINT64_MAX)
                     : fmt::format("must be a non-negative integer, got '{}'", text);
        }
        return {};
      },
      "UINT", "non-negative integer");
}

// A whole number >= low (within the 64-bit signed range).
inline CLI::Validator integer_at_least(std::int64_t low) {
  return CLI::Validator(
      [low](std::string& text) -> std::string {
        std::int64_t value = 0;
        const char* end = text.data() + text.size();
        const auto [ptr, ec] = std::from_chars(text.data(), end, value);
        if (text.empty() || ec != std::errc{} || ptr != end || value < low) {
          return fmt::format("must be an integer >= {}, got '{}'", low, text);
        }
        return {};
      },
      fmt::format("INT>={}", low), fmt::format("integer >= {}", low));
}

// A whole number in [low, high].
inline CLI::Validator integer_in(std::int64_t low, std::int64_t high) {
  return CLI::Validator(
      [low, high](std::string& text) -> std::string {
        std::int64_t value = 0;
        const char* end = text.data() + text.size();
        const auto [ptr, ec] = std::from_chars(text.data(), end, value);
        if (text.empty() || ec != std::errc{} || ptr != end || value < low || value > high) {
          return fmt::format("must be an integer in [{}, {}], got '{}'", low, high, text);
        }
        return {};
      },
      fmt::format("INT in [{}, {}]", low, high), fmt::format("integer in [{}, {}]", low, high));
}

// A path that is not empty.
inline CLI::Validator non_empty_path() {
  return CLI::Validator(
      [](std::string& text) -> std::string { return text.empty() ? "must name a path, got ''" : std::string(); },
      "PATH", "non-empty path");
}

// The rule for the whole command tree, in every subcommand present and future: every
// integer option is base-10 digits and every floating one a decimal number, each read
// as checked; every text option is UTF-8; every --seed and --prompt is a non-negative
// integer, every --out a non-empty path and every --threads an integer in [1, 256] (as
// the stages' threads key: 100000 threads only thrash).
inline void check_common_options(CLI::App& app) {
  for (CLI::Option* option : app.get_options()) {
    // The value's type, before the ":<check>" descriptions CLI11 appends. A flag takes no
    // value (its type name may still say INT, as the --no-eval callback's).
    const std::string full = option->get_type_name();
    const std::string type = option->get_type_size() == 0 ? std::string() : full.substr(0, full.find(':'));
    if (type == "INT" || type == "UINT") option->transform(decimal_integer(type == "UINT"));
    if (type == "FLOAT") option->transform(decimal_real());
    if (type == "TEXT") option->check(utf8_text());
    const std::string name = option->get_name();
    if (name == "--seed" || name == "--prompt") option->check(non_negative_integer());
    if (name == "--out") option->check(non_empty_path());
    if (name == "--threads") option->check(integer_in(1, 256));
  }
  for (CLI::App* sub : app.get_subcommands({})) check_common_options(*sub);
}

}  // namespace disa::cli
