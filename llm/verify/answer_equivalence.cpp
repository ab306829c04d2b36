#include "llm/verify/answer_equivalence.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <optional>
#include <vector>

#include "llm/verify/expression_evaluator.h"
#include "llm/verify/latex_normalizer.h"
#include "llm/verify/pcre2_regex.h"
#include "llm/verify/trim.h"

namespace disa::llm::verify {
namespace {

enum class Shape { kScalar, kTuple, kSet, kList, kUnion };

struct Structured {
  Shape shape = Shape::kScalar;
  char open = 0, close = 0;  // tuple brackets
  std::vector<std::string> elements;
};

bool is_open(char c) { return c == '(' || c == '[' || c == '{'; }
bool is_close(char c) { return c == ')' || c == ']' || c == '}'; }

// Splits at `sep` where no bracket is open. "\{" and "\}" count as brackets too.
std::vector<std::string> split_top_level(std::string_view s, std::string_view sep) {
  std::vector<std::string> parts;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == '{' || s[i + 1] == '}')) {
      depth += s[i + 1] == '{' ? 1 : -1;
      ++i;
      continue;
    }
    if (is_open(s[i])) ++depth;
    if (is_close(s[i])) --depth;
    if (depth == 0 && s.substr(i, sep.size()) == sep) {
      parts.emplace_back(trim(s.substr(start, i - start)));
      start = i + sep.size();
      i = start - 1;
    }
  }
  parts.emplace_back(trim(s.substr(start)));
  return parts;
}

Structured structure_of_written(std::string_view s);

// Whether s[0] (an opening bracket) closes exactly at the last character, with any
// bracket kind ("[1,2)" is one interval; "(1,2)\cup(3,4)" is not one group).
bool wrapped_whole(std::string_view s) {
  int depth = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (is_open(s[i])) ++depth;
    if (is_close(s[i]) && --depth == 0) return i + 1 == s.size();
  }
  return false;
}

// "a\pm b" is the two answers a+b and a-b (MATH writes "1 \pm \sqrt{19}" where a
// response lists both roots). Only a single top-level \pm splits.
std::vector<std::string> expand_plus_minus(const std::vector<std::string>& elements) {
  std::vector<std::string> out;
  for (const std::string& e : elements) {
    const auto parts = split_top_level(e, "\\pm");
    if (parts.size() == 2) {
      out.push_back(parts[0] + "+" + parts[1]);
      out.push_back(parts[0] + "-" + parts[1]);
    } else {
      out.push_back(e);
    }
  }
  return out;
}

Structured structure_of(std::string_view s) {
  Structured st = structure_of_written(s);
  // Unordered answers (and a lone scalar) with a \pm are the list of both signs.
  if (st.shape == Shape::kSet || st.shape == Shape::kList || st.shape == Shape::kScalar) {
    std::vector<std::string> expanded = expand_plus_minus(st.elements);
    if (expanded.size() != st.elements.size()) {
      if (st.shape == Shape::kScalar) st.shape = Shape::kList;
      st.elements = std::move(expanded);
    }
  }
  return st;
}

// Matrices and vectors, \begin{pmatrix}..\end{pmatrix} or bmatrix (the bracket is
// typography): rows split at "\\", cells at "&". A column vector is an ordered tuple of
// its entries (bracket 'm'); one row with cells is a tuple of them (bracket 'r'); several
// such rows are a tuple 'm' of one-row matrices. So -\frac13 and -1/3 match entry by
// entry, and a column never equals a row.
std::optional<Structured> matrix_structure(std::string_view s) {
  for (const std::string_view kind : {"pmatrix", "bmatrix"}) {
    const std::string begin = "\\begin{" + std::string(kind) + "}", end = "\\end{" + std::string(kind) + "}";
    if (!s.starts_with(begin) || !s.ends_with(end) || s.size() < begin.size() + end.size()) continue;
    const std::string_view body = s.substr(begin.size(), s.size() - begin.size() - end.size());
    if (body.find(begin) != std::string_view::npos) return std::nullopt;  // nested: leave as text
    std::vector<std::string> rows = split_top_level(body, "\\\\");
    if (rows.size() > 1 && rows.back().empty()) rows.pop_back();  // a trailing row break
    // A cell with a comma ("\begin{pmatrix}1,2\end{pmatrix}") is no matrix entry: its
    // elements would be compared as an unordered list. Left as text.
    for (const std::string& row : rows) {
      for (const std::string& cell : split_top_level(row, "&")) {
        if (split_top_level(cell, ",").size() > 1) return std::nullopt;
      }
    }
    if (rows.size() == 1) return Structured{Shape::kTuple, 'r', 'r', split_top_level(rows.front(), "&")};
    for (std::string& row : rows) {
      if (split_top_level(row, "&").size() > 1) row = begin + row + end;
    }
    return Structured{Shape::kTuple, 'm', 'm', std::move(rows)};
  }
  return std::nullopt;
}

Structured structure_of_written(std::string_view s) {
  Structured st;
  if (auto matrix = matrix_structure(s)) return std::move(*matrix);
  if (auto parts = split_top_level(s, "\\cup"); parts.size() > 1) {
    return {Shape::kUnion, 0, 0, std::move(parts)};
  }
  if (s.size() >= 4 && s.starts_with("\\{") && s.ends_with("\\}")) {
    return {Shape::kSet, 0, 0, split_top_level(s.substr(2, s.size() - 4), ",")};
  }
  if (s.size() >= 2 && (s.front() == '(' || s.front() == '[') && (s.back() == ')' || s.back() == ']') &&
      wrapped_whole(s)) {
    auto parts = split_top_level(s.substr(1, s.size() - 2), ",");
    if (parts.size() > 1) return {Shape::kTuple, s.front(), s.back(), std::move(parts)};
  }
  if (auto parts = split_top_level(s, ","); parts.size() > 1) return {Shape::kList, 0, 0, std::move(parts)};
  st.elements = {std::string(s)};
  return st;
}

bool has_thousands_separators(std::string_view s) {
  // The first group starts with 1-9: "0,125" is a decimal comma (0.125), not 125.
  static const Pcre2Regex thousands(R"(-?[1-9]\d{0,2}(,\d{3})+(\.\d+)?%?)");
  return thousands.matches_whole(s);
}

std::string without_commas(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (c != ',') out += c;
  }
  return out;
}

// "50%" -> ("50", true).
std::pair<std::string, bool> split_percent(std::string s) {
  if (s.ends_with("%")) {
    s.pop_back();
    return {s, true};
  }
  return {s, false};
}

Equivalence equivalent(std::string_view a, std::string_view b, int depth, double decimal_tolerance);

// A reference written as a measured value: a decimal with a nonzero digit after its point
// ("0.35", not AMC's "27.0"), or scientific notation ("1.2e-3", "3\times10^{8}").
bool written_as_decimal(std::string_view reference) {
  static const Pcre2Regex decimal(R"((?<!\d)\d*\.\d*[1-9]|\d[eE][-+]?\d|\d(?:\\times|\\cdot)10\^)");
  return !decimal.find_all(reference).empty();
}

