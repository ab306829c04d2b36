// Tests src/key_value_list.h: the KEY=VALUE lists of --set, --family-set and the loss
// heads' options, a repeated key refused by name.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "src/key_value_list.h"
#include "tests/util/errors.h"

namespace disa {
namespace {

using test::input_error_message;

TEST(KeyValueList, ParsesEntries) {
  const auto m = parse_key_values("--set", {"vocab=3", "name=a=b", "empty="});
  EXPECT_EQ(m.at("vocab"), "3");
  EXPECT_EQ(m.at("name"), "a=b");  // the first '=' splits
  EXPECT_EQ(m.at("empty"), "");
  EXPECT_TRUE(parse_key_values("--set", {}).empty());
}

TEST(KeyValueList, ARepeatedKeyIsRefusedEvenWithTheSameValue) {
  EXPECT_EQ(input_error_message([] { parse_key_values("--set", {"vocab=3", "horizon=2", "vocab=5"}); }),
            "--set: option 'vocab' is given twice");
  EXPECT_EQ(input_error_message([] { parse_key_values("anchor: --set", {"beta=3", "beta=3"}); }),
            "anchor: --set: option 'beta' is given twice");
}

TEST(KeyValueList, AnOverrideTakesThePlaceOfTheDefault) {
  // The pipeline's stage defaults plus a user's train.max_new_tokens=6: one entry per key.
  EXPECT_EQ(override_key_values({"steps=200", "max_new_tokens=40", "seed=1"}, {"max_new_tokens=6", "lr=0.1"}),
            (std::vector<std::string>{"steps=200", "seed=1", "max_new_tokens=6", "lr=0.1"}));
  EXPECT_NO_THROW(parse_key_values("train", override_key_values({"max_new_tokens=40"}, {"max_new_tokens=6"})));
  // A key the user repeats stays repeated: refused as theirs.
  EXPECT_EQ(input_error_message([] {
              parse_key_values("train", override_key_values({"beta=3"}, {"beta=1", "beta=2"}));
            }),
            "train: option 'beta' is given twice");
}

TEST(KeyValueList, AnEntryThatIsNotKeyValueIsNamed) {
  EXPECT_EQ(input_error_message([] { parse_key_values("--family-set", {"horizon"}); }),
            "--family-set: option 'horizon' is not key=value");
  EXPECT_EQ(input_error_message([] { parse_key_values("--family-set", {"=3"}); }),
            "--family-set: option '=3' is not key=value");
}

}  // namespace
}  // namespace disa
