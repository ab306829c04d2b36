// Shared by the benchmark programs: their own --name=value flags are taken off argv
// before the rest goes to Google Benchmark (or, for bench_kernels, is rejected).
//
//   if (take_flag(arg, "--rows", &setup.rows)) ...
//
// A value must parse whole ("12x" is not 12, "" is nothing): a bad one throws
// std::invalid_argument naming the flag and the value, "--rows=12x: not an integer", so
// a typo never becomes a silently different benchmark.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

namespace disa::bench {

namespace detail {

// The value of `text` parsed whole, or nullopt with *why set ("not an integer").
template <class T>
std::optional<T> parse_value(std::string_view text, const char** why) {
  T value{};
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec == std::errc{} && ptr == end) return value;
  *why = ec == std::errc::result_out_of_range ? "out of range"
         : std::is_integral_v<T>              ? "not an integer"
                                              : "not a number";
  return std::nullopt;
}

}  // namespace detail

// True (and *value set) when arg is "name=value"; the value parsed as T (an integer or
// floating type, std::string, or a comma-separated list of integers).
template <class T>
bool take_flag(std::string_view arg, std::string_view name, T* value) {
  if (arg.size() <= name.size() || arg.substr(0, name.size()) != name || arg[name.size()] != '=') return false;
  const std::string_view text = arg.substr(name.size() + 1);
  if constexpr (std::is_same_v<T, std::string>) {
    *value = std::string(text);
  } else if constexpr (std::is_same_v<T, std::vector<std::int64_t>>) {
    value->clear();
    for (std::size_t begin = 0, element = 0;; ++element) {
      const std::size_t comma = text.find(',', begin);
      const std::string_view piece = text.substr(begin, comma - begin);
      const char* why = nullptr;
      const auto parsed = detail::parse_value<std::int64_t>(piece, &why);
      if (!parsed) {  // "--batches=1,8x: element 2 ('8x'): not an integer"
        throw std::invalid_argument(std::string(name) + "=" + std::string(text) + ": element " +
                                    std::to_string(element + 1) + " ('" + std::string(piece) + "'): " + why);
      }
      value->push_back(*parsed);
      if (comma == std::string_view::npos) break;
      begin = comma + 1;
    }
  } else {
    static_assert(std::is_arithmetic_v<T>, "take_flag: an integer, floating, string or integer-list flag");
    const char* why = nullptr;
    const auto parsed = detail::parse_value<T>(text, &why);
    if (!parsed) throw std::invalid_argument(std::string(name) + "=" + std::string(text) + ": " + why);
    *value = *parsed;
  }
  return true;
}

}  // namespace disa::bench
