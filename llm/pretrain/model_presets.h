// The in-house model's sizes and its tokenizer: a Qwen2-layout transformer over the
// Countdown character set, so that load_pretrained / load_tokenizer open it like any
// Hugging Face checkpoint.
//
//   tiny    2 layers, hidden 32, 2 heads      ~25k parameters  (tests: seconds)
//   small   4 layers, hidden 128, 4 heads     ~0.8M            (the CPU default: 2 cores, < 15 min)
//   base    8 layers, hidden 256, 8 heads     ~6.3M            (a GPU, or a long CPU run)
#pragma once

#include <string>
#include <vector>

#include "llm/model/model_config.h"
#include "llm/tokenizer/char_tokenizer.h"

namespace disa::llm::pretrain {

inline constexpr const char* kEosToken = "<|im_end|>";
inline constexpr const char* kPadToken = "<|endoftext|>";

// The task's characters, then the pad and EOS tokens.
CharTokenizer countdown_tokenizer();

std::vector<std::string> model_size_names();  // "tiny", "small", "base"
// Throws InputError naming --model-size and the value for an unknown name.
ModelConfig model_preset(const std::string& size, const CharTokenizer& tokenizer);

}  // namespace disa::llm::pretrain
