#include "llm/verify/wrong_answer.h"

#include <cctype>
#include <cstddef>

namespace disa::llm::verify {

std::string perturbed_answer(std::string_view answer) {
  std::string s(answer);
  std::size_t end = s.size();
  while (end > 0 && !std::isdigit(static_cast<unsigned char>(s[end - 1]))) --end;
  if (end == 0) return s.append("+1");
  // Decimal increment of the digit run ending at `end`, carrying leftwards.
  std::size_t i = end;
  while (i > 0 && std::isdigit(static_cast<unsigned char>(s[i - 1]))) {
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

}  // namespace disa::llm::verify
