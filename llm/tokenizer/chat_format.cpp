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

std::vector<ChatMessage> single_turn(const Tokenizer& tokenizer, std::string user) {
  std::vector<ChatMessage> messages;
  if (const std::optional<std::string> system = tokenizer.default_system_message()) {
    messages.push_back({"system", *system});
  }
  messages.push_back({"user", std::move(user)});
  return messages;
}

std::optional<std::string> default_system_message_of_template(std::string_view chat_template) {
  // In the template's text the literal's line breaks are written \n (backslash, n).
  constexpr std::string_view open = "'<|im_start|>system\\n", close = "<|im_end|>\n";
  for (std::size_t at = chat_template.find(open); at != std::string_view::npos;
       at = chat_template.find(open, at + 1)) {
    std::string body;
    bool closed = false;
    for (std::size_t i = at + open.size(); i < chat_template.size(); ++i) {
      const char c = chat_template[i];
      if (c == '\\' && i + 1 < chat_template.size()) {  // a Jinja escape: \n, \t, \\, \'
        const char e = chat_template[++i];
        body += e == 'n' ? '\n' : e == 't' ? '\t' : e;
        continue;
      }
      if (c == '\'') {
        closed = true;
        break;
      }
      body += c;
    }
    // '<|im_start|>system\n' + messages[0].content + ... (Qwen3) ends before any message.
    if (closed && body.size() > close.size() && body.ends_with(close)) return body.substr(0, body.size() - close.size());
  }
  return std::nullopt;
}

}  // namespace disa::llm
