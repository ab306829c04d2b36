// The character-level tokenizer of the project's in-house small model: one token per
// Unicode code point of a fixed character set, plus special tokens (e.g. "<|im_end|>")
// that are matched whole in the text, as in the BPE tokenizer.
//
// Ids: the characters 0..C-1 in the order given, then the special tokens C..C+S-1.
// Text is not normalised (the model sees exactly the code points written); a character
// outside the set is an InputError naming it, never silently dropped or replaced.
//
// File format: a tokenizer.json whose model.type is "disa-char", read by load_tokenizer():
//   {"version": "1.0",
//    "added_tokens": [{"id": C, "content": "<|im_end|>", "special": true, ...}, ...],
//    "model": {"type": "disa-char", "vocab": {"a": 0, "b": 1, ...},
//              "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}}
// We use a type of our own rather than dressing it as a Hugging Face BPE with no merges:
// such a file would load in HF tools, but with their normalisers, pre-tokenisers and unk
// handling rather than these rules, so agreement would be accidental. A "disa-char"
// file is rejected by them instead of tokenised differently.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "llm/tokenizer/added_tokens.h"
#include "llm/tokenizer/tokenizer.h"

namespace disa::llm {

class CharTokenizer final : public Tokenizer {
 public:
  // `characters`: UTF-8 text whose code points are the vocabulary, each once.
  // `special_tokens`: distinct, non-empty. `eos_token`, `pad_token`: one of them, or empty
  // for none. Throws InputError naming the offending argument.
  CharTokenizer(std::string_view characters, std::vector<std::string> special_tokens, std::string eos_token = "",
                std::string pad_token = "");

  // From a parsed "disa-char" tokenizer.json; `file` is named in errors.
  static CharTokenizer from_json(const nlohmann::json& tokenizer, const std::filesystem::path& file);

  // Writes the tokenizer.json (atomically: readers see the old file or the new one).
  void save(const std::filesystem::path& path) const;
  nlohmann::ordered_json to_json() const;

  std::vector<std::int32_t> encode(std::string_view text) const override;
  std::string decode(std::span<const std::int32_t> ids) const override;
  std::optional<std::int32_t> token_to_id(std::string_view token) const override;
  std::optional<std::string> id_to_token(std::int32_t id) const override;
  std::int32_t vocab_size() const override { return static_cast<std::int32_t>(tokens_.size()); }
  const SpecialTokenIds& special_ids() const override { return special_ids_; }

 private:
  std::int32_t num_characters_ = 0;
  std::vector<std::string> tokens_;  // id -> text
  std::unordered_map<char32_t, std::int32_t> char_ids_;
  std::unordered_map<std::string, std::int32_t> token_ids_;
  AddedTokenMatcher specials_{std::vector<AddedToken>{}};
  std::string eos_token_, pad_token_;
  SpecialTokenIds special_ids_;
};

}  // namespace disa::llm
