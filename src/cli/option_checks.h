// Checks of an option's text before CLI11 (2.1) converts it. Left to CLI11, "--seed -3"
// becomes the unsigned 2^64 - 3 and an overflowing number the type's maximum, both
// without a word; "--out ''" reaches the filesystem as an empty path (exit 1, naming
// nothing); and a failed CLI::PositiveNumber prints the range up to the double's
// 309-digit maximum. Each check's message names the value given:
//   disa: error: --seed: must be a non-negative integer, got '-3' (see --help)
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <system_error>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

namespace disa::cli {

// Digits only, within the 64-bit unsigned range.
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

// The rule for the whole command tree: every --seed and --prompt is a non-negative
// integer, every --out a non-empty path and every --threads an integer in [1, 256] (as
// the stages' threads key: 100000 threads only thrash), in every subcommand present and
// future.
inline void check_common_options(CLI::App& app) {
  for (CLI::Option* option : app.get_options()) {
    const std::string name = option->get_name();
    if (name == "--seed" || name == "--prompt") option->check(non_negative_integer());
    if (name == "--out") option->check(non_empty_path());
    if (name == "--threads") option->check(integer_in(1, 256));
  }
  for (CLI::App* sub : app.get_subcommands({})) check_common_options(*sub);
}

}  // namespace disa::cli
