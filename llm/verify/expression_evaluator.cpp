#include "llm/verify/expression_evaluator.h"

#include <cctype>
#include <cstdint>
#include <string>
#include <cmath>
#include <numbers>

namespace disa::llm::verify {
namespace {

using boost::multiprecision::cpp_int;

constexpr int kMaxDepth = 64;
constexpr long kMaxExponent = 10000;
constexpr unsigned kMaxExactBits = 4096;

struct ParseFailure {};

bool too_big(const Rational& r) {
  return boost::multiprecision::msb(boost::multiprecision::abs(numerator(r)) + 1) > kMaxExactBits ||
         boost::multiprecision::msb(denominator(r)) > kMaxExactBits;
}

NumericValue checked(std::optional<Rational> exact, double approx) {
  if (exact && too_big(*exact)) exact.reset();
  if (exact) return NumericValue::of_exact(*exact);
  return NumericValue::of_approx(approx);
}

NumericValue add(const NumericValue& a, const NumericValue& b, int sign) {
  std::optional<Rational> e;
  if (a.exact && b.exact) e = sign > 0 ? Rational(*a.exact + *b.exact) : Rational(*a.exact - *b.exact);
  return checked(e, sign > 0 ? a.approx + b.approx : a.approx - b.approx);
}

NumericValue multiply(const NumericValue& a, const NumericValue& b) {
  std::optional<Rational> e;
  if (a.exact && b.exact) e = *a.exact * *b.exact;
  return checked(e, a.approx * b.approx);
}

NumericValue divide(const NumericValue& a, const NumericValue& b) {
  if (b.exact ? *b.exact == 0 : b.approx == 0.0) throw ParseFailure{};  // x/0 is no number
  std::optional<Rational> e;
  if (a.exact && b.exact) e = *a.exact / *b.exact;
  return checked(e, a.approx / b.approx);
}

// The exact root of a rational when it has one (sqrt(9/4) = 3/2), else nullopt.
std::optional<Rational> exact_root(const Rational& r, unsigned n) {
  if (r < 0) return std::nullopt;
  const cpp_int num = numerator(r), den = denominator(r);
  auto root = [n](const cpp_int& x) -> std::optional<cpp_int> {
    cpp_int guess = n == 2 ? boost::multiprecision::sqrt(x)
                           : cpp_int(static_cast<long long>(std::llround(std::pow(x.convert_to<double>(), 1.0 / n))));
    for (cpp_int g = guess > 1 ? guess - 1 : cpp_int(0); g <= guess + 1; ++g) {
      if (boost::multiprecision::pow(g, n) == x) return g;
    }
    return std::nullopt;
  };
  const auto a = root(num), b = root(den);
  if (!a || !b) return std::nullopt;
  return Rational(*a, *b);
}

NumericValue power(const NumericValue& base, const NumericValue& exponent) {
  if (exponent.exact && denominator(*exponent.exact) == 1 && base.exact) {
    const cpp_int n = numerator(*exponent.exact);
    if (boost::multiprecision::abs(n) <= kMaxExponent) {
      const long k = n.convert_to<long>();
      const double approx = std::pow(base.approx, static_cast<double>(k));
      if (*base.exact == 0 && k < 0) throw ParseFailure{};
      // Predict the size first: |num|^k must stay under the exact limit.
      const auto bits = (boost::multiprecision::msb(boost::multiprecision::abs(numerator(*base.exact)) + 1) +
                         boost::multiprecision::msb(denominator(*base.exact)) + 2) *
                        static_cast<unsigned long>(std::abs(k));
      if (bits <= 2 * kMaxExactBits) {
        Rational r(boost::multiprecision::pow(numerator(*base.exact), static_cast<unsigned>(std::abs(k))),
                   boost::multiprecision::pow(denominator(*base.exact), static_cast<unsigned>(std::abs(k))));
        if (k < 0) r = 1 / r;
        return checked(r, approx);
      }
      return NumericValue::of_approx(approx);
    }
  }
  const double approx = std::pow(base.approx, exponent.approx);
  if (!std::isfinite(approx)) throw ParseFailure{};
  // x^{1/2} of a perfect square stays exact.
  if (base.exact && exponent.exact && numerator(*exponent.exact) == 1 && denominator(*exponent.exact) <= 16) {
    if (auto r = exact_root(*base.exact, denominator(*exponent.exact).convert_to<unsigned>())) {
      return NumericValue::of_exact(*r);
    }
  }
  return NumericValue::of_approx(approx);
}

// A relation in any of its spellings (the normaliser leaves \le \ge \ne): never a variable,
// or x\leq 3 and 3x\leq would be one product.
bool is_relation_command(std::string_view name) {
  // Order and equality, their negations, and the other relations and arrows an answer
  // may hold (A\subset B, a\mid b, A\to B were products of variables, so B\subset A
  // "equalled" it).
  // clang-format off
  static constexpr std::string_view kRelations[] = {
      "le", "leq", "leqslant", "leqq", "ge", "geq", "geqslant", "geqq", "ne", "neq", "lt", "gt", "not", "nless",
      "ngtr", "nleq", "ngeq", "nleqslant", "ngeqslant", "lneq", "gneq", "lneqq", "gneqq", "lesssim", "gtrsim", "ll",
      "gg", "approx", "sim", "simeq", "cong", "equiv", "propto", "subset", "subseteq", "subsetneq", "supset",
      "supseteq", "supsetneq", "nsubseteq", "nsupseteq", "notin", "ni", "mid", "nmid", "parallel", "perp", "prec",
      "preceq", "succ", "succeq", "to", "gets", "mapsto", "rightarrow", "leftarrow", "Rightarrow", "Leftarrow",
      "leftrightarrow", "Leftrightarrow", "iff", "implies", "impliedby", "longrightarrow", "Longrightarrow"};
  // clang-format on
  for (const std::string_view r : kRelations) {
    if (name == r) return true;
  }
  return false;
}

// Commands that are neither functions, numbers nor variables: the parser stops there.
bool is_operator_command(std::string_view name) {
  return name == "cdot" || name == "times" || name == "div" || name == "frac" || name == "sqrt" || name == "pi" ||
         name == "infty" || is_relation_command(name) || name == "cup" || name == "cap" || name == "in" ||
         name == "lfloor" || name == "rfloor" || name == "lceil" || name == "rceil" || name == "binom";
}

bool is_function(std::string_view name) {
  static constexpr std::string_view kFunctions[] = {
      "sin",    "cos",    "tan",    "cot",    "sec",    "csc",  "arcsin", "arccos", "arctan",
      "arccot", "arcsec", "arccsc", "sinh",   "cosh",   "tanh", "ln",     "log",    "exp"};
  for (const std::string_view f : kFunctions) {
    if (name == f) return true;
  }
  return false;
}

// \dot{x}, \hat{n}, \vec{v}: an accent and its argument name one variable.
bool is_accent(std::string_view name) {
  return name == "dot" || name == "ddot" || name == "hat" || name == "bar" || name == "vec" || name == "tilde";
}

// 1/x for the reciprocal functions; a zero (\cot 0, \csc 0) has no value.
double reciprocal(double x) {
  if (x == 0.0) throw ParseFailure{};
  return 1.0 / x;
}

// The functions whose ^{-1} names their inverse (arcsin .., and arcsinh .. for the
// hyperbolic ones, as latex2sympy reads \sinh^{-1} as asinh).
bool is_trig(std::string_view name) {
  return name == "sin" || name == "cos" || name == "tan" || name == "cot" || name == "sec" || name == "csc" ||
         name == "sinh" || name == "cosh" || name == "tanh";
}

double apply_function(std::string_view name, double x) {
  if (name == "sin") return std::sin(x);
  if (name == "cos") return std::cos(x);
  if (name == "tan") return std::tan(x);
  if (name == "cot") return reciprocal(std::tan(x));
  if (name == "sec") return reciprocal(std::cos(x));
  if (name == "csc") return reciprocal(std::sin(x));
  if (name == "sinh") return std::sinh(x);
  if (name == "cosh") return std::cosh(x);
  if (name == "tanh") return std::tanh(x);
  if (name == "exp") return std::exp(x);
  if (name == "arcsinh") return std::asinh(x);
  if (name == "arccosh") {
    if (x < 1) throw ParseFailure{};
    return std::acosh(x);
  }
  if (name == "arctanh") {
    if (x <= -1 || x >= 1) throw ParseFailure{};
    return std::atanh(x);
  }
  if (name == "arctan") return std::atan(x);
  // As sympy's acot (what latex2sympy reads \arccot as): atan(1/x), in (-pi/2, pi/2].
  if (name == "arccot") return x == 0.0 ? std::numbers::pi / 2 : std::atan(1.0 / x);
  if (name == "arcsin" || name == "arccos") {
    if (x < -1 || x > 1) throw ParseFailure{};
    return name == "arcsin" ? std::asin(x) : std::acos(x);
  }
  if (name == "arcsec" || name == "arccsc") {  // acos(1/x), asin(1/x): defined for |x| >= 1
    if (x > -1 && x < 1) throw ParseFailure{};
    return name == "arcsec" ? std::acos(1.0 / x) : std::asin(1.0 / x);
  }
  if (x <= 0) throw ParseFailure{};
  return std::log(x);  // \log as the natural log: both sides are read the same way
}

// A variable's value at `point`: FNV-1a of the name, mapped into [1.5, 3.5) at odd
// points and [0.1, 1.1) at even ones (so \arcsin(x), \sqrt{1-x^2} have points too).
double variable_value(std::string_view name, unsigned point) {
  std::uint64_t h = 1469598103934665603ull ^ (point * 0x9E3779B97F4A7C15ull);
  for (const char c : name) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  h ^= h >> 29;
  const double unit = static_cast<double>(h % 1000003) / 1000003.0;
  return point % 2 == 1 ? 1.5 + 2.0 * unit : 0.1 + unit;
}

class Parser {
 public:
  // `point`: nullopt for plain numbers; else variables are allowed and take values there.
  Parser(std::string_view s, std::optional<unsigned> point) : s_(s), point_(point) {}
  bool saw_variable() const { return saw_variable_; }