// A unit after a number, as the response writes it after normalisation ("30m/s",
// "4.4677\times10^{14}Hz", "12squareunits", "3\times10^8ms^{-1}", "5meters"): only units
// from this list, those the Minerva solutions write after their boxed answers (m, cm, eV,
// years, J, g, kcal, rad, nm, V, kJ, s, kg, erg, km, Hz, m/s, pm, mL, mol, minutes, days,
// Gyr, amu, angstroms, arcsecs, bits/s, ...) and their SI relatives, each optionally
// squared or cubed (^2, ^{-3}, "square", "cubic") and divided or multiplied (/, \cdot).
// Single letters that name common variables (t, h, k, M, T, C) are not in the list (h
// only after "/": "30km/h").
// The normaliser has removed the spaces, so the units are found by trying every split
// (memoised: linear in the length times the list).
const std::vector<std::string_view>& unit_words() {
  static const std::vector<std::string_view> kUnits = {
      "m", "km", "Mm", "Gm", "cm", "mm", "nm", "pm", "fm", "μm", "um", "g", "kg", "mg", "μg", "s", "ms",
      "J", "kJ", "MJ", "GJ", "eV", "keV", "MeV", "GeV", "TeV", "V", "kV", "mV", "MV", "W", "kW", "MW", "GW",
      "N", "kN", "MN", "A", "kA", "mA", "MA", "K", "L", "mL", "ml", "Hz", "kHz", "MHz", "GHz", "Pa", "hPa",
      "kPa", "MPa", "atm", "bar", "mbar", "Torr", "mmHg", "mol", "mmol", "rad", "sr", "dB", "Å", "AU", "au",
      "pc", "kpc", "Mpc", "ly", "erg", "ergs", "cal", "kcal", "kWh", "Wh", "amu", "lb", "lbs", "mph", "kph",
      "sec", "secs", "min", "mins", "hr", "hrs", "yr", "yrs", "kyr", "Myr", "Gyr", "inch", "inches", "feet",
      "foot", "mile", "miles", "yard", "yards", "angstrom", "angstroms", "second", "seconds", "minute",
      "minutes", "hour", "hours", "day", "days", "week", "weeks", "month", "months", "year", "years", "joule",
      "joules", "watt", "watts", "newton", "newtons", "volt", "volts", "liter", "liters", "litre", "litres",
      "arcsec", "arcsecs", "arcsecond", "arcseconds", "arcmin", "arcminute", "arcminutes", "degree", "degrees",
      "radian", "radians", "bit", "bits", "byte", "bytes", "ton", "tons", "tonne", "tonnes", "pound", "pounds",
      "unit", "units", "cent", "cents", "dollar", "dollars"};
  return kUnits;
}

// Whether s[at..] is a sequence of units (above): [/ or \cdot] [square|sq|sq.|cubic] unit [^power], ...
bool units_from(std::string_view s, std::size_t at, bool first, std::vector<signed char>& memo) {
  if (at == s.size()) return !first;
  signed char& known = memo[at * 2 + (first ? 1 : 0)];
  if (known >= 0) return known == 1;
  known = 0;
  static const std::vector<std::string> kSpelled = [] {
    std::vector<std::string> out;
    for (const std::string_view stem : {"meter", "metre", "gram"}) {
      for (const std::string_view prefix : {"", "milli", "centi", "kilo"}) {
        for (const std::string_view plural : {"", "s"}) {
          out.push_back(std::string(prefix).append(stem).append(plural));
        }
      }
    }
    return out;
  }();
  std::vector<std::size_t> starts = {at};
  bool after_slash = false;
  if (!first) {
    // The normaliser keeps a space after \cdot ("5N\cdot m"): skipped, as after "/".
    for (const std::string_view sep : {"/", "\\cdot"}) {
      if (!s.substr(at).starts_with(sep)) continue;
      std::size_t next = at + sep.size();
      while (next < s.size() && s[next] == ' ') ++next;
      starts.push_back(next);
      after_slash = sep == "/";
    }
  }
  const std::size_t n = starts.size();
  for (std::size_t i = 0; i < n; ++i) {
    for (const std::string_view shape : {"square", "sq.", "sq", "cubic"}) {
      if (s.substr(starts[i]).starts_with(shape)) starts.push_back(starts[i] + shape.size());
    }
  }
  static const Pcre2Regex power(R"(^\^(?:\{-?\d+\}|-?\d))");
  for (const std::size_t start : starts) {
    const auto try_unit = [&](std::string_view unit) {
      if (!s.substr(start).starts_with(unit)) return false;
      std::size_t end = start + unit.size();
      if (units_from(s, end, false, memo)) return true;
      if (end < s.size() && s[end] == '^') {
        const auto m = power.find_all(s.substr(end, 8));
        if (!m.empty() && units_from(s, end + (m.front().end - m.front().begin), false, memo)) return true;
      }
      return false;
    };
    for (const std::string_view unit : unit_words()) {
      if (try_unit(unit)) return (known = 1) == 1;
    }
    for (const std::string& unit : kSpelled) {
      if (try_unit(unit)) return (known = 1) == 1;
    }
    // h names a variable, but after "/" it is the hour: "30km/h".
    if (after_slash && start != at && try_unit("h")) return (known = 1) == 1;
  }
  return false;
}

// "30m/s" -> {"30", "m/s"}, "2\sqrt{3}cm" -> {"2\sqrt{3}", "cm"}: a number (anything
// evaluate_number reads, so no letters) followed by units only; nullopt otherwise ("5x",
// "3i", "5million"). The shortest number that leaves only units wins.
std::optional<std::pair<std::string, std::string>> number_and_units(std::string_view s) {
  if (s.size() > 200) return std::nullopt;
  std::vector<signed char> memo(s.size() * 2 + 2, -1);
  for (std::size_t at = 1; at < s.size(); ++at) {
    const std::size_t units_at = s[at] == ' ' ? at + 1 : at;  // "2\pi m" keeps its space
    if (units_at >= s.size() || !units_from(s, units_at, true, memo)) continue;
    const std::string number(s.substr(0, at));
    if (evaluate_number(number)) return std::pair{number, std::string(s.substr(units_at))};
  }
  return std::nullopt;
}

// Units after a number, compared by the number alone: when the reference is a plain
// number and the response that number followed by units ("30 m/s" for 30), or both carry
// the same units ("4.4678\times10^{14}Hz" for "4.4677\times10^{14}Hz"). A reference's units
// are never dropped against a bare number: "2mg" may be 2 m g, and "6m" is 6m.
std::optional<Equivalence> compare_without_units(std::string_view a, std::string_view b,
                                                 const std::optional<NumericValue>& va,
                                                 const std::optional<NumericValue>& vb, double tolerance) {
  if (va) return std::nullopt;
  const auto a_split = number_and_units(a);
  if (!a_split) return std::nullopt;
  std::optional<NumericValue> reference = vb;
  std::string units_note = "units '" + a_split->second + "' dropped";
  if (!reference) {
    const auto b_split = number_and_units(b);
    if (!b_split || b_split->second != a_split->second) return std::nullopt;
    reference = evaluate_number(b_split->first);
    units_note = "the same units '" + a_split->second + "'";
  }
  const auto response = evaluate_number(a_split->first);  // read above, so set
  if (!response || !reference) return std::nullopt;
  if (numerically_equal(*response, *reference) ||
      (tolerance > 0 && numerically_equal(*response, *reference, tolerance))) {
    return Equivalence{true, fmt::format("same value {} ({})", response->to_string(), units_note)};
  }
  return Equivalence{false, fmt::format("values differ: {} vs {} ({})", response->to_string(),
                                        reference->to_string(), units_note)};
}

constexpr std::size_t kMaxListElements = 100;
constexpr unsigned kSymbolicPoints = 3;     // agreeing points needed
constexpr unsigned kSymbolicAttempts = 12;  // points tried (some fall outside a domain)

// Pure words ("no" vs "on") must not be compared as products of variables.
bool looks_mathematical(std::string_view s) {
  return s.find_first_of("0123456789+-*/^\\(){}_") != std::string_view::npos;
}

// Symbolic equality by evaluation at kSymbolicPoints assignments of the variables
// where both sides are defined (\arcsin, \ln and \sqrt have domains); one point where
// both are defined and differ decides "not equal". Without variables on either side
// this compares two constants that only the point evaluation reads (functions and e:
// \ln 4 vs 2\ln 2, \sin(\pi/6) vs \frac{1}{2}), with the tolerance of any value that
// is not exact; plain rationals never get here (evaluate_number compares them exactly).
std::optional<Equivalence> same_function(std::string_view a, std::string_view b, double decimal_tolerance) {
  if (!looks_mathematical(a) || !looks_mathematical(b)) return std::nullopt;
  bool any_variable = false;
  unsigned agreeing = 0;
  double value = 0;  // a's value at the last agreeing point (the value of a constant)
  for (unsigned point = 1; point <= kSymbolicAttempts && agreeing < kSymbolicPoints; ++point) {
    const auto va = evaluate_at_point(a, point), vb = evaluate_at_point(b, point);
    if (!va || !vb) continue;
    any_variable = any_variable || va->has_variables || vb->has_variables;
    // The decimal tolerance is for numbers only: with variables the sides are functions.
    const bool constants = !va->has_variables && !vb->has_variables;
    if (!numerically_equal(NumericValue::of_approx(va->value), NumericValue::of_approx(vb->value),
                           constants ? decimal_tolerance : 0)) {
      return Equivalence{false, fmt::format("expressions differ: '{}' = {} vs '{}' = {} at point {}", a, va->value, b,
                                            vb->value, point)};
    }
    ++agreeing;
    value = va->value;
  }
  if (agreeing < kSymbolicPoints) return std::nullopt;
  if (!any_variable) return Equivalence{true, fmt::format("same value {}", value)};
  return Equivalence{true, fmt::format("same expression at {} points", kSymbolicPoints)};
}

