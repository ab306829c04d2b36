// Exact rational numbers for the Countdown solver and verifier: intermediate values
// such as 8/3 in 8/(3-8/3) = 24 must compare exactly, which doubles cannot promise.
//
// Arithmetic is checked: the verifier evaluates model output, and a completion such as
// 999999*999999*999999*999999 leaves int64 (signed overflow is undefined behaviour, and
// in practice a wrapped value could even equal the target). add/subtract/multiply/divide return
// nullopt when a numerator or denominator would leave int64; the verifier rejects such an
// expression as it does a division by zero, and the solver drops it. INT64_MIN is kept
// out too, so that negating and taking gcd of any held value is defined. The solver's own
// values (at most 6 numbers <= 99) stay far inside the range; comparisons multiply in
// 128 bits and cannot overflow at all.
#pragma once

#include <cstdint>
#include <limits>
#include <numeric>
#include <optional>
#include <string>

namespace disa::llm::countdown {

struct Rational {
  std::int64_t num = 0;
  std::int64_t den = 1;  // > 0, gcd(num, den) = 1; neither is INT64_MIN

  // For values known to be in range (the parsed numbers, the target): |n|, |d| < 2^63.
  static Rational of(std::int64_t n, std::int64_t d = 1) {
    if (d < 0) n = -n, d = -d;
    const std::int64_t g = std::gcd(n < 0 ? -n : n, d);
    return g > 1 ? Rational{n / g, d / g} : Rational{n, d};
  }
  bool is_zero() const { return num == 0; }
  bool is_integer() const { return den == 1; }
  friend bool operator==(const Rational&, const Rational&) = default;
  friend bool operator<(const Rational& a, const Rational& b) {
    return static_cast<__int128>(a.num) * b.den < static_cast<__int128>(b.num) * a.den;
  }
  // nullopt on overflow (see above). divide: the caller checks b != 0 (a division by zero is
  // a verdict of its own, not an overflow).
  friend std::optional<Rational> add(const Rational& a, const Rational& b) { return sum(a, b, false); }
  friend std::optional<Rational> subtract(const Rational& a, const Rational& b) { return sum(a, b, true); }
  friend std::optional<Rational> multiply(const Rational& a, const Rational& b) {
    std::int64_t n = 0, d = 0;
    if (__builtin_mul_overflow(a.num, b.num, &n) || __builtin_mul_overflow(a.den, b.den, &d)) return std::nullopt;
    return checked_of(n, d);
  }
  friend std::optional<Rational> divide(const Rational& a, const Rational& b) {
    std::int64_t n = 0, d = 0;
    if (__builtin_mul_overflow(a.num, b.den, &n) || __builtin_mul_overflow(a.den, b.num, &d)) return std::nullopt;
    return checked_of(n, d);
  }
  std::string str() const { return den == 1 ? std::to_string(num) : std::to_string(num) + "/" + std::to_string(den); }

 private:
  static std::optional<Rational> checked_of(std::int64_t n, std::int64_t d) {
    constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
    if (n == kMin || d == kMin) return std::nullopt;  // -n or |n| would overflow in of()
    return of(n, d);
  }
  static std::optional<Rational> sum(const Rational& a, const Rational& b, bool subtract) {
    std::int64_t x = 0, y = 0, n = 0, d = 0;
    if (__builtin_mul_overflow(a.num, b.den, &x) || __builtin_mul_overflow(b.num, a.den, &y) ||
        __builtin_mul_overflow(a.den, b.den, &d)) {
      return std::nullopt;
    }
    if (subtract ? __builtin_sub_overflow(x, y, &n) : __builtin_add_overflow(x, y, &n)) return std::nullopt;
    return checked_of(n, d);
  }
};

}  // namespace disa::llm::countdown
