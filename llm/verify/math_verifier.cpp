#include "llm/verify/math_verifier.h"

#include <fmt/format.h>

#include <algorithm>

#include "llm/verify/answer_equivalence.h"
#include "llm/verify/latex_normalizer.h"

namespace disa::llm::verify {

VerifyResult verify_math(std::string_view response, std::string_view reference_answer,
                         const EquivalenceOptions& options) {
  VerifyResult r;
  const ExtractedAnswer found = extract_final_answer(response);
  r.extracted = found.text;
  r.rule = found.rule;
  if (reference_answer.size() > kMaxAnswerLength || found.text.size() > kMaxAnswerLength) {
    r.reason = fmt::format("{} answer is {} characters, over the limit of {}",
                           reference_answer.size() > kMaxAnswerLength ? "the reference" : "the extracted",
                           std::max(reference_answer.size(), found.text.size()), kMaxAnswerLength);
    return r;
  }
  r.normalised_reference = normalize_answer(reference_answer);
  if (found.rule == ExtractionRule::kNone) {
    r.reason = "no final answer found (no \\boxed{}, '####', 'the answer is', or number)";
    return r;
  }
  r.normalised_response = normalize_answer(found.text);
  const Equivalence eq = answers_equivalent(r.normalised_response, r.normalised_reference, options);
  r.reward = eq.equal ? 1 : 0;
  r.reason = fmt::format("{} ({}): {}", eq.equal ? "equal" : "not equal", rule_name(found.rule), eq.how);
  return r;
}

VerifyResult verify_math_multi(std::string_view response, const std::vector<std::string>& answers,
                               bool is_multiple, const EquivalenceOptions& options) {
  if (answers.empty()) return verify_math(response, "", options);
  if (answers.size() == 1) return verify_math(response, answers.front(), options);
  if (is_multiple) {
    // Several answers form one list; the equivalence matches lists as multisets.
    std::string joined;
    for (const std::string& a : answers) {
      if (!joined.empty()) joined += ',';
      joined += normalize_answer(a);
    }
    return verify_math(response, joined, options);
  }
  // Alternative spellings of one answer: any of them will do.
  VerifyResult first;
  for (std::size_t i = 0; i < answers.size(); ++i) {
    VerifyResult r = verify_math(response, answers[i], options);
    if (r.reward == 1) {
      r.reason += fmt::format(" [alternative {} of {}]", i + 1, answers.size());
      return r;
    }
    if (i == 0) first = std::move(r);
  }
  first.reason += fmt::format(" [none of {} alternatives]", answers.size());
  return first;
}

}  // namespace disa::llm::verify