Equivalence scalars_equivalent(std::string_view a_in, std::string_view b_in, double decimal_relative_tolerance);

// The relations as the normaliser spells them (latex_normalizer.h), and "=" beside them.
enum class Relation { kLess, kGreater, kLessEqual, kGreaterEqual, kNotEqual, kEqual };

std::string_view relation_name(Relation r) {
  switch (r) {
    case Relation::kLess: return "<";
    case Relation::kGreater: return ">";
    case Relation::kLessEqual: return "\\le";
    case Relation::kGreaterEqual: return "\\ge";
    case Relation::kNotEqual: return "\\ne";
    case Relation::kEqual: return "=";
  }
  return "?";
}

// b REL' a says what a REL b says.
Relation mirrored(Relation r) {
  switch (r) {
    case Relation::kLess: return Relation::kGreater;
    case Relation::kGreater: return Relation::kLess;
    case Relation::kLessEqual: return Relation::kGreaterEqual;
    case Relation::kGreaterEqual: return Relation::kLessEqual;
    default: return r;  // = and \ne are symmetric
  }
}

struct RelationChain {
  std::vector<std::string> sides;    // one more than relations
  std::vector<Relation> relations;
};

// "1<x\le3" -> sides 1, x, 3 with <, \le: split at the relations outside brackets
// (whole control words only: \leftarrow and \neg are no relation).
RelationChain split_relations(std::string_view s) {
  RelationChain chain;
  int depth = 0;
  std::size_t start = 0;
  const auto cut = [&](std::size_t at, std::size_t next, Relation r) {
    chain.sides.emplace_back(trim(s.substr(start, at - start)));
    chain.relations.push_back(r);
    start = next;
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\') {
      std::size_t end = i + 1;
      while (end < s.size() && std::isalpha(static_cast<unsigned char>(s[end]))) ++end;
      const std::string_view name = s.substr(i + 1, end - i - 1);
      if (name.empty()) {  // a control symbol: \{ and \} are brackets, \\ a row break
        if (i + 1 < s.size() && (s[i + 1] == '{' || s[i + 1] == '}')) depth += s[i + 1] == '{' ? 1 : -1;
        ++i;
        continue;
      }
      if (depth == 0) {
        if (name == "le") cut(i, end, Relation::kLessEqual);
        if (name == "ge") cut(i, end, Relation::kGreaterEqual);
        if (name == "ne") cut(i, end, Relation::kNotEqual);
      }
      i = end - 1;
      continue;
    }
    if (is_open(s[i])) ++depth;
    if (is_close(s[i])) --depth;
    if (depth != 0) continue;
    if (s[i] == '<') cut(i, i + 1, Relation::kLess);
    if (s[i] == '>') cut(i, i + 1, Relation::kGreater);
    if (s[i] == '=') cut(i, i + 1, Relation::kEqual);
  }
  chain.sides.emplace_back(trim(s.substr(start)));
  return chain;
}

// Inequalities (<, >, \le, \ge, \ne, possibly chained with =) compare as relations: the
// same relations in order with equivalent sides, or the chain read from the other side
// (3\ge x is x\le 3; 3\ge x>1 is 1<x\le 3). Never as a value: with a relation on
// either side the answer is decided here. nullopt when neither side has an inequality
// (plain values and equations go on as before).
std::optional<Equivalence> relations_equivalent(std::string_view a, std::string_view b, double tolerance) {
  const RelationChain ra = split_relations(a), rb = split_relations(b);
  const auto inequality = [](const RelationChain& c) {
    return std::any_of(c.relations.begin(), c.relations.end(), [](Relation r) { return r != Relation::kEqual; });
  };
  if (!inequality(ra) && !inequality(rb)) return std::nullopt;
  const auto describe = [](const RelationChain& c) {
    std::string out;
    for (const Relation r : c.relations) {
      if (!out.empty()) out += ' ';
      out += relation_name(r);
    }
    return out.empty() ? std::string("none") : out;
  };
  const auto has_empty_side = [](const RelationChain& c) {
    return std::any_of(c.sides.begin(), c.sides.end(), [](const std::string& side) { return side.empty(); });
  };
  if (has_empty_side(ra) || has_empty_side(rb)) {
    return Equivalence{false, fmt::format("relation with an empty side: '{}' vs '{}'", a, b)};
  }
  if (ra.relations.size() != rb.relations.size()) {
    return Equivalence{false, fmt::format("relations differ: {} vs {}", describe(ra), describe(rb))};
  }
  const auto sides_equal = [&](const std::vector<std::string>& as, const std::vector<std::string>& bs) {
    for (std::size_t i = 0; i < as.size(); ++i) {
      if (!scalars_equivalent(as[i], bs[i], tolerance).equal) return false;
    }
    return true;
  };
  if (ra.relations == rb.relations && sides_equal(ra.sides, rb.sides)) {
    return Equivalence{true, fmt::format("same relation {} with equal sides", describe(ra))};
  }
  // The chain read from right to left: sides and relations reversed, each relation
  // mirrored (3\ge x\ge 1 is 1\le x\le 3).
  RelationChain reversed{{ra.sides.rbegin(), ra.sides.rend()}, {}};
  for (auto r = ra.relations.rbegin(); r != ra.relations.rend(); ++r) reversed.relations.push_back(mirrored(*r));
  const bool mirror_matches = reversed.relations == rb.relations;
  if (mirror_matches && sides_equal(reversed.sides, rb.sides)) {
    return Equivalence{true, fmt::format("same relation {} read from the other side", describe(rb))};
  }
  if (ra.relations == rb.relations) {
    return Equivalence{false, fmt::format("relation {}: sides differ ('{}' vs '{}')", describe(ra), a, b)};
  }
  if (mirror_matches) {
    return Equivalence{false, fmt::format("relations {} vs {}: sides read from the other side differ ('{}' vs '{}')",
                                          describe(ra), describe(rb), a, b)};
  }
  return Equivalence{false, fmt::format("relations differ: {} vs {}", describe(ra), describe(rb))};
}

bool is_infinity(std::string_view side) { return side == "\\infty" || side == "+\\infty" || side == "-\\infty"; }

// A side an interval can end at: infinity (its sign is the tuple's business), a number, or
// a constant the point evaluator reads without variables (e, \ln 2, e^2, \sin 1).
bool is_bound(std::string_view side) {
  if (is_infinity(side) || evaluate_number(side).has_value()) return true;
  const auto at_point = evaluate_at_point(side, 1);
  return at_point && !at_point->has_variables;
}

// A letter or a Greek letter, maybe with a subscript (x, x_1, \theta_{0}): a PCRE2 group.
std::string variable_name_pattern() {
  return "((?:[A-Za-z]|" + std::string(kGreekLetterPattern) + R"()(?:_\{?[A-Za-z0-9]+\}?)?))";
}

// The one variable of an interval's inequality: a letter or a Greek letter, maybe with a
// subscript; not a constant such as \pi or e (e<3 is no interval of e), nor another
// command (\emptyset<3).
bool is_interval_variable(std::string_view side) {
  static const Pcre2Regex variable("^" + variable_name_pattern() + "$");
  return variable.matches_whole(side) && !is_bound(side);
}

bool is_interval(const Structured& st) {
  return st.shape == Shape::kTuple && st.elements.size() == 2 && (st.open == '(' || st.open == '[') &&
         (st.close == ')' || st.close == ']');
}

