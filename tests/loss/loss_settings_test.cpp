// loss::Settings::integer (src/loss/settings.h): integers parsed exactly, never through a
// double, and a refusal that names the key, the value and the range. The one parser of
// `disa train --set` and the LLM stages' integer keys. Settings::number: plain decimal only.
#include "src/loss/settings.h"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "src/input_error.h"

namespace {

using disa::loss::Settings;

std::int64_t integer_of(const std::string& text, std::int64_t low = 0,
                        std::int64_t high = std::numeric_limits<std::int64_t>::max()) {
  Settings s = Settings::parse("train", {"seed=" + text});
  return s.integer("seed", 1, low, high);
}

std::string rejection(const std::string& text, std::int64_t low = 0,
                      std::int64_t high = std::numeric_limits<std::int64_t>::max()) {
  try {
    integer_of(text, low, high);
  } catch (const disa::InputError& e) {
    return e.what();
  }
  return "";
}

TEST(SettingsInteger, IsParsedExactlyNotThroughADouble) {
  EXPECT_EQ(integer_of("9007199254740993"), 9007199254740993);  // 2^53 + 1 (a double gives 2^53)
  EXPECT_EQ(integer_of("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(integer_of("-3", -5), -3);
  // What a tool writing a config file may give for a whole number, taken exactly.
  EXPECT_EQ(integer_of("16.0"), 16);
  EXPECT_EQ(integer_of("+16"), 16);
  EXPECT_EQ(integer_of("1e3"), 1000);
  EXPECT_EQ(integer_of("1.5E1"), 15);
  EXPECT_EQ(integer_of("1e12"), 1000000000000);
  EXPECT_EQ(integer_of("9007199254740993.000"), 9007199254740993);
  EXPECT_EQ(integer_of("-0", 0), 0);
  Settings s = Settings::parse("train", {});
  EXPECT_EQ(s.integer("seed", 42, 0), 42);  // absent: the fallback
}

TEST(SettingsInteger, RefusesWhatIsNotExactlyAnIntegerInRangeStatingTheRange) {
  const std::string range = ": must be an integer in [0, 9223372036854775807]";
  // strtod reads 8999999999999999.5 as 9000000000000000, a whole number: it was accepted.
  EXPECT_EQ(rejection("8999999999999999.5"), "train: seed=8999999999999999.5" + range);
  EXPECT_EQ(rejection("2.5"), "train: seed=2.5" + range);
  EXPECT_EQ(rejection("1e-1"), "train: seed=1e-1" + range);
  EXPECT_EQ(rejection("12x"), "train: seed=12x" + range);
  EXPECT_EQ(rejection(""), "train: seed=" + range);
  EXPECT_EQ(rejection(" 5"), "train: seed= 5" + range);
  EXPECT_EQ(rejection("nan"), "train: seed=nan" + range);
  EXPECT_EQ(rejection("inf"), "train: seed=inf" + range);
  EXPECT_EQ(rejection("0x10"), "train: seed=0x10" + range);
  EXPECT_EQ(rejection("1..2"), "train: seed=1..2" + range);
  EXPECT_EQ(rejection("9223372036854775808"), "train: seed=9223372036854775808" + range);
  EXPECT_EQ(rejection("99999999999999999999"), "train: seed=99999999999999999999" + range);
  EXPECT_EQ(rejection("1e300"), "train: seed=1e300" + range);
  EXPECT_EQ(rejection("-1"), "train: seed=-1" + range);
  EXPECT_EQ(rejection("300", 1, 256), "train: seed=300: must be an integer in [1, 256]");
  EXPECT_EQ(rejection("256", 1, 256), "");
}

// loss::Settings::number: the decimal rule of src/decimal_number.h. strtod took hex
// ("0x1p1" = 2), leading white space and "infinity"; each is refused naming key and value.
std::string number_rejection(const std::string& text) {
  try {
    Settings s = Settings::parse("tb", {"beta=" + text});
    s.number("beta", 1.0);
  } catch (const disa::InputError& e) {
    return e.what();
  }
  return "";
}

TEST(SettingsNumber, OnlyPlainDecimalIsANumber) {
  Settings s = Settings::parse("tb", {"beta=2.5e-1", "a=+.5", "b=-3", "c=1e-310"});
  EXPECT_EQ(s.number("beta", 1.0), 0.25);
  EXPECT_EQ(s.number("a", 1.0), 0.5);
  EXPECT_EQ(s.number("b", 1.0), -3.0);
  EXPECT_EQ(s.number("c", 1.0), 1e-310);  // subnormal, not zero: kept
  const std::string not_decimal = ": expected a finite decimal number";
  EXPECT_EQ(number_rejection("0x1p1"), "tb: beta=0x1p1" + not_decimal);
  EXPECT_EQ(number_rejection(" 2"), "tb: beta= 2" + not_decimal);
  EXPECT_EQ(number_rejection("2 "), "tb: beta=2 " + not_decimal);
  EXPECT_EQ(number_rejection("infinity"), "tb: beta=infinity" + not_decimal);
  EXPECT_EQ(number_rejection("nan"), "tb: beta=nan" + not_decimal);
  EXPECT_EQ(number_rejection(""), "tb: beta=" + not_decimal);
  EXPECT_EQ(number_rejection("1e"), "tb: beta=1e" + not_decimal);
  EXPECT_EQ(number_rejection("1e-400"), "tb: beta=1e-400: too small in magnitude for a double (it underflows to 0)");
  EXPECT_EQ(number_rejection("-1e400"), "tb: beta=-1e400: beyond the largest finite double (about 1.8e308)");
  EXPECT_EQ(number_rejection("0e-400"), "");  // zero written small is still zero
}

}  // namespace
