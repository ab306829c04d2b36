// Finds the final answer in a model's (or a reference solution's) text.
//
// Rules, first that applies wins: the last \boxed{...} or \fbox{...} (braces balanced,
// so nested \frac{..}{..} stay whole); the last "#### x" with a number or math on its
// line (GSM8K; a Markdown heading "#### Final Answer" is no answer); the last "the answer is x" /
// "final answer is x"; else the last number. One answer per response: trying several
// candidates against the reference would reward a response that lists many. A last box
// cut off before its closing brace (a truncated response) is no answer (kNone): the
// model was still writing it, so a number before it is not its answer.
#pragma once

#include <string>
#include <string_view>

namespace disa::llm::verify {

enum class ExtractionRule { kBoxed, kHashes, kAnswerIs, kLastNumber, kNone };

std::string_view rule_name(ExtractionRule rule);

struct ExtractedAnswer {
  std::string text;  // as written, before normalisation ("" when kNone)
  ExtractionRule rule = ExtractionRule::kNone;
};

ExtractedAnswer extract_final_answer(std::string_view response);

// The contents of the last \boxed{...} / \fbox{...}, if any (also "\boxed 5").
// `cut_off` (optional) is set when the last box opens a brace that never closes.
bool last_boxed_content(std::string_view text, std::string& content, bool* cut_off = nullptr);

}  // namespace disa::llm::verify