// A variable times a nonzero rational, as a rearranged linear inequality writes it: "2x",
// "-x", "0.5x", "\frac{1}{2}x", "2\cdot x", "\frac{x}{2}", "\frac{3x}{2}", "x/2", "-\frac{x}{2}"
// (a bare "x" is x times 1). nullopt for anything else: a sum ("2x+1"), a power ("x^2"), two
// letters ("2xy"), the variable in a denominator ("\frac{2}{x}", which is no linear
// inequality), a constant for the letter ("2e", "3\pi") or a zero factor.
struct ScaledVariable {
  std::string variable;
  Rational coefficient;
};

std::optional<ScaledVariable> scaled_variable(std::string_view side) {
  // Groups: sign, factor, variable, divisor (each but the variable optional).
  static const std::string number = R"((\d+(?:\.\d+)?|\.\d+|\\frac\{\d+\}\{\d+\}))";
  static const std::string factor = "(?:" + number + R"((?:\\cdot ?|\\times ?|\*)?)?)";
  static const Pcre2Regex product("^(-?)" + factor + variable_name_pattern() + "()$");
  static const Pcre2Regex fraction(R"(^(-?)\\frac\{)" + factor + variable_name_pattern() + R"(\}\{)" + number +
                                   R"(\}$)");
  static const Pcre2Regex quotient("^(-?)" + factor + variable_name_pattern() + "/" + number + "$");
  for (const Pcre2Regex* form : {&product, &fraction, &quotient}) {
    const auto m = form->find_all(side);
    if (m.empty()) continue;
    const std::vector<std::string>& g = m.front().groups;
    if (!is_interval_variable(g[2])) return std::nullopt;
    const auto value_of = [](const std::string& text) {
      return text.empty() ? std::optional<NumericValue>(NumericValue::of_exact(1)) : evaluate_number(text);
    };
    const auto factor_value = value_of(g[1]), divisor = value_of(g[3]);
    if (!factor_value || !divisor || !factor_value->exact || !divisor->exact || *factor_value->exact == 0 ||
        *divisor->exact == 0) {
      return std::nullopt;
    }
    const Rational sign = g[0] == "-" ? -1 : 1;
    return ScaledVariable{g[2], sign * *factor_value->exact / *divisor->exact};
  }
  return std::nullopt;
}

// A variable times a surd, "\sqrt{2}x", "-2\sqrt{3}x", "\frac{1}{2}\sqrt{3}\cdot x": a coefficient
// with no exact value, so the bound it divides compares as any surd does, by value within the
// relative 1e-6 of numeric_value.h. Only the whole side: a term moved across needs exact arithmetic.
struct SurdScaledVariable {
  std::string variable;
  std::string coefficient;  // as written, with its sign: "-2\sqrt{3}"
  bool negative = false;
};

std::optional<SurdScaledVariable> surd_scaled_variable(std::string_view side) {
  static const Pcre2Regex product(
      R"(^(-?)((?:\d+(?:\.\d+)?|\\frac\{\d+\}\{\d+\})?\\sqrt\{\d+\})(?:\\cdot ?|\\times ?|\*)?)" +
      variable_name_pattern() + "$");
  const auto m = product.find_all(side);
  if (m.empty()) return std::nullopt;
  const std::vector<std::string>& g = m.front().groups;
  if (!is_interval_variable(g[2])) return std::nullopt;
  // Its sign is the written one only while the magnitude is positive (not 0\sqrt{2}, \sqrt{0}).
  const auto magnitude = evaluate_number(g[1]);
  if (!magnitude || !(magnitude->approx > 0)) return std::nullopt;
  return SurdScaledVariable{g[2], g[0] + g[1], g[0] == "-"};
}

// "2x+1-\frac{x}{2}" -> "2x", "+1", "-\frac{x}{2}": cut before each + or - outside brackets,
// except a sign that belongs to a factor or an exponent ("x^-1", "2\cdot-3", "1e-3").
std::vector<std::string> signed_terms(std::string_view side) {
  std::vector<std::string> terms;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < side.size(); ++i) {
    if (is_open(side[i])) ++depth;
    if (is_close(side[i])) --depth;
    if (depth != 0 || i == 0 || (side[i] != '+' && side[i] != '-')) continue;
    const std::string_view before = side.substr(0, i);
    const bool exponent_of_a_number = (before.back() == 'e' || before.back() == 'E') && before.size() >= 2 &&
                                      std::isdigit(static_cast<unsigned char>(before[before.size() - 2]));
    const bool sign_of_a_factor = exponent_of_a_number ||
                                  std::string_view("^*/+-").find(before.back()) != std::string_view::npos ||
                                  before.ends_with("\\cdot") || before.ends_with("\\times");
    if (sign_of_a_factor) continue;
    terms.emplace_back(trim(side.substr(start, i - start)));
    start = i;
  }
  terms.emplace_back(trim(side.substr(start)));
  return terms;
}

// A side as c*x + k with c and k rational, in at most one variable: "2x+1", "3-x",
// "\frac{x}{2}-1", "x+x" (2x), "7" (no variable: c = 0). nullopt for anything else: two
// variables, a product or power of the variable, a constant that is no rational (\pi, \sqrt{2},
// which stay bounds compared by value, never terms to move).
struct LinearSide {
  std::string variable;  // "" when the side is a constant
  Rational coefficient = 0;
  Rational constant = 0;
};

std::optional<LinearSide> linear_side(std::string_view side) {
  LinearSide linear;
  for (std::string term : signed_terms(side)) {
    if (term.starts_with("+")) term.erase(0, 1);
    if (term.empty()) return std::nullopt;
    if (const auto scaled = scaled_variable(term)) {
      if (!linear.variable.empty() && linear.variable != scaled->variable) return std::nullopt;
      linear.variable = scaled->variable;
      linear.coefficient += scaled->coefficient;
      continue;
    }
    const auto value = evaluate_number(term);
    if (!value || !value->exact) return std::nullopt;
    linear.constant += *value->exact;
  }
  return linear;
}

// The side of an inequality that holds the variable, as c*x + k: c and k rational (linear_side),
// or c a surd and k = 0 (surd_scaled_variable).
struct VariableSide {
  std::string variable;
  bool negative = false;          // c < 0: dividing by it turns each relation
  std::string divisor;            // c as a written quotient shows it
  std::optional<Rational> exact;  // c when rational
  Rational constant = 0;          // k
};

// nullopt when the side names no variable, or its variable cancels ("x-x"), or it is anything else.
std::optional<VariableSide> variable_side(std::string_view side) {
  if (const auto linear = linear_side(side); linear && !linear->variable.empty()) {
    if (linear->coefficient == 0) return std::nullopt;
    return VariableSide{linear->variable, linear->coefficient < 0,
                        NumericValue::of_exact(linear->coefficient).to_string(), linear->coefficient, linear->constant};
  }
  if (const auto surd = surd_scaled_variable(side)) {
    return VariableSide{surd->variable, surd->negative, surd->coefficient, std::nullopt, 0};
  }
  return std::nullopt;
}

// A bound B of c*x + k rewritten as a bound of x, (B - k)/c: exact for a rational B and c ("7"
// for 2x+1 is "3"); else the quotient written out ("(\pi-(1))/(2)", "(2)/(\sqrt{2})"). A decimal B
// divided by c is written out too, so that its digits keep the tolerance a decimal reference gets
// (written_as_decimal: "2x\le 0.5000001" is "x\le 0.25"): a relative tolerance survives a division
// but not a shift, so with a term moved (k != 0) a decimal B is exact ("x+1000\le 0.5" would
// otherwise accept -999.55, B = 0.45) or, when it has no exact value, no bound. Infinity keeps its
// sign for c > 0 and turns for c < 0. nullopt when B is no bound.
std::optional<std::string> bound_solved(std::string_view bound, const VariableSide& side) {
  if (is_infinity(bound)) return (bound.front() == '-') != side.negative ? "-\\infty" : "\\infty";
  if (!is_bound(bound)) return std::nullopt;
  const bool decimal = written_as_decimal(bound), moved = side.constant != 0;
  if (const auto value = evaluate_number(bound); value && value->exact && side.exact && (!decimal || moved)) {
    return NumericValue::of_exact((*value->exact - side.constant) / *side.exact).to_string();
  }
  if (!moved) return fmt::format("({})/({})", bound, side.divisor);
  // A bound without an exact value (\pi, \sqrt{2}) less a moved term would be compared
  // within a tolerance relative to the difference, not to the bound: x+1000000<\sqrt{2} took
  // x<-999998.6, 0.014 off (a review). Such a chain is read as no interval.
  return std::nullopt;
}

