#include "llm/verify/wrong_answer.h"

#include <cctype>
#include <cstddef>

namespace disa::llm::verify {

namespace {

bool digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

// The run of digits ending at `end` (exclusive) increased by one.
std::string incremented_run(std::string s, std::size_t end) {
  // Decimal increment of the digit run ending at `end`, carrying leftwards.
  std::size_t i = end;
  while (i > 0 && digit(s[i - 1])) {
    if (s[i - 1] != '9') {
      ++s[i - 1];
      return s;
    }
    s[i - 1] = '0';
    --i;
  }
  s.insert(s.begin() + static_cast<std::ptrdiff_t>(i), '1');
  return s;
}

}  // namespace

std::string perturbed_answer(std::string_view answer) {
  std::size_t end = answer.size();
  while (end > 0 && !digit(answer[end - 1])) --end;
  if (end == 0) return std::string(answer).append("+1");
  return incremented_run(std::string(answer), end);
}

std::vector<std::string> perturbed_answers_each_run(std::string_view answer) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < answer.size(); ++i) {
    if (digit(answer[i]) && (i + 1 == answer.size() || !digit(answer[i + 1]))) {
      out.push_back(incremented_run(std::string(answer), i + 1));
    }
  }
  return out;
}

}  // namespace disa::llm::verify
