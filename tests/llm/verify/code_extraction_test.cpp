// Program extraction and output comparison (llm/verify/code_extraction.h).
#include <gtest/gtest.h>

#include "llm/verify/code_extraction.h"

namespace disa::llm::verify {
namespace {

TEST(ExtractProgram, TakesTheLastPythonBlock) {
  const std::string response =
      "First try:\n```python\nprint(1)\n```\nBetter:\n```python\nprint(2)\n```\nDone.";
  EXPECT_EQ(extract_program(response), "print(2)\n");
}

TEST(ExtractProgram, PythonBlockBeatsALaterUntaggedOrOtherBlock) {
  const std::string response = "```py\nx = 1\n```\n```\n$ python run.py\n```\n```bash\nls\n```\n";
  EXPECT_EQ(extract_program(response), "x = 1\n");
  EXPECT_EQ(extract_program("```Python3\ny = 2\n```"), "y = 2\n");
}

TEST(ExtractProgram, UntaggedBlockWhenNoPythonBlock) {
  EXPECT_EQ(extract_program("Here:\n```\nprint(3)\n```\n"), "print(3)\n");
}

TEST(ExtractProgram, OnlyNonPythonBlocksMeanNoCode) {
  EXPECT_EQ(extract_program("```cpp\nint main() {}\n```"), std::nullopt);
}

TEST(ExtractProgram, RawTextWithoutFences) {
  EXPECT_EQ(extract_program("def f():\n    return 1\n"), "def f():\n    return 1\n");
}

TEST(ExtractProgram, UnclosedBlockRunsToTheEnd) {
  EXPECT_EQ(extract_program("```python\nprint(4)\nprint(5)"), "print(4)\nprint(5)\n");
}

TEST(ExtractProgram, IndentedFencesAndCrLf) {
  // The fence's indentation comes off its body (CommonMark); kept, "  a = 1" would be an
  // IndentationError.
  EXPECT_EQ(extract_program("  ```python\n  a = 1\n  ```"), "a = 1\n");
}

TEST(ExtractProgram, AFenceInAListItemLosesTheItemsIndentation) {
  const std::string response =
      "1. Implementation:\n   ```python\n   def add(x, y):\n       return x + y\n\n   print(1)\n   ```\n";
  EXPECT_EQ(extract_program(response), "def add(x, y):\n    return x + y\n\nprint(1)\n");
  // Only what every non-blank line has, up to the fence's indentation: a body written at
  // column 0 under an indented fence keeps its own indentation (was: its 4 spaces cut).
  EXPECT_EQ(extract_program("    ```python\n  x = 1\n      y = 2\n    ```"), "x = 1\n    y = 2\n");
  EXPECT_EQ(extract_program("1. Code:\n    ```python\ndef f(x):\n    if x:\n        return 1\n    return 0\n    ```\n"),
            "def f(x):\n    if x:\n        return 1\n    return 0\n");
  // A fence cut off before its close is dedented the same way.
  EXPECT_EQ(extract_program("  ```python\n  a = 1\n    b = 2"), "a = 1\n  b = 2\n");
}

TEST(ExtractProgram, TheLanguageIsTheInfoStringsFirstWord) {
  // CommonMark: attributes after the language (was: "python title=..." was no language,
  // so the block was skipped and the response had "no code found").
  EXPECT_EQ(extract_program("```python title=\"a.py\"\nprint(1)\n```\n"), "print(1)\n");
  EXPECT_EQ(extract_program("```py {linenos}\nx = 1\n```\n```\ny = 2\n```\n"), "x = 1\n");
  EXPECT_EQ(extract_program("```cpp title=\"a.cpp\"\nint main() {}\n```"), std::nullopt);
}

TEST(ExtractProgram, LongerFencesCloseOnlyOnAtLeastTheirLength) {
  // A four-backtick block may hold ``` lines (a string showing a fence); only ```` or
  // longer closes it.
  const std::string response = "````python\ns = '''\n```\n'''\nprint(s)\n````\nDone.";
  EXPECT_EQ(extract_program(response), "s = '''\n```\n'''\nprint(s)\n");
  EXPECT_EQ(extract_program("````\nprint(2)\n`````\n"), "print(2)\n");
  // A fence line with more than backticks after it closes only a block that no proper
  // fence closes (below); where a bare fence follows, it is content (CommonMark).
  EXPECT_EQ(extract_program("```python\ns = 1\n```python\nprint(s)\n```\n"), "s = 1\n```python\nprint(s)\n");
  // Two backticks are no fence.
  EXPECT_EQ(extract_program("``python\nx``"), "``python\nx``");
}

TEST(ExtractProgram, TildeFences) {
  // CommonMark's other fence (was: no fence at all, so the whole response, prose
  // included, ran as the program).
  EXPECT_EQ(extract_program("Here:\n~~~python\nprint(1)\n~~~\nDone."), "print(1)\n");
  EXPECT_EQ(extract_program("~~~\nprint(2)\n~~~~\n"), "print(2)\n");
  // Only tildes close a tilde block, and only as many or more: a ~~~ block may hold ```
  // lines, a ~~~~ block ~~~ lines, a ``` block ~~~ lines.
  EXPECT_EQ(extract_program("~~~python\ns = '''\n```\n'''\nprint(s)\n~~~\n"), "s = '''\n```\n'''\nprint(s)\n");
  EXPECT_EQ(extract_program("~~~~py\na = 1\n~~~\n~~~~\n"), "a = 1\n~~~\n");
  EXPECT_EQ(extract_program("```python\nb = 2\n~~~\n```\n"), "b = 2\n~~~\n");
  // After tildes the info string may hold backticks; the language is still its first word.
  EXPECT_EQ(extract_program("~~~python `main.py`\nc = 3\n~~~\n~~~\nd = 4\n~~~\n"), "c = 3\n");
  EXPECT_EQ(extract_program("~~~cpp\nint main() {}\n~~~"), std::nullopt);
  EXPECT_EQ(extract_program("~~python\nx~~"), "~~python\nx~~");  // two tildes are no fence
}

TEST(ExtractProgram, AFenceLineWithTextClosesABlockNothingElseCloses) {
  // "``` end", a decoder's "```<|im_end|>", or the next "```python": a model's close,
  // which CommonMark would not take (was: the block ran on and that line became part of
  // the program, a SyntaxError).
  EXPECT_EQ(extract_program("```python\nprint(1)\n``` end\nThat is all."), "print(1)\n");
  EXPECT_EQ(extract_program("```python\nprint(2)\n```<|im_end|>"), "print(2)\n");
  EXPECT_EQ(extract_program("```python\nprint(3)\n```python"), "print(3)\n");
  // A fallback line that opens a python block ends the current block and opens that one
  // (was: it was swallowed, so print(4) ran, not the last python block); unclosed, it
  // runs to the end, the empty line after the last newline included.
  EXPECT_EQ(extract_program("```python\nprint(4)\n```python\nprint(5)\n"), "print(5)\n\n");
  EXPECT_EQ(extract_program("```python\nprint(2)\n```python\nprint(1)\n"), "print(1)\n\n");
  EXPECT_EQ(extract_program("```\na = 1\n```py title=\"b.py\"\nb = 2\n```python\nc = 3\n"), "c = 3\n\n");
  EXPECT_EQ(extract_program("  ```python\n  x = 1\n  ```x```\n"), "x = 1\n");
  EXPECT_EQ(extract_program("~~~python\nprint(6)\n~~~ end\n"), "print(6)\n");
  // Of the opening's character and at least its length: a ```` block runs past "``` end".
  EXPECT_EQ(extract_program("````python\nprint(7)\n``` end\n````` end\n"), "print(7)\n``` end\n");
  EXPECT_EQ(extract_program("~~~python\nprint(8)\n``` end"), "print(8)\n``` end\n");
  // A proper close later on wins (CommonMark), and the blocks after the fallback close
  // count as usual.
  EXPECT_EQ(extract_program("```python\nprint(9)\n``` end\n```\n"), "print(9)\n``` end\n");
  EXPECT_EQ(extract_program("```\nprint(10)\n``` end\n~~~python\nprint(11)\n~~~\n"), "print(11)\n");
  EXPECT_EQ(extract_program("```python\nprint(12)\n```<|im_end|>\n~~~python\nprint(13)\n~~~\n"), "print(13)\n");
}

TEST(ExtractProgram, AFenceLineInsideATripleQuotedStringIsNoFallbackClose) {
  // An unclosed block whose fence-like line sits in a ''' or """ string runs to the end
  // (was: cut at that line, a SyntaxError).
  EXPECT_EQ(extract_program("```python\ns = '''\n```python\nx\n'''\nprint(1)\n"),
            "s = '''\n```python\nx\n'''\nprint(1)\n\n");
  EXPECT_EQ(extract_program("```python\ns = \"\"\"a\n``` end\n\"\"\"\nprint(s)\n``` end\nDone."),
            "s = \"\"\"a\n``` end\n\"\"\"\nprint(s)\n");
  // Quotes in comments, in one-line strings and escaped ones open no string.
  EXPECT_EQ(extract_program("```python\n# don't '''\nt = \"'''\" + '\\''\nprint(t)\n``` end\n"),
            "# don't '''\nt = \"'''\" + '\\''\nprint(t)\n");
  // A string closed before the line: the line closes the block.
  EXPECT_EQ(extract_program("```python\ns = '''\nx\n'''\n```python\nprint(s)\n"), "print(s)\n\n");
}

TEST(ExtractProgram, BlankMeansNoCode) {
  EXPECT_EQ(extract_program(""), std::nullopt);
  EXPECT_EQ(extract_program("  \n\t\n"), std::nullopt);
  EXPECT_EQ(extract_program("```python\n\n```"), std::nullopt);
  // A blank block is no candidate: the last python block with code wins.
  EXPECT_EQ(extract_program("```python\nx = 1\n```\n```python\n\n```\n"), "x = 1\n");
}

TEST(CompareOutputs, WhitespaceIsOneSeparator) {
  EXPECT_EQ(compare_outputs("1 2\n3\n", "1   2 3"), std::nullopt);
  EXPECT_EQ(compare_outputs("YES\n", "YES\r\n"), std::nullopt);
  EXPECT_EQ(compare_outputs("", "\n\n"), std::nullopt);
}

TEST(CompareOutputs, NamesTheFirstDifferingToken) {
  EXPECT_EQ(compare_outputs("1 2 3", "1 2 4"), "expected '3' got '4' (token 3)");
  EXPECT_EQ(compare_outputs("YES", "Yes"), "expected 'YES' got 'Yes' (token 1)");
}

TEST(CompareOutputs, CountsMissingAndExtraTokens) {
  EXPECT_EQ(compare_outputs("1 2", "1"), "expected 2 tokens, got 1 (output '1')");
  EXPECT_EQ(compare_outputs("1", "1\n2\n"), "expected 1 tokens, got 2 (output '1\\n2\\n')");
}

TEST(CompareOutputs, FloatsWithinOneMillionth) {
  EXPECT_EQ(compare_outputs("0.3333333333", "0.333333"), std::nullopt);
  EXPECT_EQ(compare_outputs("2.5", "2.50000001"), std::nullopt);
  EXPECT_EQ(compare_outputs("1e9", "1000000500"), std::nullopt);  // relative 5e-7
  EXPECT_NE(compare_outputs("0.5", "0.6"), std::nullopt);
  EXPECT_EQ(compare_outputs("3", "3.0"), std::nullopt);  // one written as a float
  // Integers compare exactly: no tolerance between 1000000000 and 1000000001.
  EXPECT_NE(compare_outputs("1000000000", "1000000001"), std::nullopt);
  EXPECT_NE(compare_outputs("nan", "nan0"), std::nullopt);
}

TEST(CompareOutputs, AnExpectedIntegerNeedsThatVeryValue) {
  // A float token matches an expected integer only when it is that integer exactly.
  EXPECT_EQ(compare_outputs("3", "3.000"), std::nullopt);
  EXPECT_EQ(compare_outputs("1500", "1.5e3"), std::nullopt);
  EXPECT_EQ(compare_outputs("-20", "-0.2E+2"), std::nullopt);
  EXPECT_EQ(compare_outputs("0", "-0.0e7"), std::nullopt);
  EXPECT_EQ(compare_outputs("7", "+7."), std::nullopt);
  EXPECT_EQ(compare_outputs("1000000000000000000", "1e18"), std::nullopt);
  EXPECT_EQ(compare_outputs("1000000000000000001", "1e18"),
            "expected '1000000000000000001' got '1e18' (token 1)");  // within 1e-6, not equal
  EXPECT_NE(compare_outputs("3", "2.9999999"), std::nullopt);
  EXPECT_NE(compare_outputs("3", "3.0000001"), std::nullopt);
  EXPECT_NE(compare_outputs("-3", "3.0"), std::nullopt);
  EXPECT_NE(compare_outputs("30", "3e0"), std::nullopt);
  EXPECT_NE(compare_outputs("3", "3.0x"), std::nullopt);
  // The other way round (an expected float) keeps the tolerance.
  EXPECT_EQ(compare_outputs("3.0", "2.9999999"), std::nullopt);
  EXPECT_EQ(compare_outputs("1e18", "1000000000000000001"), std::nullopt);
}

TEST(CompareOutputs, CaseInsensitiveWhenTheTaskSaysAnyCase) {
  OutputComparison any_case;
  any_case.case_insensitive = true;
  EXPECT_EQ(compare_outputs("YES\nNO\n", "yEs\nno\n", any_case), std::nullopt);
  EXPECT_EQ(compare_outputs("Yes", "YES", any_case), std::nullopt);
  EXPECT_EQ(compare_outputs("YES", "NO", any_case), "expected 'YES' got 'NO' (token 1)");
  EXPECT_NE(compare_outputs("YES", "YESS", any_case), std::nullopt);
  // Without it, words stay exact.
  EXPECT_EQ(compare_outputs("YES", "yes"), "expected 'YES' got 'yes' (token 1)");
}

TEST(CompareOutputs, OnlyTheQuotedWordsWhenTheStatementNamesThem) {
  // "You can output "YES" and "NO" in any case ... Then, output the string r" (Codeforces
  // record 1): the string keeps its case (was: FORCODESEC passed for forcodesec).
  OutputComparison yes_no;
  yes_no.case_insensitive = true;
  yes_no.case_insensitive_words = {"YES", "NO"};
  EXPECT_EQ(compare_outputs("YES\nforcodesec\nNO\n", "yes\nforcodesec\nnO\n", yes_no), std::nullopt);
  EXPECT_EQ(compare_outputs("YES\nforcodesec\nNO\n", "YES\nFORCODESEC\nNO\n", yes_no),
            "expected 'forcodesec' got 'FORCODESEC' (token 2)");
  OutputComparison title_case;  // "Yes" and "No": the same words
  title_case.case_insensitive = true;
  title_case.case_insensitive_words = {"Yes", "No"};
  EXPECT_EQ(compare_outputs("Yes No", "YES no", title_case), std::nullopt);
  EXPECT_EQ(compare_outputs("Alice", "alice", title_case), "expected 'Alice' got 'alice' (token 1)");
  EXPECT_EQ(compare_outputs("YES", "NO", title_case), "expected 'YES' got 'NO' (token 1)");
  // No list: every word.
  OutputComparison every;
  every.case_insensitive = true;
  EXPECT_EQ(compare_outputs("forcodesec", "FORCODESEC", every), std::nullopt);
}

TEST(CompareOutputs, TheTasksOwnTolerance) {
  OutputComparison tight;
  tight.tolerance = 1e-9;
  EXPECT_EQ(compare_outputs("1.5", "1.5000000001", tight), std::nullopt);
  EXPECT_EQ(compare_outputs("1.5", "1.500001", tight), "expected '1.5' got '1.500001' (token 1)");
  EXPECT_EQ(compare_outputs("1.5", "1.500001"), std::nullopt);  // the default 1e-6
  OutputComparison loose;
  loose.tolerance = 1e-4;
  EXPECT_EQ(compare_outputs("2.0", "2.00005", loose), std::nullopt);
  EXPECT_NE(compare_outputs("2", "2.00005", loose), std::nullopt);  // an expected integer stays exact
}

TEST(OneLineExcerpt, EscapesLineBreaksAndTruncates) {
  EXPECT_EQ(one_line_excerpt("a\nb\tc"), "a\\nb\\tc");
  EXPECT_EQ(one_line_excerpt(std::string(100, 'x'), 10), std::string(10, 'x') + "...");
}

}  // namespace
}  // namespace disa::llm::verify