  NumericValue parse_all() {
    NumericValue v = expression();
    if (!at_end()) throw ParseFailure{};
    if (!std::isfinite(v.approx)) throw ParseFailure{};
    return v;
  }

 private:
  std::string_view s_;
  std::optional<unsigned> point_;
  bool saw_variable_ = false;
  // Mutable so that the const look-ahead can step over the one space the normaliser
  // keeps between a command and a letter ("\\lambda k").
  mutable std::size_t pos_ = 0;
  int depth_ = 0;

  void skip_space() const {
    while (pos_ < s_.size() && s_[pos_] == ' ') ++pos_;
  }

  // The letters of a command starting at `at` (a backslash), "" if none.
  std::string_view command_name(std::size_t at) const {
    if (at >= s_.size() || s_[at] != '\\') return {};
    std::size_t end = at + 1;
    while (end < s_.size() && std::isalpha(static_cast<unsigned char>(s_[end]))) ++end;
    return s_.substr(at + 1, end - at - 1);
  }

  struct DepthGuard {
    explicit DepthGuard(int& d) : d_(d) {
      if (++d_ > kMaxDepth) throw ParseFailure{};
    }
    ~DepthGuard() { --d_; }
    int& d_;
  };

  bool at_end() const {
    skip_space();
    return pos_ >= s_.size();
  }
  char peek() const { return at_end() ? '\0' : s_[pos_]; }
  bool eat(std::string_view token) {
    skip_space();
    if (s_.substr(pos_, token.size()) != token) return false;
    // A command must not be the prefix of a longer one (\pi vs \pin).
    if (token.front() == '\\' && pos_ + token.size() < s_.size() &&
        std::isalpha(static_cast<unsigned char>(s_[pos_ + token.size()]))) {
      return false;
    }
    pos_ += token.size();
    return true;
  }
  void expect(char c) {
    if (peek() != c) throw ParseFailure{};
    ++pos_;
  }