// "2x+1\le x+3": the variable on both sides of one relation, moved to the left with rational
// coefficients ("x\le 2"). False when it cancels (x<x+1 is no interval read here); two
// variables (x<y) or a surd are left as they are, which describe no interval.
bool both_sides_solved(RelationChain& chain, const VariableSide& left, const VariableSide& right) {
  if (left.variable != right.variable || !left.exact || !right.exact) return true;
  const Rational coefficient = *left.exact - *right.exact;
  if (coefficient == 0) return false;
  chain.sides = {left.variable, NumericValue::of_exact((right.constant - left.constant) / coefficient).to_string()};
  if (coefficient < 0) chain.relations.front() = mirrored(chain.relations.front());
  return true;
}

// A chain in one variable rewritten for the variable alone, as an interval reads it: "2x\le 6"
// is "x\le 3", "2x+1\le 7" is "x\le 3", "-x<3" is "x>-3" (dividing by a negative number turns
// each relation), "2<2x\le 6" is "1<x\le 3", "\sqrt{2}x<2" is "x<(2)/(\sqrt{2})". The variable
// side is the middle of a chain of two, else the side that names the variable (both sides: see
// both_sides_solved). False when the variable has a coefficient or a term to move but another
// side is no bound (the chain then describes no interval); a chain with the bare variable, or
// with no variable side, is left as it is.
bool solved_for_variable(RelationChain& chain) {
  if (chain.relations.empty() || chain.relations.size() > 2) return true;
  if (chain.relations.size() == 1) {
    const auto left = variable_side(chain.sides[0]), right = variable_side(chain.sides[1]);
    if (left && right) return both_sides_solved(chain, *left, *right);
  }
  std::size_t at = chain.relations.size() == 2 ? 1 : 0;
  std::optional<VariableSide> side = variable_side(chain.sides[at]);
  if (chain.relations.size() == 1 && !side) side = variable_side(chain.sides[at = 1]);
  if (!side || chain.sides[at] == side->variable) return true;
  for (std::size_t i = 0; i < chain.sides.size(); ++i) {
    if (i == at) continue;
    auto solved = bound_solved(chain.sides[i], *side);
    if (!solved) return false;
    chain.sides[i] = std::move(*solved);
  }
  chain.sides[at] = side->variable;
  if (side->negative) {
    for (Relation& r : chain.relations) r = mirrored(r);
  }
  return true;
}

// The interval an inequality in one variable describes, written as an interval answer
// is: "-2\le x<7" is [-2,7), "x<3" (or "3>x") is (-\infty,3), "x\ge 1" is [1,\infty), and
// with a coefficient or a term to move "2x+1\le 7" is (-\infty,3], "-x<3" is (-3,\infty)
// (solved_for_variable).
// nullopt for anything else: \ne and = (no one interval), a chain that turns (1<x>0),
// bounds that are not numbers (x<y) or no variable (1<3).
struct InequalityInterval {
  Structured interval;
  std::string variable;
};

std::optional<InequalityInterval> interval_of_inequality(std::string_view s) {
  RelationChain chain = split_relations(s);
  if (!solved_for_variable(chain)) return std::nullopt;
  const auto increasing = [](Relation r) { return r == Relation::kLess || r == Relation::kLessEqual; };
  const auto decreasing = [](Relation r) { return r == Relation::kGreater || r == Relation::kGreaterEqual; };
  if (chain.relations.empty() || chain.relations.size() > 2) return std::nullopt;
  if (std::all_of(chain.relations.begin(), chain.relations.end(), decreasing)) {
    std::reverse(chain.sides.begin(), chain.sides.end());
    std::reverse(chain.relations.begin(), chain.relations.end());
    for (Relation& r : chain.relations) r = mirrored(r);
  }
  if (!std::all_of(chain.relations.begin(), chain.relations.end(), increasing)) return std::nullopt;
  // Now lower < x < upper, lower < x or x < upper.
  const auto open_if = [](Relation r) { return r == Relation::kLess; };
  Structured interval{Shape::kTuple, '(', ')', {"-\\infty", "\\infty"}};
  std::string variable;
  if (chain.relations.size() == 2) {
    variable = chain.sides[1];
    interval.elements = {chain.sides[0], chain.sides[2]};
    interval.open = open_if(chain.relations[0]) ? '(' : '[';
    interval.close = open_if(chain.relations[1]) ? ')' : ']';
  } else if (is_interval_variable(chain.sides[0])) {
    variable = chain.sides[0];
    interval.elements[1] = chain.sides[1];
    interval.close = open_if(chain.relations[0]) ? ')' : ']';
  } else {
    variable = chain.sides[1];
    interval.elements[0] = chain.sides[0];
    interval.open = open_if(chain.relations[0]) ? '(' : '[';
  }
  if (!is_interval_variable(variable) || !is_bound(interval.elements[0]) || !is_bound(interval.elements[1])) {
    return std::nullopt;
  }
  return InequalityInterval{std::move(interval), std::move(variable)};
}

// `a` is the response's, `b` the reference's (only the decimal tolerance tells them apart).
Equivalence scalars_equivalent(std::string_view a_in, std::string_view b_in, double decimal_relative_tolerance) {
  const std::string a0 = strip_variable_prefix(a_in), b0 = strip_variable_prefix(b_in);
  if (a0 == b0) return {true, fmt::format("same text '{}'", a0)};
  if (auto relation = relations_equivalent(a0, b0, decimal_relative_tolerance)) return *relation;
  const auto [a, a_percent] = split_percent(a0);
  const auto [b, b_percent] = split_percent(b0);
  const double tolerance = written_as_decimal(b) ? decimal_relative_tolerance : 0;
  const auto va = evaluate_number(a), vb = evaluate_number(b);
  if (va && vb) {
    if (numerically_equal(*va, *vb)) return {true, fmt::format("same value {}", va->to_string())};
    if (tolerance > 0 && numerically_equal(*va, *vb, tolerance)) {
      return {true, fmt::format("same value {} as the decimal {} within the relative {}", va->to_string(),
                                vb->to_string(), tolerance)};
    }
    // One side in percent: its number, or that number / 100.
    if (a_percent != b_percent) {
      const NumericValue& pct = a_percent ? *va : *vb;
      const NumericValue& other = a_percent ? *vb : *va;
      const NumericValue hundredth =
          pct.exact ? NumericValue::of_exact(*pct.exact / 100) : NumericValue::of_approx(pct.approx / 100);
      if (numerically_equal(hundredth, other, tolerance)) {
        return {true, fmt::format("same value {} (percent)", other.to_string())};
      }
    }
    return {false, fmt::format("values differ: {} vs {}", va->to_string(), vb->to_string())};
  }
  if (a == b) return {true, fmt::format("same text '{}'", a)};
  if (auto units = compare_without_units(a, b, va, vb, tolerance)) return *units;
  // Equations: left sides and right sides alike ("y=2x+1" vs "y=1+2x").
  const auto a_sides = split_top_level(a, "="), b_sides = split_top_level(b, "=");
  if (a_sides.size() == 2 && b_sides.size() == 2) {
    const Equivalence left = scalars_equivalent(a_sides[0], b_sides[0], decimal_relative_tolerance);
    const Equivalence right = scalars_equivalent(a_sides[1], b_sides[1], decimal_relative_tolerance);
    if (left.equal && right.equal) return {true, "equations with equal sides"};
  }
  if (auto symbolic = same_function(a0, b0, tolerance)) return *symbolic;
  if (va || vb) return {false, fmt::format("'{}' vs '{}': only one is a number", a, b)};
  // A lettered choice: "(C)" (as "\text{(C)}" normalises) and a bare "C" are one answer;
  // one side must carry the parentheses, so the variables x and X stay apart.
  static const Pcre2Regex choice(R"(^\(?([A-E])\)?$)");
  if (const auto ca = choice.find_all(a), cb = choice.find_all(b);
      !ca.empty() && !cb.empty() && (a.front() == '(' || b.front() == '(')) {
    const bool same = ca.front().groups[0] == cb.front().groups[0];
    return {same, fmt::format("choices {} vs {}", ca.front().groups[0], cb.front().groups[0])};
  }
  // Plain words ("East" vs "east"): a capitalised or lower-case word of two letters or
  // more, whose case carries no meaning; "CO" (all capitals) and "Co" stay apart.
  static const Pcre2Regex word(R"(^\p{L}\p{Ll}+(?: \p{L}\p{Ll}*)*$)");
  if (word.matches_whole(a) && word.matches_whole(b) && a.size() == b.size() &&
      std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
        return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
      })) {
    return {true, fmt::format("same word '{}' but for case", a)};
  }
  return {false, fmt::format("texts differ: '{}' vs '{}'", a, b)};
}

