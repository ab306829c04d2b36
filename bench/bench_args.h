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
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

namespace disa::bench {

namespace detail {

template <class T>
T parse_value(std::string_view name, std::string_view text) {
  T value{};
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc{} || ptr != end) {
    const char* what = ec == std::errc::result_out_of_range ? "out of range"
                       : std::is_integral_v<T>              ? "not an integer"
                                                            : "not a number";
    throw std::invalid_argument(std::string(name) + "=" + std::string(text) + ": " + what);
  }
  return value;
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
      try {
        value->push_back(detail::parse_value<std::int64_t>(name, text.substr(begin, comma - begin)));
      } catch (const std::invalid_argument& e) {
        // "--batches=1,8x: element 2 ('8x') is not an integer": the whole value, then the piece.
        const std::string what = e.what();
        throw std::invalid_argument(std::string(name) + "=" + std::string(text) + ": element " +
                                    std::to_string(element + 1) + " ('" + std::string(text.substr(begin, comma - begin)) +
                                    "')" + what.substr(what.rfind(':')));
      }
      if (comma == std::string_view::npos) break;
      begin = comma + 1;
    }
  } else {
    static_assert(std::is_arithmetic_v<T>, "take_flag: an integer, floating, string or integer-list flag");
    *value = detail::parse_value<T>(name, text);
  }
  return true;
}

}  // namespace disa::bench