  NumericValue expression() {
    DepthGuard guard(depth_);
    NumericValue v = term();
    while (true) {
      if (eat("+")) {
        v = add(v, term(), +1);
      } else if (eat("-")) {
        v = add(v, term(), -1);
      } else {
        return v;
      }
    }
  }

  bool starts_factor() const {
    const char c = peek();
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '(' || c == '{' || c == '[') return true;
    skip_space();
    const std::string_view cmd = command_name(pos_);
    if (cmd == "frac" || cmd == "sqrt" || cmd == "pi") return true;
    if (!point_) return false;
    return std::isalpha(static_cast<unsigned char>(c)) || (!cmd.empty() && !is_operator_command(cmd));
  }

  NumericValue term() {
    NumericValue v = signed_factor();
    while (true) {
      if (eat("*") || eat("\\cdot") || eat("\\times")) {
        v = multiply(v, signed_factor());
      } else if (eat("/") || eat("\\div")) {
        v = divide(v, signed_factor());
      } else if (starts_factor()) {  // implicit product: 2\sqrt{3}, 3\pi, 2(5)
        v = multiply(v, power_factor());
      } else {
        return v;
      }
    }
  }

  NumericValue signed_factor() {
    DepthGuard guard(depth_);
    if (eat("-")) return multiply(NumericValue::of_exact(-1), signed_factor());
    if (eat("+")) return signed_factor();
    return power_factor();
  }

