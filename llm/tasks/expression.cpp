#include "llm/tasks/expression.h"

#include <algorithm>
#include <cctype>

namespace disa::llm::countdown {
namespace {

using Kind = Normal::Kind;

void sign(Normal& n) {
  std::sort(n.operands.begin(), n.operands.end(), [](const auto& x, const auto& y) {
    return x.first != y.first ? x.first < y.first : x.second.signature < y.second.signature;
  });
  // Brackets distinguish the kinds so that signatures of different trees never collide.
  std::string s(1, n.kind == Kind::kSum ? '(' : '[');
  for (const auto& [flag, operand] : n.operands) {
    s += n.kind == Kind::kSum ? (flag ? '-' : '+') : (flag ? '/' : '*');
    s += operand.signature;
  }
  s += n.kind == Kind::kSum ? ')' : ']';
  n.signature = std::move(s);
}

// Appends `x` to `out` (of kind `kind`) with flag `flip`, splicing x's operands in when it
// is of the same kind: that splice is what makes the form associative.
void append(Normal& out, const Normal& x, bool flip) {
  if (x.kind == out.kind) {
    for (const auto& [flag, operand] : x.operands) out.operands.emplace_back(flag != flip, operand);
  } else {
    out.operands.emplace_back(flip, x);
  }
}

std::string render_operand(const Normal& n, Kind parent) {
  const std::string s = render(n);
  return parent == Kind::kProduct && n.kind == Kind::kSum ? "(" + s + ")" : s;
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  ParsedExpression run() {
    ParsedExpression result;
    if (text_.empty()) return fail("empty expression");
    if (text_.size() > kMaxExpressionLength) {
      return fail("longer than " + std::to_string(kMaxExpressionLength) + " characters");
    }
    Value v = expr();
    if (!error_.empty()) return fail(error_);
    if (pos_ != text_.size()) return fail(unexpected());
    result.expression = std::move(v.normal);
    result.value = v.value;
    result.value_error = v.error;
    return result;
  }

 private:
  struct Value {
    Normal normal;
    std::optional<Rational> value;  // nullopt after a division by zero or an overflow
    ValueError error = ValueError::kNone;  // why value is nullopt: the first failure, left to right
  };

  ParsedExpression fail(std::string why) {
    ParsedExpression r;
    r.error = std::move(why);
    return r;
  }
  std::string unexpected() const {
    if (pos_ >= text_.size()) return "unexpected end at character " + std::to_string(pos_ + 1);
    return "unexpected '" + std::string(1, text_[pos_]) + "' at character " + std::to_string(pos_ + 1);
  }
  bool at(char c) const { return pos_ < text_.size() && text_[pos_] == c; }

  static Value apply(const Value& a, char op, const Value& b) {
    Value r{combine(a.normal, op, b.normal), std::nullopt, a.error != ValueError::kNone ? a.error : b.error};
    if (r.error != ValueError::kNone) return r;
    if (op == '/' && b.value->is_zero()) {
      r.error = ValueError::kDivisionByZero;
      return r;
    }
    switch (op) {
      case '+': r.value = add(*a.value, *b.value); break;
      case '-': r.value = subtract(*a.value, *b.value); break;
      case '*': r.value = multiply(*a.value, *b.value); break;
      default: r.value = divide(*a.value, *b.value);
    }
    if (!r.value) r.error = ValueError::kOverflow;
    return r;
  }

  Value expr() {
    Value v = term();
    while (error_.empty() && (at('+') || at('-'))) {
      const char op = text_[pos_++];
      const Value rhs = term();
      if (!error_.empty()) break;
      v = apply(v, op, rhs);
    }
    return v;
  }
  Value term() {
    Value v = factor();
    while (error_.empty() && (at('*') || at('/'))) {
      const char op = text_[pos_++];
      const Value rhs = factor();
      if (!error_.empty()) break;
      v = apply(v, op, rhs);
    }
    return v;
  }
  Value factor() {
    if (at('(')) {
      ++pos_;
      Value v = expr();
      if (!error_.empty()) return v;
      if (!at(')')) {
        error_ = unexpected() + " (expected ')')";
        return v;
      }
      ++pos_;
      return v;
    }
    const std::size_t start = pos_;
    while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    if (pos_ == start) {
      error_ = unexpected() + " (expected a number or '(')";
      return {};
    }
    if (text_[start] == '0' || pos_ - start > 6) {
      error_ = "malformed number '" + std::string(text_.substr(start, pos_ - start)) + "' at character " +
               std::to_string(start + 1);
      return {};
    }
    const std::int64_t n = std::stoll(std::string(text_.substr(start, pos_ - start)));
    return {make_number(n), Rational::of(n), ValueError::kNone};
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::string error_;
};

}  // namespace

Normal make_number(std::int64_t n) {
  Normal r;
  r.kind = Kind::kNumber;
  r.number = n;
  r.signature = std::to_string(n);
  return r;
}

Normal combine(const Normal& a, char op, const Normal& b) {
  Normal r;
  r.kind = op == '+' || op == '-' ? Kind::kSum : Kind::kProduct;
  append(r, a, false);
  append(r, b, op == '-' || op == '/');
  sign(r);
  return r;
}

std::vector<std::int64_t> leaves(const Normal& n) {
  if (n.kind == Kind::kNumber) return {n.number};
  std::vector<std::int64_t> out;
  for (const auto& [flag, operand] : n.operands) {
    const std::vector<std::int64_t> sub = leaves(operand);
    out.insert(out.end(), sub.begin(), sub.end());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string render(const Normal& n) {
  if (n.kind == Kind::kNumber) return std::to_string(n.number);
  // Operands are sorted with the unflagged ones first, and an expression built from
  // binary operations always has one (its leftmost number's path), so the text never
  // starts with an operator.
  std::string s;
  for (std::size_t i = 0; i < n.operands.size(); ++i) {
    const auto& [flag, operand] = n.operands[i];
    if (i > 0 || flag) s += n.kind == Kind::kSum ? (flag ? '-' : '+') : (flag ? '/' : '*');
    s += render_operand(operand, n.kind);
  }
  return s;
}

ParsedExpression parse_expression(std::string_view text) { return Parser(text).run(); }

}  // namespace disa::llm::countdown
