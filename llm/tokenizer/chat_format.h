// The ChatML conversation format of Qwen instruct models:
//   <|im_start|>system\nYou are ...<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n
// and, for generation, a final "<|im_start|>assistant\n" for the model to continue.
//
// This is the plain ChatML of Qwen2/Qwen2.5's template, which also inserts a default
// system turn when the conversation has none (single_turn adds it, read from the
// template); Qwen3's template adds no system turn, and additionally rewrites <think>
// blocks of earlier assistant turns and handles tools, which the pipeline's single-turn
// prompts never need.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llm/tokenizer/tokenizer.h"

namespace disa::llm {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant", ...
  std::string content;
};

// The conversation as text. Throws InputError for an empty role or one with a newline
// (it would end the role line early), naming the message.
std::string render_chatml(std::span<const ChatMessage> messages, bool add_generation_prompt);

// Its ids. As with Hugging Face's apply_chat_template, the text is tokenised whole, so a
// "<|im_end|>" written inside a message's content becomes the special token too.
// Throws InputError if the tokenizer lacks <|im_start|> or <|im_end|>.
std::vector<std::int32_t> encode_chatml(const Tokenizer& tokenizer, std::span<const ChatMessage> messages,
                                        bool add_generation_prompt);

// A one-question conversation as the model's template renders it: the tokenizer's default
// system turn (if any), then the user message.
std::vector<ChatMessage> single_turn(const Tokenizer& tokenizer, std::string user);

// The default system message a Jinja chat template writes as one string literal
// '<|im_start|>system\n...<|im_end|>\n' (Qwen2, Qwen2.5, Qwen2.5-Math), unescaped;
// nullopt when it has none (Qwen3 writes the system turn only from a given message).
std::optional<std::string> default_system_message_of_template(std::string_view chat_template);

}  // namespace disa::llm