  NumericValue power_factor() {
    NumericValue base = primary();
    if (eat("^")) {
      NumericValue exponent = peek() == '{' ? primary() : (peek() == '-' ? signed_factor() : primary_digit());
      return power(base, exponent);
    }
    return base;
  }

  // An exponent written without braces is the whole number that follows, as latex2sympy
  // reads it: 2^10 is 1024 and x^0.5 is the root (TeX would typeset 2^1 then 0, but
  // nobody means 2^1 * 0 = 0). A space ends it: "\sin^2 3x" is sin(3x)^2.
  NumericValue primary_digit() {
    if (!std::isdigit(static_cast<unsigned char>(peek()))) return primary();
    cpp_int digits = 0, scale = 1;
    bool seen_point = false;
    for (const std::size_t begin = pos_; pos_ < s_.size() && pos_ - begin <= 1000; ++pos_) {
      const char c = s_[pos_];
      if (c == '.' && !seen_point && pos_ + 1 < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_ + 1]))) {
        seen_point = true;
        continue;
      }
      if (!std::isdigit(static_cast<unsigned char>(c))) break;
      digits = digits * 10 + (c - '0');
      if (seen_point) scale *= 10;
    }
    const Rational value(digits, scale);
    return checked(value, value.convert_to<double>());
  }

  NumericValue group(char open, char close) {
    expect(open);
    NumericValue v = expression();
    expect(close);
    return v;
  }

  NumericValue primary() {
    DepthGuard guard(depth_);
    const char c = peek();
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') return number();
    if (c == '(') return group('(', ')');
    if (c == '{') return group('{', '}');
    if (c == '[') return group('[', ']');
    if (eat("\\frac")) {
      NumericValue num = group('{', '}');
      return divide(num, group('{', '}'));
    }
    if (eat("\\sqrt")) {
      unsigned index = 2;
      if (peek() == '[') {
        NumericValue n = group('[', ']');
        if (!n.exact || denominator(*n.exact) != 1 || *n.exact < 2 || *n.exact > 16) throw ParseFailure{};
        index = numerator(*n.exact).convert_to<unsigned>();
      }
      NumericValue x = group('{', '}');
      if (x.approx < 0 && index % 2 == 0) throw ParseFailure{};
      if (x.exact) {
        if (auto r = exact_root(boost::multiprecision::abs(*x.exact), index)) {
          return NumericValue::of_exact(*x.exact < 0 ? Rational(-*r) : *r);
        }
      }
      const double root = std::pow(std::abs(x.approx), 1.0 / index);
      return NumericValue::of_approx(x.approx < 0 ? -root : root);
    }
    if (eat("\\pi")) return NumericValue::of_approx(std::numbers::pi);
    if (point_) return symbol();
    throw ParseFailure{};
  }

  // A function application, Euler's e, or a variable (only when evaluating at a point).
  NumericValue symbol() {
    skip_space();
    const std::size_t begin = pos_;
    const std::string_view cmd = command_name(pos_);
    if (!cmd.empty()) {
      if (is_operator_command(cmd)) throw ParseFailure{};
      pos_ += 1 + cmd.size();
      if (is_function(cmd)) {
        std::optional<NumericValue> power_of;
        if (eat("^")) {
          if (peek() == '{') {
            power_of = group('{', '}');
          } else if (eat("-")) {  // \sin^-1 x
            power_of = multiply(NumericValue::of_exact(-1), primary_digit());
          } else {
            power_of = primary_digit();
          }
        }
        // \sin^{-1} x is arcsin x, not 1/sin x (latex2sympy and sympy read it so; also
        // \cos \tan \cot \sec \csc, and \sinh^{-1} is arcsinh); any other power is of the
        // value: \sin^2 x = (sin x)^2.
        std::string name(cmd);
        if (power_of && power_of->exact && *power_of->exact == -1 && is_trig(cmd)) {
          name = "arc" + name;
          power_of.reset();
        }
        const NumericValue arg = peek() == '(' ? group('(', ')') : peek() == '{' ? group('{', '}') : bare_argument();
        NumericValue v = NumericValue::of_approx(apply_function(name, arg.approx));
        return power_of ? power(v, *power_of) : v;
      }
      if (is_accent(cmd) && peek() == '{') {
        const std::size_t close = s_.find('}', pos_);
        if (close == std::string_view::npos) throw ParseFailure{};
        pos_ = close + 1;
      }
    } else if (std::isalpha(static_cast<unsigned char>(peek()))) {
      if (peek() == 'e' && (pos_ + 1 >= s_.size() || s_[pos_ + 1] != '_')) {
        ++pos_;
        return NumericValue::of_approx(std::numbers::e);
      }
      ++pos_;
    } else {
      throw ParseFailure{};
    }
    // An optional subscript and primes belong to the name: C_1, \rho_{0}, x'.
    if (peek() == '_') {
      ++pos_;
      if (peek() == '{') {
        const std::size_t close = s_.find('}', pos_);
        if (close == std::string_view::npos) throw ParseFailure{};
        pos_ = close + 1;
      } else if (!at_end()) {
        ++pos_;
      }
    }
    while (peek() == '\'') ++pos_;
    // I(0), V(t), Q(2): a capital letter directly followed by one number or one letter in
    // parentheses, with no coefficient before it, is a function's value, which has no
    // value here; as a product, I(0)e^{-t/RC} would be zero and equal to any 0. Lower
    // case and coefficients keep the product reading: y(2) = 2y, 6t(2) = 12t.
    const bool capital = pos_ == begin + 1 && std::isupper(static_cast<unsigned char>(s_[begin]));
    const bool leads = begin == 0 || std::string_view("+-*/(=,{ ").find(s_[begin - 1]) != std::string_view::npos;
    if (capital && leads && pos_ < s_.size() && s_[pos_] == '(') {
      const std::size_t close = s_.find(')', pos_);
      if (close != std::string_view::npos) {
        std::string_view inside = s_.substr(pos_ + 1, close - pos_ - 1);
        while (!inside.empty() && inside.front() == ' ') inside.remove_prefix(1);
        while (!inside.empty() && inside.back() == ' ') inside.remove_suffix(1);
        const bool one_letter = inside.size() == 1 && std::isalpha(static_cast<unsigned char>(inside[0]));
        const bool one_number = !inside.empty() && inside.find_first_not_of("0123456789.-") == std::string_view::npos;
        if (one_letter || one_number) throw ParseFailure{};
      }
    }
    saw_variable_ = true;
    // The look-ahead may have stepped over a space: "\\omega t" names \\omega, not "\\omega ".
    std::string name(s_.substr(begin, pos_ - begin));
    std::erase(name, ' ');
    return NumericValue::of_approx(variable_value(name, *point_));
  }

  // The argument of a function written without parentheses, as latex2sympy reads it:
  // the run of implicitly multiplied factors that follows, so \sin 2x is sin(2x) and
  // \ln 2x is ln(2x) (not x sin 2). The run ends at + - , = and any explicit operator
  // (\sin x/2 is sin(x)/2; latex2sympy would take x/2), and before another function
  // or \sqrt: \sin x\cos x is sin(x)cos(x).
  NumericValue bare_argument() {
    NumericValue arg = power_factor();
    while (starts_factor() && !starts_function()) arg = multiply(arg, power_factor());
    return arg;
  }

  bool starts_function() const {
    skip_space();
    const std::string_view cmd = command_name(pos_);
    return is_function(cmd) || cmd == "sqrt";
  }

  NumericValue number() {
    const std::size_t begin = pos_;
    cpp_int digits = 0;
    cpp_int scale = 1;
    bool seen_point = false, seen_digit = false;
    while (pos_ < s_.size()) {  // a space ends the literal: "1 2" is not 12
      const char c = s_[pos_];
      if (std::isdigit(static_cast<unsigned char>(c))) {
        digits = digits * 10 + (c - '0');
        if (seen_point) scale *= 10;
        seen_digit = true;
      } else if (c == '.' && !seen_point) {
        seen_point = true;
      } else {
        break;
      }
      ++pos_;
      if (pos_ - begin > 1000) throw ParseFailure{};  // a 1000-digit literal is no answer
    }
    if (!seen_digit) throw ParseFailure{};
    // "3\quad 5" (normalised "3 5") is two numbers with nothing between them: neither 35
    // nor the product 15, so no number.
    if (pos_ < s_.size() && s_[pos_] == ' ') {
      const char next = peek();
      if (std::isdigit(static_cast<unsigned char>(next)) || next == '.') throw ParseFailure{};
    }
    Rational value(digits, scale);
    if (!seen_point) {
      if (auto fraction = mixed_fraction()) return checked(value + *fraction, (value + *fraction).convert_to<double>());
    }
    // Scientific notation: 3.83e35, 1e-3 (an "e" followed by a signed integer).
    if ((peek() == 'e' || peek() == 'E') && pos_ + 1 < s_.size()) {
      std::size_t p = pos_ + 1;
      int sign = 1;
      if (s_[p] == '-' || s_[p] == '+') sign = s_[p++] == '-' ? -1 : 1;
      const std::size_t digits_begin = p;
      while (p < s_.size() && std::isdigit(static_cast<unsigned char>(s_[p])) && p - digits_begin < 4) ++p;
      if (p > digits_begin && (p >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[p])))) {
        const int exponent = sign * std::stoi(std::string(s_.substr(digits_begin, p - digits_begin)));
        pos_ = p;
        return power_scaled(value, exponent);
      }
    }
    return checked(value, value.convert_to<double>());
  }

  // After an integer literal: "\frac{p}{q}" with integers 0 < p < q (spaces before it
  // allowed) makes a mixed number, 1\frac{4}{5} = 9/5 and 137 \frac{1}{2} = 275/2, as
  // MATH writes them; read as a product, 1\frac{4}{5} would equal the wrong 4/5. The
  // sign in front applies to the whole (-1\frac{1}{2} = -3/2). Anything else after the
  // integer (2\frac{x}{3}, 2\sqrt{3}, 2\frac{3}{2}) stays an implicit product.
  std::optional<Rational> mixed_fraction() {
    const std::size_t start = pos_;
    skip_space();
    const auto integer_in_braces = [this]() -> std::optional<cpp_int> {
      if (pos_ >= s_.size() || s_[pos_] != '{') return std::nullopt;
      std::size_t p = pos_ + 1;
      while (p < s_.size() && std::isdigit(static_cast<unsigned char>(s_[p])) && p - pos_ <= 18) ++p;
      if (p == pos_ + 1 || p >= s_.size() || s_[p] != '}') return std::nullopt;
      const cpp_int value(std::string(s_.substr(pos_ + 1, p - pos_ - 1)));
      pos_ = p + 1;
      return value;
    };
    if (command_name(pos_) == "frac") {
      pos_ += 5;
      const auto p = integer_in_braces();
      const auto q = p ? integer_in_braces() : std::nullopt;
      if (p && q && *p > 0 && *p < *q) return Rational(*p, *q);
    }
    pos_ = start;
    return std::nullopt;
  }

  static NumericValue power_scaled(const Rational& mantissa, int exponent) {
    return multiply(NumericValue::of_exact(mantissa),
                    power(NumericValue::of_exact(10), NumericValue::of_exact(Rational(exponent))));
  }
};

}  // namespace

std::optional<NumericValue> evaluate_number(std::string_view normalized) {
  if (normalized.empty()) return std::nullopt;
  try {
    return Parser(normalized, std::nullopt).parse_all();
  } catch (const ParseFailure&) {
    return std::nullopt;
  }
}

std::optional<PointValue> evaluate_at_point(std::string_view normalized, unsigned point) {
  if (normalized.empty()) return std::nullopt;
  try {
    Parser parser(normalized, point);
    const NumericValue v = parser.parse_all();
    return PointValue{v.approx, parser.saw_variable()};
  } catch (const ParseFailure&) {
    return std::nullopt;
  }
}

}  // namespace disa::llm::verify
