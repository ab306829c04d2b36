// Exact rational numbers for the Countdown solver and verifier: intermediate values
// such as 8/3 in 8/(3-8/3) = 24 must compare exactly, which doubles cannot promise.
// Magnitudes stay tiny (a handful of numbers <= 99), so int64 never overflows here.
#pragma once

#include <cstdint>
#include <numeric>
#include <string>

namespace disa::llm::countdown {

struct Rational {
  std::int64_t num = 0;
  std::int64_t den = 1;  // > 0, gcd(num, den) = 1

  static Rational of(std::int64_t n, std::int64_t d = 1) {
    if (d < 0) n = -n, d = -d;
    const std::int64_t g = std::gcd(n < 0 ? -n : n, d);
    return g > 1 ? Rational{n / g, d / g} : Rational{n, d};
  }
  bool is_zero() const { return num == 0; }
  bool is_integer() const { return den == 1; }
  friend bool operator==(const Rational&, const Rational&) = default;
  friend bool operator<(const Rational& a, const Rational& b) { return a.num * b.den < b.num * a.den; }
  friend Rational operator+(const Rational& a, const Rational& b) { return of(a.num * b.den + b.num * a.den, a.den * b.den); }
  friend Rational operator-(const Rational& a, const Rational& b) { return of(a.num * b.den - b.num * a.den, a.den * b.den); }
  friend Rational operator*(const Rational& a, const Rational& b) { return of(a.num * b.num, a.den * b.den); }
  // The caller checks b != 0 (a division by zero is a verdict, not an exception).
  friend Rational operator/(const Rational& a, const Rational& b) { return of(a.num * b.den, a.den * b.num); }
  std::string str() const { return den == 1 ? std::to_string(num) : std::to_string(num) + "/" + std::to_string(den); }
};

}  // namespace disa::llm::countdown
