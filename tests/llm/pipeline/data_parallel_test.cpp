// RankFailure (llm/pipeline/data_parallel.h): a rank's exception is held until the next
// all-reduce, whose failure counts then stop every rank: the failed one with its own
// error, the others with one of the same kind (so exit codes agree) naming the counts.
// The reducer is a stand-in that adds the other ranks' counts; the two-process path is
// tested through the CLI (llm_pipeline_cli_test, RanksThatFailStopTheRankThatDidNot).
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "llm/pipeline/data_parallel.h"
#include "src/input_error.h"
#include "src/numerical_error.h"

namespace disa::llm::pipeline {
namespace {

// What an all-reduce of the counts gives this rank: its own plus `others` (numerical,
// input, other), as the other ranks would add them.
void reduce_with(std::vector<double>& counts, const std::vector<double>& others) {
  ASSERT_GE(counts.size(), others.size());
  for (std::size_t k = 0; k < others.size(); ++k) counts[counts.size() - others.size() + k] += others[k];
}

TEST(RankFailure, TheFailedRankRethrowsItsOwnErrorAfterTheAllReduce) {
  RankFailure failure(/*hold=*/true);
  failure.run([] { throw NumericalError("step 3: NaN log-probs"); });
  EXPECT_TRUE(failure.failed());
  bool ran = false;
  failure.run([&] { ran = true; });  // nothing more is computed once failed
  EXPECT_FALSE(ran);
  std::vector<double> scalars{1.5, 2.5};  // the step's own sums come first
  failure.append_counts(scalars);
  ASSERT_EQ(scalars.size(), 5u);
  EXPECT_EQ(scalars[2], 1.0);  // numerical
  reduce_with(scalars, {0, 0, 0});
  try {
    failure.stop_if_any_failed(scalars, 3);
    FAIL() << "no exception";
  } catch (const NumericalError& e) {
    EXPECT_STREQ(e.what(), "step 3: NaN log-probs");
  }
}

TEST(RankFailure, AnotherRanksFailureStopsThisOneWithTheSameKind) {
  const auto error_of = [](const std::vector<double>& others) -> std::string {
    RankFailure failure(true);
    failure.run([] {});
    std::vector<double> scalars{7.0};
    failure.append_counts(scalars);
    reduce_with(scalars, others);
    try {
      failure.stop_if_any_failed(scalars, 4);
    } catch (const NumericalError& e) {
      return std::string("numerical: ") + e.what();
    } catch (const InputError& e) {
      return std::string("input: ") + e.what();
    } catch (const std::exception& e) {
      return std::string("other: ") + e.what();
    }
    EXPECT_EQ(scalars, std::vector<double>{7.0});  // the counts are taken off the end
    return "";
  };
  EXPECT_EQ(error_of({0, 0, 0}), "");
  EXPECT_EQ(error_of({1, 0, 0}),
            "numerical: train: step 4: stopped because 1 other rank(s) failed (1 numerical, 0 bad input, 0 other); "
            "their logs say why");
  EXPECT_EQ(error_of({0, 2, 0}).rfind("input: train: step 4: stopped because 2 other rank(s)", 0), 0u);
  EXPECT_EQ(error_of({0, 0, 1}).rfind("other: ", 0), 0u);
  EXPECT_EQ(error_of({0, 1, 1}).rfind("input: ", 0), 0u);  // numerical > input > other
}

TEST(RankFailure, InOneProcessExceptionsPassAtOnce) {
  RankFailure failure(/*hold=*/false);
  EXPECT_THROW(failure.run([] { throw InputError("bad"); }), InputError);
  EXPECT_FALSE(failure.failed());
}

}  // namespace
}  // namespace disa::llm::pipeline