// The name an element assigns to: "a" for "a=3", "x_1" for "x_1\in[0,1]"; "" for an
// unlabelled element.
std::string label_of(std::string_view element) {
  const std::string value = strip_variable_prefix(element);
  if (value.size() >= element.size()) return "";
  std::string_view label = element.substr(0, element.size() - value.size());
  for (const std::string_view relation : {"=", "\\in"}) {
    if (label.ends_with(relation)) label.remove_suffix(relation.size());
  }
  return std::string(label);
}

// Each element of `as` matched with a distinct element of `bs` (greedy is enough:
// the relation is an equivalence up to the numeric tolerance). Two labelled elements
// meet only under one label: "a=3, b=2" is not "a=2, b=3", though "x=1, y=2" is
// "1, 2" and "y=2, x=1".
Equivalence multiset_equivalent(const std::vector<std::string>& as, const std::vector<std::string>& bs,
                                int depth, std::string_view what, double decimal_tolerance) {
  if (as.size() != bs.size()) return {false, fmt::format("{}: {} vs {} elements", what, as.size(), bs.size())};
  // Matching is quadratic in the size; benchmark answers list far fewer than 100 things.
  if (as.size() > kMaxListElements) {
    return {false, fmt::format("{}: {} elements, over the limit of {}", what, as.size(), kMaxListElements)};
  }
  std::vector<std::string> b_labels;
  for (const std::string& b : bs) b_labels.push_back(label_of(b));
  std::vector<bool> used(bs.size(), false);
  for (std::size_t i = 0; i < as.size(); ++i) {
    const std::string a_label = label_of(as[i]);
    bool found = false;
    for (std::size_t j = 0; j < bs.size() && !found; ++j) {
      if (used[j] || (!a_label.empty() && !b_labels[j].empty() && a_label != b_labels[j])) continue;
      if (equivalent(as[i], bs[j], depth + 1, decimal_tolerance).equal) used[j] = found = true;
    }
    if (!found) return {false, fmt::format("{}: '{}' has no match", what, as[i])};
  }
  return {true, fmt::format("{} of {} equal in some order", what, as.size())};
}

// "x<1orx>2", as "x<1 \text{ or } x>2" normalises, at each "or" outside brackets that follows no
// letter, or a single letter that ends no command or word: "1<xorx>3" (from "1<x \text{ or } x>3",
// which was never split) is "1<x", "x>3", while the letters of \lor and \lfloor are no "or". A
// word that still splits ("x>0forallx") leaves parts that are no relation, which nothing reads.
bool or_at(std::string_view s, std::size_t i) {
  const auto letter = [&](std::size_t at) { return std::isalpha(static_cast<unsigned char>(s[at])) != 0; };
  if (i == 0 || s.substr(i, 2) != "or") return false;
  if (!letter(i - 1)) return true;
  return i >= 2 && !letter(i - 2) && s[i - 2] != '\\';
}

std::vector<std::string> split_at_or(std::string_view s) {
  std::vector<std::string> parts;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i + 1 < s.size(); ++i) {
    if (is_open(s[i])) ++depth;
    if (is_close(s[i])) --depth;
    if (depth == 0 && or_at(s, i)) {
      parts.emplace_back(trim(s.substr(start, i - start)));
      start = i + 2;
      ++i;
    }
  }
  parts.emplace_back(trim(s.substr(start)));
  return parts;
}

// "x>1,000" splits as the list "x>1", "000"; it is one relation with the number 1000
// where the rule for a bare number would read 1000: each comma inside a side written
// with thousands separators (any other comma, "x=1,2", "x>1,00", keeps the list).
// Relations joined by "or" read alike, each of them a relation with its commas in such
// sides ("x<1,000orx>2,000" against (-\infty,1000)\cup(2000,\infty)). A comma with a space
// ("x>1, 000") is always a list: the normaliser keeps that space.
bool thousands_relation(const Structured& st, std::string_view s) {
  if (st.shape != Shape::kList) return false;
  bool thousands = false;
  for (const std::string& alternative : split_at_or(s)) {
    const RelationChain chain = split_relations(alternative);
    if (chain.relations.empty()) return false;
    for (const std::string& side : chain.sides) {
      if (side.find(',') == std::string::npos) continue;
      if (!has_thousands_separators(side)) return false;
      thousands = true;
    }
  }
  return thousands;
}

// A thousands relation is read so against one answer (a scalar, a tuple or a union) or
// against another thousands relation; against any other list it stays a list. Both
// relations must lose their commas: "2x\le 2,500" against "x\le 1,500" compared piece by
// piece was "2x\le2" = "x\le1" and "500" = "500", a pass (a review found it once
// coefficients were divided out).
bool reads_as_thousands_relation(const Structured& st, std::string_view s, const Structured& other,
                                 std::string_view other_text) {
  if (!thousands_relation(st, s)) return false;
  if (other.shape == Shape::kList) return thousands_relation(other, other_text);
  return other.shape == Shape::kScalar || other.shape == Shape::kTuple || other.shape == Shape::kUnion;
}

// +\infty is \infty: a tuple's (an interval's) written ends, not values to evaluate:
// (5,+\infty) is (5,\infty).
Structured with_plain_infinity(Structured st) {
  for (std::string& e : st.elements) {
    if (e == "+\\infty") e = "\\infty";
  }
  return st;
}

// Ordered, with the same brackets: "(1,2)" is not "[1,2]", which as intervals differ.
Equivalence tuples_equivalent(const Structured& sa_in, const Structured& sb_in, int depth, double decimal_tolerance) {
  const Structured sa = with_plain_infinity(sa_in), sb = with_plain_infinity(sb_in);
  if (sa.open != sb.open || sa.close != sb.close) {
    return {false, fmt::format("brackets differ: {}..{} vs {}..{}", sa.open, sa.close, sb.open, sb.close)};
  }
  if (sa.elements.size() != sb.elements.size()) {
    return {false, fmt::format("tuple: {} vs {} elements", sa.elements.size(), sb.elements.size())};
  }
  for (std::size_t i = 0; i < sa.elements.size(); ++i) {
    if (!equivalent(sa.elements[i], sb.elements[i], depth + 1, decimal_tolerance).equal) {
      return {false, fmt::format("tuple: element {} differs ('{}' vs '{}')", i + 1, sa.elements[i], sb.elements[i])};
    }
  }
  return {true, fmt::format("tuple of {} equal elementwise", sa.elements.size())};
}

Equivalence intervals_equivalent(const Structured& x, const Structured& y, int depth, double decimal_tolerance) {
  Equivalence e = tuples_equivalent(x, y, depth, decimal_tolerance);
  e.how = fmt::format("interval {}{},{}{} vs {}{},{}{}: {}", x.open, x.elements[0], x.elements[1], x.close, y.open,
                      y.elements[0], y.elements[1], y.close, e.how);
  return e;
}

std::optional<Structured> interval_of_scalar(const Structured& st) {
  if (st.shape != Shape::kScalar) return std::nullopt;
  if (auto found = interval_of_inequality(st.elements.front())) return std::move(found->interval);
  return std::nullopt;
}

