// A deliberately wrong answer near a reference, for checking that the verifier
// gives reward 0: the last run of digits is increased by one ("025" -> "026",
// "\frac{1}{2}" -> "\frac{1}{3}", "(1,2)" -> "(1,3)"); an answer with no digit gets
// "+1" appended. Each of these changes the value (or the text) of the answer.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace disa::llm::verify {

std::string perturbed_answer(std::string_view answer);

// One wrong answer per run of digits, each with that run increased by one, in order
// ("(1,29)" -> "(2,29)", "(1,30)"); none for an answer without digits.
std::vector<std::string> perturbed_answers_each_run(std::string_view answer);

}  // namespace disa::llm::verify
