// The comparison a code task's statement asks for (llm/verify/code_benchmarks.h:
// comparison_from_statement) on the phrasings of codeforces.json and
// livecodebench.json, and a record's "compare" over it (code_records.h). No sandbox.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "llm/verify/code_benchmarks.h"
#include "llm/verify/code_records.h"
#include "src/input_error.h"

namespace disa::llm::verify {
namespace {

TEST(ComparisonFromStatement, AnyCaseAsTheDatasetsSayIt) {
  for (const char* s : {
           "You can output the answer in any case (upper or lower). For example, the strings \"yEs\" will be "
           "recognized as a positive response.",
           "You can output \"YES\" and \"NO\" in any case (for example, strings \"yEs\", \"yes\", and \"Yes\" will be "
           "recognized as a positive response).",
           "You can output $\\texttt{Yes}$ and $\\texttt{No}$ in any case (for example, strings $\\texttt{yEs}$)",
           "You may output each letter in any case (lowercase or uppercase).",
           "You can output this answer in any case (upper or lower)."}) {
    EXPECT_TRUE(comparison_from_statement(s).case_insensitive) << s;
  }
  // Words about cases that say nothing of the output's letters.
  for (const char* s : {
           "output one line — \"YES\" if the cube will be removed in all cases, \"NO\" if it will not be removed in "
           "any case, \"MAYBE\" otherwise.",
           "The first line contains t, the number of test cases. In any case, print YES or NO.",
           "consisting of lowercase English letters. Print Yes if it is, No otherwise."}) {
    EXPECT_FALSE(comparison_from_statement(s).case_insensitive) << s;
  }
}

TEST(ComparisonFromStatement, AnyCaseForTheQuotedWordsOnly) {
  // The words the "in any case" sentence quotes are the only case-blind ones (Codeforces
  // record 1 prints a string after its YES); a sentence quoting none frees every word.
  using Words = std::vector<std::string>;
  EXPECT_EQ(comparison_from_statement("Otherwise, output \"YES\". Then, output the string r.\n\nYou can output \"YES\" "
                                      "and \"NO\" in any case (for example, strings \"yEs\", \"yes\").")
                .case_insensitive_words,
            (Words{"YES", "NO"}));
  EXPECT_EQ(comparison_from_statement("You can output $\\texttt{Yes}$ and $\\texttt{No}$ in any case (for example)")
                .case_insensitive_words,
            (Words{"Yes", "No"}));
  EXPECT_EQ(comparison_from_statement("You may print “ALICE” or 'BOB' in any case.").case_insensitive_words,
            (Words{"ALICE", "BOB"}));
  for (const char* s : {"You can output the answer in any case (upper or lower). For example, the strings \"yEs\", "
                        "\"yes\" will be recognized as a positive response.",
                        "You may output each letter in any case (lowercase or uppercase).",
                        "You can output \"YES\" and \"NO\" in any case. You can output the answer in any case."}) {
    const OutputComparison how = comparison_from_statement(s);
    EXPECT_TRUE(how.case_insensitive) << s;
    EXPECT_TRUE(how.case_insensitive_words.empty()) << s;
  }
}

TEST(ComparisonFromStatement, TheStatedErrorBound) {
  EXPECT_DOUBLE_EQ(comparison_from_statement("Answers with an absolute or relative error of at most 10^{-9} from "
                                             "the true answer will be considered correct.")
                       .tolerance,
                   1e-9);
  EXPECT_DOUBLE_EQ(comparison_from_statement("Your answer will be accepted if the relative or absolute error does "
                                             "not exceed $10^{-4}$. Formally, ...")
                       .tolerance,
                   1e-4);
  EXPECT_DOUBLE_EQ(comparison_from_statement("absolute or relative error at most 10^{−7}").tolerance, 1e-7);
  EXPECT_DOUBLE_EQ(comparison_from_statement("absolute or relative error at most 10^-8").tolerance, 1e-8);
  EXPECT_DOUBLE_EQ(comparison_from_statement("if its absolute or relative error is at most 1e-5.").tolerance, 1e-5);
  // A mantissa is part of the bound (it was read as 10^{-6} alone: 2x too strict).
  EXPECT_DOUBLE_EQ(comparison_from_statement("absolute or relative error does not exceed $2 \\cdot 10^{-6}$.").tolerance,
                   2e-6);
  EXPECT_DOUBLE_EQ(comparison_from_statement("absolute or relative error at most 2.5·10^{-4}").tolerance, 2.5e-4);
  EXPECT_DOUBLE_EQ(comparison_from_statement("absolute or relative error at most 5 \\times 10^{-7}").tolerance, 5e-7);
  EXPECT_DOUBLE_EQ(comparison_from_statement("absolute or relative error at most 3e-5").tolerance, 3e-5);
  // "N \leq 2 \times 10^5 ... error 10^{-6}": the 2 belongs to another number.
  EXPECT_DOUBLE_EQ(comparison_from_statement("absolute or relative error at most 10^{-6}, where 2 \\times 10^5").tolerance,
                   1e-6);
  // A "bound" of 1 or more is no tolerance: the default.
  EXPECT_DOUBLE_EQ(comparison_from_statement("absolute or relative error at most 50 \\cdot 10^{-1}").tolerance,
                   kDefaultOutputTolerance);
  // No stated bound (or a 10^{-k} of another sentence): the default.
  EXPECT_DOUBLE_EQ(comparison_from_statement("Print the answer modulo 10^9+7.").tolerance, kDefaultOutputTolerance);
  EXPECT_DOUBLE_EQ(comparison_from_statement("Mind the absolute or relative error. Print x with |x| <= 10^{-3}.")
                       .tolerance,
                   kDefaultOutputTolerance);
}

TEST(ComparisonFromStatement, SeveralAnswers) {
  for (const char* s : {
           "If there are multiple answers, print any of them.", "If multiple answers exist, output any.",
           "If there exist multiple such permutations, you can pick any of them.",
           "If there are multiple valid XORificator configurations that achieve the optimal answer, you can output "
           "any of them.",
           "If multiple solutions exist, any of them will be accepted.",
           "For each test case, output $n \\cdot m$ integers — any suitable matrix $b$, or $-1$ if such a matrix "
           "does not exist.",
           "For each test case, output any string of length $n$ that satisfies the above conditions.",
           "Output any such string, or say that it is impossible.",
           "If you output any other positive number instead of $1$ that fits into a 64-bit signed integer type, it "
           "will also be recognized as $1$."}) {
    EXPECT_TRUE(comparison_from_statement(s).several_answers) << s;
  }
  for (const char* s : {
           "If there are multiple maxima, it can be any one of them.",
           "print one number, or $-1$ if the scores aren't consistent with any valid set of games and results.",
           "Find how many ways there are to divide the peanuts. Print any remainder modulo p.",
           "Print the answer."}) {
    EXPECT_FALSE(comparison_from_statement(s).several_answers) << s;
  }
}

TEST(ComparisonFromStatement, InteractiveProblemsAreSeveralAnswerTasks) {
  // Their tests are one transcript of queries: another right strategy fails them.
  for (const char* s : {"This is an interactive problem.\n\nCat can ask Fox at most 2n questions.",
                        "Help Dimash find the password.\n\nTags:\n['constructive algorithms', 'interactive', 'strings']\n"}) {
    const OutputComparison how = comparison_from_statement(s);
    EXPECT_TRUE(how.interactive) << s;
    EXPECT_TRUE(how.several_answers) << s;
  }
  for (const char* s : {"Tags:\n['implementation']\n\nThe interactive whiteboard shows n numbers.",
                        "Tags:\n['games']\n'interactive' is a word in the next line"}) {
    EXPECT_FALSE(comparison_from_statement(s).interactive) << s;
  }
}

class RecordComparison : public ::testing::Test {
 protected:
  CodeBenchmarkIndex index{"/nonexistent"};
  CodeTask task(const nlohmann::json& record) { return code_task_from_record(record, "in.jsonl line 1", std::nullopt, index); }
};

TEST_F(RecordComparison, ARecordsCompareFieldSetsTheTasksComparison) {
  const nlohmann::json tests = nlohmann::json::array({{{"input", "1"}, {"output", "YES"}}});
  const CodeTask plain = task({{"response", ""}, {"tests", tests}});
  EXPECT_FALSE(plain.compare.case_insensitive);
  EXPECT_DOUBLE_EQ(plain.compare.tolerance, kDefaultOutputTolerance);
  const CodeTask set = task({{"response", ""},
                             {"tests", tests},
                             {"compare", {{"case_insensitive", true}, {"tolerance", 1e-9}, {"several_answers", true}}}});
  EXPECT_TRUE(set.compare.case_insensitive);
  EXPECT_DOUBLE_EQ(set.compare.tolerance, 1e-9);
  EXPECT_TRUE(set.compare.several_answers);
  EXPECT_TRUE(set.compare.case_insensitive_words.empty());  // true: every word
  // A list frees only those words' case; true or false over a list clears it.
  const CodeTask words = task(
      {{"response", ""}, {"tests", tests}, {"compare", {{"case_insensitive", nlohmann::json::array({"YES", "NO"})}}}});
  EXPECT_TRUE(words.compare.case_insensitive);
  EXPECT_EQ(words.compare.case_insensitive_words, (std::vector<std::string>{"YES", "NO"}));
  const OutputComparison every = parse_output_comparison({{"case_insensitive", true}}, "here", words.compare);
  EXPECT_TRUE(every.case_insensitive);
  EXPECT_TRUE(every.case_insensitive_words.empty());
  const OutputComparison none = parse_output_comparison({{"case_insensitive", false}}, "here", words.compare);
  EXPECT_FALSE(none.case_insensitive);
  EXPECT_TRUE(none.case_insensitive_words.empty());
  // Fields left out keep the task's own.
  OutputComparison base;
  base.several_answers = true;
  const OutputComparison over = parse_output_comparison({{"tolerance", 1e-3}}, "here", base);
  EXPECT_TRUE(over.several_answers);
  EXPECT_DOUBLE_EQ(over.tolerance, 1e-3);
  // interactive implies several answers.
  const OutputComparison interactive = parse_output_comparison({{"interactive", true}}, "here");
  EXPECT_TRUE(interactive.interactive);
  EXPECT_TRUE(interactive.several_answers);
  // "interactive": false on an interactive statement also drops the several answers that
  // only the interactive flag implied (was: still several_answers, and the note), but not
  // those the statement says, nor an explicit "several_answers": true.
  const OutputComparison stated = comparison_from_statement("This is an interactive problem.\nPrint 1.");
  ASSERT_TRUE(stated.several_answers);
  const OutputComparison off = parse_output_comparison({{"interactive", false}}, "here", stated);
  EXPECT_FALSE(off.interactive);
  EXPECT_FALSE(off.several_answers);
  const OutputComparison both = comparison_from_statement(
      "This is an interactive problem.\nIf there are multiple answers, print any of them.");
  EXPECT_TRUE(parse_output_comparison({{"interactive", false}}, "here", both).several_answers);
  EXPECT_TRUE(
      parse_output_comparison({{"interactive", false}, {"several_answers", true}}, "here", stated).several_answers);
  // Set again later, interactive implies them again.
  const OutputComparison again = parse_output_comparison({{"interactive", true}}, "here", off);
  EXPECT_TRUE(again.several_answers);
  EXPECT_FALSE(parse_output_comparison({{"interactive", false}}, "here", again).several_answers);
}

TEST_F(RecordComparison, BadCompareFieldsNameTheFieldAndValue) {
  const nlohmann::json tests = nlohmann::json::array({{{"input", "1"}, {"output", "YES"}}});
  auto message = [&](const nlohmann::json& compare) {
    try {
      task({{"response", ""}, {"tests", tests}, {"compare", compare}});
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message({{"tolerance", 0}}),
            "in.jsonl line 1: field 'compare.tolerance': expected a number in (0, 1), got 0");
  EXPECT_EQ(message({{"tolerance", "1e-9"}}),
            "in.jsonl line 1: field 'compare.tolerance': expected a number in (0, 1), got \"1e-9\"");
  EXPECT_EQ(message({{"case_insensitive", 1}}),
            "in.jsonl line 1: field 'compare.case_insensitive': expected true, false or a non-empty list of words "
            "such as [\"YES\", \"NO\"], got 1");
  EXPECT_EQ(message({{"case_insensitive", nlohmann::json::array()}}),
            "in.jsonl line 1: field 'compare.case_insensitive': expected true, false or a non-empty list of words "
            "such as [\"YES\", \"NO\"], got []");
  EXPECT_EQ(message({{"case_insensitive", nlohmann::json::array({"YES", 1})}}),
            "in.jsonl line 1: field 'compare.case_insensitive': expected true, false or a non-empty list of words "
            "such as [\"YES\", \"NO\"], got [\"YES\",1]");
  EXPECT_EQ(message({{"case_insensitive", nlohmann::json::array({"YES", "NO WAY"})}}),
            "in.jsonl line 1: field 'compare.case_insensitive': expected true, false or a non-empty list of words "
            "such as [\"YES\", \"NO\"], got [\"YES\",\"NO WAY\"]");
  EXPECT_EQ(message({{"ignore_case", true}}),
            "in.jsonl line 1: field 'compare.ignore_case': unknown (case_insensitive, tolerance, several_answers, interactive)");
  EXPECT_NE(message(true).find("field 'compare': expected an object"), std::string::npos) << message(true);
  EXPECT_EQ(message({{"interactive", true}, {"several_answers", false}}),
            "in.jsonl line 1: field 'compare.several_answers': false, but the task is interactive (one stored "
            "transcript: other right programs fail)");
  try {
    task({{"response", ""}, {"tests", "def check(candidate):\n    pass\n"}, {"entry_point", "f"},
          {"compare", {{"case_insensitive", true}}}});
    ADD_FAILURE() << "a check() task took a compare field";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("field 'compare': only stdin/stdout and functional tests"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace disa::llm::verify
