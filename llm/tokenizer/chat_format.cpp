#include "llm/tokenizer/chat_format.h"

#include <fmt/format.h>

#include "src/input_error.h"

namespace disa::llm {

std::string render_chatml(std::span<const ChatMessage> messages, bool add_generation_prompt) {
  std::string text;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    if (m.role.empty() || m.role.find('\n') != std::string::npos) {
      throw InputError(fmt::format("messages[{}].role: '{}' must be non-empty and on one line", i, m.role));
    }
    text += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
  }
  if (add_generation_prompt) text += "<|im_start|>assistant\n";
  return text;
}

std::vector<std::int32_t> encode_chatml(const Tokenizer& tokenizer, std::span<const ChatMessage> messages,
                                        bool add_generation_prompt) {
  if (!tokenizer.special_ids().im_start || !tokenizer.special_ids().im_end) {
    throw InputError("tokenizer: ChatML needs the tokens <|im_start|> and <|im_end|>, which it lacks");
  }
  return tokenizer.encode(render_chatml(messages, add_generation_prompt));
}

}  // namespace disa::llm