// An interval against an inequality in one variable (-2\le x\le 7 vs [-2,7], x<3 vs
// (-\infty,3)): compared as intervals, ends and brackets exactly. A reference "(a,b)" with
// finite ends may be the point (a,b), so an inequality does not equal it unless the
// reference says it is a set (x\in(a,b)); an interval answer against an inequality
// reference is one. nullopt when the pair is not an interval and an inequality.
std::optional<Equivalence> interval_against_inequality(const Structured& sa, const Structured& sb, bool b_is_membership,
                                                       int depth, double decimal_tolerance) {
  if (is_interval(sa)) {
    if (const auto ib = interval_of_scalar(sb)) return intervals_equivalent(sa, *ib, depth, decimal_tolerance);
    return std::nullopt;
  }
  if (!is_interval(sb)) return std::nullopt;
  const auto ia = interval_of_scalar(sa);
  if (!ia) return std::nullopt;
  const bool may_be_a_point = sb.open == '(' && sb.close == ')' && !b_is_membership && !is_infinity(sb.elements[0]) &&
                              !is_infinity(sb.elements[1]);
  if (may_be_a_point) {
    return Equivalence{false,
                       fmt::format("an inequality vs '({},{})', which may be a point", sb.elements[0], sb.elements[1])};
  }
  return intervals_equivalent(*ia, sb, depth, decimal_tolerance);
}

// A set of reals as intervals, and the variable that its inequalities name ("" when it
// names none: "(-\infty,1)\cup(2,\infty)", "\mathbb{R}\setminus\{3\}").
struct IntervalSet {
  std::vector<Structured> intervals;
  std::string variable;
};

// The intervals of inequalities in one variable joined by "or" ("x<1orx>2" is (-\infty,1)
// and (2,\infty)); nullopt unless every part is one, all in the same variable.
std::optional<IntervalSet> intervals_of_alternatives(std::string_view s) {
  const std::vector<std::string> parts = split_at_or(s);
  if (parts.size() < 2) return std::nullopt;
  IntervalSet set;
  for (const std::string& part : parts) {
    auto found = interval_of_inequality(part);
    if (!found || (!set.variable.empty() && found->variable != set.variable)) return std::nullopt;
    set.variable = found->variable;
    set.intervals.push_back(std::move(found->interval));
  }
  return set;
}

// The intervals of a union whose elements are intervals or inequalities in one variable
// ("(-\infty,1)\cup(2,\infty)", "x<1\cup x>2"); nullopt when an element is neither or the
// inequalities name two variables.
std::optional<IntervalSet> intervals_of_union(const Structured& st) {
  if (st.shape != Shape::kUnion) return std::nullopt;
  IntervalSet set;
  for (const std::string& element : st.elements) {
    Structured e = structure_of(element);
    if (!is_interval(e)) {
      auto found = e.shape == Shape::kScalar ? interval_of_inequality(e.elements.front()) : std::nullopt;
      if (!found || (!set.variable.empty() && found->variable != set.variable)) return std::nullopt;
      set.variable = found->variable;
      e = std::move(found->interval);
    }
    set.intervals.push_back(std::move(e));
  }
  return set;
}

// The open intervals between increasing finite points: the reals without them. One point c gives
// (-\infty,c) and (c,\infty).
std::vector<Structured> reals_without(const std::vector<std::string>& increasing) {
  std::vector<Structured> intervals;
  std::string lower = "-\\infty";
  for (const std::string& point : increasing) {
    intervals.push_back(Structured{Shape::kTuple, '(', ')', {lower, point}});
    lower = point;
  }
  intervals.push_back(Structured{Shape::kTuple, '(', ')', {lower, "\\infty"}});
  return intervals;
}

// "x\ne 3" (also "3\ne x", "2x\ne 6") in one variable with a finite bound is
// (-\infty,3)\cup(3,\infty); nullopt for anything else (x\ne y, x\ne\infty, a chain).
std::optional<IntervalSet> intervals_of_not_equal(std::string_view s) {
  RelationChain chain = split_relations(s);
  if (chain.relations.size() != 1 || chain.relations.front() != Relation::kNotEqual || !solved_for_variable(chain)) {
    return std::nullopt;
  }
  const std::size_t at = is_interval_variable(chain.sides[0]) ? 0 : 1;
  const std::string& point = chain.sides[1 - at];
  if (!is_interval_variable(chain.sides[at]) || is_infinity(point) || !is_bound(point)) return std::nullopt;
  return IntervalSet{reals_without({point}), chain.sides[at]};
}

// "\mathbb{R}", "\mathbb R", "ℝ": a PCRE2 group.
constexpr std::string_view kRealsPattern = R"((?:\\mathbb(?:\{R\}| ?R)|ℝ))";

// The points of "1,\sqrt{2},3" in increasing order, each a finite bound (a number or a constant).
// nullopt when one is not, when two are equal or too close to order by value (within the relative
// 1e-6 of numeric_value.h), or when the list may be one number with thousands separators
// ("1,000", as it would be against a single number).
std::optional<std::vector<std::string>> increasing_points(std::string_view list) {
  if (has_thousands_separators(list)) return std::nullopt;
  std::vector<std::pair<double, std::string>> points;
  for (std::string& point : split_top_level(list, ",")) {
    if (point.empty() || is_infinity(point) || !is_bound(point)) return std::nullopt;
    const auto number = evaluate_number(point);
    const double value = number ? number->approx : evaluate_at_point(point, 1)->value;  // a bound: set
    if (!std::isfinite(value)) return std::nullopt;
    points.emplace_back(value, std::move(point));
  }
  std::sort(points.begin(), points.end());
  std::vector<std::string> increasing;
  for (std::size_t i = 0; i < points.size(); ++i) {
    if (i > 0 &&
        numerically_equal(NumericValue::of_approx(points[i - 1].first), NumericValue::of_approx(points[i].first))) {
      return std::nullopt;
    }
    increasing.push_back(std::move(points[i].second));
  }
  return increasing;
}

// "\mathbb{R}\setminus\{1,2\}" (also with \backslash or "-" for the difference): the reals
// without finite points, (-\infty,1)\cup(1,2)\cup(2,\infty), naming no variable.
std::optional<IntervalSet> intervals_of_reals_without_points(std::string_view s) {
  static const Pcre2Regex difference("^" + std::string(kRealsPattern) + R"((?:\\setminus|\\backslash|-)\\\{(.+)\\\}$)");
  const auto m = difference.find_all(s);
  if (m.empty()) return std::nullopt;
  auto points = increasing_points(m.front().groups[0]);
  if (!points) return std::nullopt;
  return IntervalSet{reals_without(*points), ""};
}

// "\mathbb{R}" is the interval (-\infty,\infty), naming no variable.
std::optional<IntervalSet> intervals_of_the_reals(std::string_view s) {
  static const Pcre2Regex reals("^" + std::string(kRealsPattern) + "$");
  if (!reals.matches_whole(s)) return std::nullopt;
  return IntervalSet{{Structured{Shape::kTuple, '(', ')', {"-\\infty", "\\infty"}}}, ""};
}

// An interval with an infinite end, "(-\infty,\infty)", "[2,\infty)": a set of reals, never the
// point (a,b) a tuple with finite ends may be.
std::optional<IntervalSet> intervals_of_unbounded_interval(const Structured& st) {
  if (!is_interval(st) || (!is_infinity(st.elements[0]) && !is_infinity(st.elements[1]))) return std::nullopt;
  return IntervalSet{{with_plain_infinity(st)}, ""};
}

// A side read as a set of reals: a union of intervals (or of inequalities in one variable),
// inequalities joined by "or", one inequality in one variable, "x\ne c", the reals, the reals
// without points, or an interval with an infinite end. nullopt for anything else (a tuple with
// finite ends, which may be a point, is not read here).
std::optional<IntervalSet> intervals_of_set(const Structured& st) {
  if (st.shape == Shape::kUnion) return intervals_of_union(st);
  if (st.shape == Shape::kTuple) return intervals_of_unbounded_interval(st);
  if (st.shape != Shape::kScalar) return std::nullopt;
  const std::string& s = st.elements.front();
  if (auto alternatives = intervals_of_alternatives(s)) return alternatives;
  if (auto found = interval_of_inequality(s)) return IntervalSet{{std::move(found->interval)}, found->variable};
  if (auto not_equal = intervals_of_not_equal(s)) return not_equal;
  if (auto reals = intervals_of_the_reals(s)) return reals;
  return intervals_of_reals_without_points(s);
}

