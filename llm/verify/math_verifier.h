// The math reward: 1 when the final answer of a response equals the reference answer,
// else 0, with the reason spelled out (which rule found the answer, both normalised
// forms, how they compared). Deterministic; no sympy, no model.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "llm/verify/answer_equivalence.h"
#include "llm/verify/answer_extraction.h"

namespace disa::llm::verify {

struct VerifyResult {
  int reward = 0;  // 0 or 1
  std::string reason;
  std::string extracted;  // the answer found in the response, as written
  std::string normalised_response;
  std::string normalised_reference;
  ExtractionRule rule = ExtractionRule::kNone;
};

// Longest extracted or reference answer compared (characters); a longer one gets
// reward 0 with that reason. Benchmark answers are under 300; the limit keeps the
// normaliser's worst case (quadratic in the answer) small for any response.
inline constexpr std::size_t kMaxAnswerLength = 2000;

// `options`: how numbers compare (answer_equivalence.h); by default a reference written
// as a decimal or in scientific notation accepts the relative 1e-4, anything else is exact.
VerifyResult verify_math(std::string_view response, std::string_view reference_answer,
                         const EquivalenceOptions& options = {});

// Several reference answers. With is_multiple (OlympiadBench's final_answer list with
// is_multiple_answer) they are all required: the response's answer must list the same
// answers in any order. Without it they are alternative spellings of one answer
// (rllm's Minerva answers: "41.8^\circ", "41.8^{\circ}"): any one matching gives 1.
// A single entry is an ordinary reference; one entry that itself lists answers
// ("1, 3, 5") is a list to the equivalence either way.
VerifyResult verify_math_multi(std::string_view response, const std::vector<std::string>& answers,
                               bool is_multiple, const EquivalenceOptions& options = {});

}  // namespace disa::llm::verify
