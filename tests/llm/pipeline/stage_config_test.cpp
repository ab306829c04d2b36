// Tests llm/pipeline/stage_config.h: integer keys parse as integers (not through a
// double, which would turn a seed of 2^53 + 1 into 2^53 and resume the wrong run), a bad
// value is an InputError naming stage, key and value, loss.* keys are an error in a
// stage that does not take them, and a key given twice (in the file or in --set) is refused.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "llm/pipeline/stage_config.h"
#include "src/input_error.h"

namespace disa::llm::pipeline {
namespace {

std::int64_t integer_of(const std::string& value, std::int64_t low = 0, std::int64_t high = INT64_MAX) {
  StageConfig c = StageConfig::load("train", "", {"seed=" + value});
  return c.integer("seed", 1, low, high);
}

std::string rejection(const std::string& value, std::int64_t low = 0, std::int64_t high = INT64_MAX) {
  try {
    integer_of(value, low, high);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(StageConfigInteger, IsParsedExactlyNotThroughADouble) {
  EXPECT_EQ(integer_of("9007199254740993"), 9007199254740993);  // 2^53 + 1
  EXPECT_EQ(integer_of("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(integer_of("-3", -5), -3);
  // What a tool writing JSON may give for a whole number.
  EXPECT_EQ(integer_of("16.0"), 16);
  EXPECT_EQ(integer_of("1e3"), 1000);
  StageConfig c = StageConfig::load("train", "", {});
  EXPECT_EQ(c.integer("seed", 42, 0), 42);  // absent: the fallback
}

TEST(StageConfigInteger, RejectsWhatIsNotExactlyAnIntegerInRangeNamingKeyAndValue) {
  EXPECT_EQ(rejection("2.5"), "train: seed=2.5: must be an integer in [0, 9223372036854775807]");
  EXPECT_EQ(rejection("12x"), "train: seed=12x: must be an integer in [0, 9223372036854775807]");
  EXPECT_EQ(rejection(""), "train: seed=: must be an integer in [0, 9223372036854775807]");
  EXPECT_EQ(rejection(" 5"), "train: seed= 5: must be an integer in [0, 9223372036854775807]");
  EXPECT_EQ(rejection("nan"), "train: seed=nan: must be an integer in [0, 9223372036854775807]");
  EXPECT_EQ(rejection("inf"), "train: seed=inf: must be an integer in [0, 9223372036854775807]");
  EXPECT_EQ(rejection("99999999999999999999"), "train: seed=99999999999999999999: must be an integer in [0, 9223372036854775807]");
  EXPECT_EQ(rejection("1e300"), "train: seed=1e300: must be an integer in [0, 9223372036854775807]");  // whole, but past int64
  EXPECT_EQ(rejection("-1"), "train: seed=-1: must be an integer in [0, 9223372036854775807]");
  EXPECT_EQ(rejection("300", 1, 256), "train: seed=300: must be an integer in [1, 256]");
  EXPECT_EQ(rejection("256", 1, 256), "");
}

TEST(StageConfigLossKeys, AreTrainsAndAnErrorWhereverNobodyTakesThem) {
  StageConfig train = StageConfig::load("train", "", {"loss.kl_coef=0.3", "steps=2"});
  train.integer("steps", 1, 1);
  EXPECT_EQ(train.take_loss_settings(), std::vector<std::string>{"kl_coef=0.3"});
  EXPECT_NO_THROW(train.finish());

  StageConfig anchor = StageConfig::load("anchor", "", {"loss.kl_coef=0.3"});
  try {
    anchor.finish();
    FAIL() << "anchor accepted loss.kl_coef";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "anchor: loss.kl_coef=0.3: the loss head's options are train's");
  }
  StageConfig pipeline = StageConfig::load("pipeline", "", {"loss.kl_coef=0.3"});
  EXPECT_THROW(
      {
        try {
          pipeline.finish();
        } catch (const InputError& e) {
          EXPECT_NE(std::string(e.what()).find("(here: train.loss.KEY=VALUE)"), std::string::npos) << e.what();
          throw;
        }
      },
      InputError);
}

std::string load_error(const std::string& config_path, const std::vector<std::string>& sets) {
  try {
    StageConfig::load("anchor", config_path, sets);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(StageConfigRepeats, AKeyGivenTwiceIsRefusedAndASetOverridesTheFile) {
  // Both used to take the last: beta 50 where 3 may have been meant.
  EXPECT_EQ(load_error("", {"beta=3", "beta=50"}), "anchor: --set: option 'beta' is given twice");
  const auto dir = std::filesystem::temp_directory_path() / ("disa_stage_config_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string twice = (dir / "twice.json").string(), once = (dir / "once.json").string();
  std::ofstream(twice) << R"({"beta": 3, "beta": 50})";
  std::ofstream(once) << R"({"beta": 3})";
  EXPECT_EQ(load_error(twice, {}),
            "anchor: --config '" + twice + "': /beta: key \"beta\" is given twice in one object");
  // One key in the file and again in --set is the documented override, not a repeat.
  EXPECT_EQ(StageConfig::load("anchor", once, {"beta=4"}).given().at("beta"), "4");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace disa::llm::pipeline
