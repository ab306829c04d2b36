// Byte-level BPE as in Hugging Face tokenizers, read from a tokenizer.json: the
// tokenizer of the Qwen2/Qwen2.5/Qwen3 families (and GPT-2-style ones).
//
// encode(): added tokens are cut out of the raw text first (those with normalized=false),
// the rest is normalised (e.g. NFC), added tokens with normalized=true are cut out of
// that, and each remaining piece is pre-tokenised (the Split regex, then ByteLevel) and
// merged by BpeModel. decode(): the byte-level spellings back to bytes, added tokens as
// their content, then UTF-8 with U+FFFD for cut characters.
//
// Supported tokenizer.json components; anything else is rejected naming the field:
//   normalizer:     null, NFC, NFD, NFKC, NFKD, Sequence of these
//   pre_tokenizer:  Split (Regex pattern; behavior Isolated or Removed; invert),
//                   ByteLevel (add_prefix_space, use_regex), Sequence of these; a ByteLevel
//                   step is required
//   model:          BPE with vocab, merges ("a b" strings or [a, b] pairs), ignore_merges;
//                   no dropout, byte_fallback, continuing_subword_prefix or end_of_word_suffix
//   post_processor: null or ByteLevel (which changes offsets only, never ids)
//   decoder:        null or ByteLevel
// Ids (vocab and added tokens) must be below the file's count of both + 65536, since they
// index dense tables: an id such as 2^31 - 1 is refused naming its field, not allocated.
// An added token whose id already has other text (in the vocabulary or an earlier added
// token), or whose text already has another id, is refused naming added_tokens[i].id or
// .content; one repeating a vocabulary entry exactly (GPT-2's <|endoftext|>) is accepted.
#pragma once

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "llm/tokenizer/added_tokens.h"
#include "llm/tokenizer/bpe_model.h"
#include "llm/tokenizer/split_regex.h"
#include "llm/tokenizer/tokenizer.h"
#include "llm/tokenizer/utf8.h"

namespace disa::llm {

class ByteLevelBpeTokenizer final : public Tokenizer {
 public:
  // `tokenizer` is a parsed tokenizer.json and `file` its path (named in errors).
  // `config` is the tokenizer_config.json beside it, or null: its eos_token and
  // pad_token give the special ids; without it eos is "<|im_end|>" (else
  // "<|endoftext|>") and pad "<|endoftext|>", whichever the vocabulary has.
  ByteLevelBpeTokenizer(const nlohmann::json& tokenizer, const std::filesystem::path& file,
                        const nlohmann::json* config = nullptr);
  ~ByteLevelBpeTokenizer() override;

  std::vector<std::int32_t> encode(std::string_view text) const override;
  std::string decode(std::span<const std::int32_t> ids) const override;
  std::optional<std::int32_t> token_to_id(std::string_view token) const override;
  std::optional<std::string> id_to_token(std::int32_t id) const override;
  std::int32_t vocab_size() const override { return static_cast<std::int32_t>(id_text_.size()); }
  const SpecialTokenIds& special_ids() const override { return special_ids_; }
  // From tokenizer_config.json's chat_template (default_system_message_of_template).
  std::optional<std::string> default_system_message() const override { return default_system_; }

 private:
  // One pre-tokenizer step: a regex split (Split, or ByteLevel with use_regex) and/or
  // ByteLevel's add_prefix_space.
  struct PreTokenizerStep {
    std::unique_ptr<SplitRegex> regex;
    bool add_prefix_space = false;
  };

  void parse_normalizer(const nlohmann::json& node, const std::string& field);
  void parse_pre_tokenizer(const nlohmann::json& node, const std::string& field, bool& has_byte_level);
  // `added_tokens`: how many the file's added_tokens list holds (they count toward id_limit_).
  void parse_model(const nlohmann::json& model, std::int64_t added_tokens);
  std::string id_limit_error(std::int64_t id) const;
  void set_special_ids(const nlohmann::json* config);
  std::optional<std::int32_t> config_token_id(const nlohmann::json* config, const char* key) const;

  // Normalised, added-token-free text -> ids appended to out.
  void encode_plain(std::string_view text, std::vector<std::int32_t>& out) const;

  std::string file_;  // for error messages
  std::optional<std::string> default_system_;
  std::vector<utf8::NormalForm> normalizers_;
  std::vector<PreTokenizerStep> pre_tokenizer_;
  bool ignore_merges_ = false;
  std::int64_t id_limit_ = 0;  // every id is below this (kSpareIds in bpe_tokenizer.cpp)
  std::unique_ptr<BpeModel> model_;
  std::unique_ptr<AddedTokenMatcher> raw_added_;             // normalized=false: matched before normalising
  std::unique_ptr<AddedTokenMatcher> normalized_added_;      // normalized=true: matched after
  std::unordered_map<std::string, std::int32_t> token_ids_;  // spelling -> id, added tokens included
  std::vector<std::string> id_text_;                         // id -> spelling ("" for an id not in use)
  std::vector<std::string> id_bytes_;                        // id -> the bytes it decodes to
  std::vector<bool> id_used_;
  SpecialTokenIds special_ids_;
};

}  // namespace disa::llm