bool union_holds_a_relation(const Structured& st) {
  return st.shape == Shape::kUnion && std::any_of(st.elements.begin(), st.elements.end(), [](const std::string& e) {
           return !split_relations(e).relations.empty();
         });
}

// Two sides read as sets of reals (intervals_of_set): a union of intervals against
// inequalities joined by "or" ((-\infty,1)\cup(2,\infty) vs x<1 \text{ or } x>2), such
// alternatives on both sides in another order, "x\ne 3" against (-\infty,3)\cup(3,\infty) or
// \mathbb{R}\setminus\{3\}, two inequalities with one solution set ("2x\le 6" and "x\le 3"):
// the intervals in any order, each with its ends and brackets exactly. Two sides that each
// name a variable must name the same one (x<1 \text{ or } x>2 is not y<1 \text{ or } y>2).
// nullopt unless both sides are read; unions on both sides come here only when one holds an
// inequality (equivalent()).
std::optional<Equivalence> sets_of_reals_equivalent(const Structured& sa, const Structured& sb, int depth,
                                                    double decimal_tolerance) {
  const auto as = intervals_of_set(sa);
  if (!as) return std::nullopt;
  const auto bs = intervals_of_set(sb);
  if (!bs) return std::nullopt;
  if (!as->variable.empty() && !bs->variable.empty() && as->variable != bs->variable) {
    return Equivalence{false, fmt::format("sets of reals in the variables {} vs {}", as->variable, bs->variable)};
  }
  // Relations on both sides (x\le 4 vs x\le 3) say so in the reason.
  const std::string what =
      as->variable.empty() || bs->variable.empty() ? "sets of reals" : "relations in " + as->variable;
  if (as->intervals.size() != bs->intervals.size()) {
    return Equivalence{false, fmt::format("{}: {} vs {} intervals", what, as->intervals.size(), bs->intervals.size())};
  }
  std::vector<bool> used(bs->intervals.size(), false);
  for (const Structured& a : as->intervals) {
    bool found = false;
    for (std::size_t j = 0; j < bs->intervals.size() && !found; ++j) {
      if (!used[j] && intervals_equivalent(a, bs->intervals[j], depth, decimal_tolerance).equal) used[j] = found = true;
    }
    if (!found) {
      return Equivalence{false, fmt::format("{}: the interval {}{},{}{} has no match", what, a.open, a.elements[0],
                                            a.elements[1], a.close)};
    }
  }
  if (as->intervals.size() == 1) return Equivalence{true, what + ": the same interval"};
  return Equivalence{true, fmt::format("{}: {} intervals equal in some order", what, as->intervals.size())};
}

// "]a,b[", "]a,b]", "[a,b[" (the French and ISO 31-11 spelling of open ends) as "(a,b)", "(a,b]",
// "[a,b)", where such an interval is the whole answer or a whole part of a union ("[0,1[\cup]2,3]"):
// elsewhere a stray bracket is left alone. `*whole` (if given) says whether the answer is one such
// interval, which is a set of reals and never the point a tuple "(a,b)" may be.
std::string with_iso_intervals(std::string_view s, bool* whole = nullptr) {
  static const Pcre2Regex iso(
      R"((^|\\cup)([\[\]])((?:[^\[\](){},]|(?&group))+),((?:[^\[\](){},]|(?&group))+)([\[\]])(?=$|\\cup))"
      R"((?(DEFINE)(?<group>\((?:[^()]|(?&group))*\)|\{(?:[^{}]|(?&group))*\})))");
  if (whole) *whole = false;
  std::string out;
  std::size_t copied = 0;
  for (const RegexMatch& m : iso.find_all(s)) {
    const std::vector<std::string>& g = m.groups;
    const bool open_left = g[1] == "]", open_right = g[4] == "[";
    if (!open_left && !open_right) continue;  // [a,b]: no ISO spelling
    out.append(s.substr(copied, m.begin - copied));
    out += g[0] + (open_left ? "(" : "[") + g[2] + "," + g[3] + (open_right ? ")" : "]");
    copied = m.end;
    if (whole) *whole = m.begin == 0 && m.end == s.size();
  }
  out.append(s.substr(copied));
  return out;
}

// "x\in(1,3)": the brackets then hold a set, not the coordinates of a point.
bool written_as_membership(std::string_view s) {
  const std::string value = strip_variable_prefix(s);
  return value.size() < s.size() && s.substr(0, s.size() - value.size()).ends_with("\\in");
}

Equivalence equivalent(std::string_view a_in, std::string_view b_in, int depth, double decimal_tolerance) {
  if (a_in == b_in) return {true, fmt::format("same text '{}'", a_in)};
  bool b_iso_interval = false;
  std::string a = with_iso_intervals(strip_variable_prefix(a_in));
  std::string b = with_iso_intervals(strip_variable_prefix(b_in), &b_iso_interval);
  if (depth > 8) return {false, "nested too deeply (limit 8)"};
  Structured sa = structure_of(a), sb = structure_of(b);
  // Both decided on the sides as written, before either loses its commas.
  const bool a_thousands = reads_as_thousands_relation(sa, a, sb, b);
  const bool b_thousands = reads_as_thousands_relation(sb, b, sa, a);
  if (a_thousands) sa = structure_of(a = without_commas(a));
  if (b_thousands) sb = structure_of(b = without_commas(b));
  // "1,000" is a list to the eye of structure_of; against a single number it is a
  // number with thousands separators. Against a list ("100,200" vs "200,100") it stays
  // a list.
  if (sa.shape == Shape::kList && sb.shape == Shape::kScalar && has_thousands_separators(a)) {
    return scalars_equivalent(without_commas(a), b, decimal_tolerance);
  }
  if (sb.shape == Shape::kList && sa.shape == Shape::kScalar && has_thousands_separators(b)) {
    return scalars_equivalent(a, without_commas(b), decimal_tolerance);
  }
  const bool a_unordered = sa.shape == Shape::kSet || sa.shape == Shape::kList;
  const bool b_unordered = sb.shape == Shape::kSet || sb.shape == Shape::kList;
  if (a_unordered && b_unordered) return multiset_equivalent(sa.elements, sb.elements, depth, "set", decimal_tolerance);
  if (sa.shape == Shape::kUnion && sb.shape == Shape::kUnion) {
    // With an inequality among the elements, a union is a set of reals: one variable, and
    // each (a,b) an interval, not a point ("x<1\cup y>2" is no union of intervals).
    if (union_holds_a_relation(sa) || union_holds_a_relation(sb)) {
      if (auto union_ = sets_of_reals_equivalent(sa, sb, depth, decimal_tolerance)) return *union_;
      return {false,
              fmt::format("a union of inequalities that is no union of intervals in one variable: '{}' vs '{}'", a, b)};
    }
    return multiset_equivalent(sa.elements, sb.elements, depth, "union", decimal_tolerance);
  }
  if (sa.shape == Shape::kTuple && sb.shape == Shape::kTuple)
    return tuples_equivalent(sa, sb, depth, decimal_tolerance);
  const bool b_is_a_set = written_as_membership(b_in) || b_iso_interval;
  if (auto interval = interval_against_inequality(sa, sb, b_is_a_set, depth, decimal_tolerance)) {
    return *interval;
  }
  if (auto union_ = sets_of_reals_equivalent(sa, sb, depth, decimal_tolerance)) return *union_;
  if (sa.shape != Shape::kScalar || sb.shape != Shape::kScalar) {
    return {false, fmt::format("shapes differ: '{}' vs '{}'", a, b)};
  }
  return scalars_equivalent(a, b, decimal_tolerance);
}

}  // namespace

Equivalence answers_equivalent(std::string_view normalized_response, std::string_view normalized_reference,
                               const EquivalenceOptions& options) {
  if (normalized_response.empty()) return {false, "no answer"};
  return equivalent(normalized_response, normalized_reference, 0, options.decimal_relative_tolerance);
}

}  // namespace disa::llm::verify
