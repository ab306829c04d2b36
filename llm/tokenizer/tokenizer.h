// The tokenizer interface of the LLM pipeline: text <-> token ids.
//
// Two implementations share it: the byte-level BPE of Qwen-family models read from a
// Hugging Face tokenizer.json (bpe_tokenizer.h), and the character-level tokenizer of
// the in-house small model (char_tokenizer.h). load_tokenizer() opens either from a
// tokenizer.json or a model folder, so callers never need to know which one a model uses.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace disa::llm {

// Ids of the tokens the pipeline treats specially; absent when the vocabulary has none.
struct SpecialTokenIds {
  std::optional<std::int32_t> eos;       // ends a completion
  std::optional<std::int32_t> pad;       // fills batches
  std::optional<std::int32_t> im_start;  // ChatML "<|im_start|>"
  std::optional<std::int32_t> im_end;    // ChatML "<|im_end|>"
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // The ids of UTF-8 text. Added and special tokens written in the text (e.g.
  // "<|im_end|>") become their single ids. Throws InputError for text that is not
  // valid UTF-8 or that the vocabulary cannot represent. Safe to call concurrently.
  virtual std::vector<std::int32_t> encode(std::string_view text) const = 0;

  // The UTF-8 text of ids (special tokens as their content). Throws InputError naming
  // an id outside the vocabulary. Byte sequences that are not UTF-8 (a cut multi-byte
  // character) become U+FFFD, as Hugging Face's decoders do.
  virtual std::string decode(std::span<const std::int32_t> ids) const = 0;

  // The id of a token as spelled in the vocabulary (byte-level BPE spells a space "Ġ").
  virtual std::optional<std::int32_t> token_to_id(std::string_view token) const = 0;
  // The vocabulary's spelling of an id; nullopt for an id it does not have.
  virtual std::optional<std::string> id_to_token(std::int32_t id) const = 0;

  // One past the largest id, added tokens included (a model's embedding may be larger).
  virtual std::int32_t vocab_size() const = 0;

  virtual const SpecialTokenIds& special_ids() const = 0;

  // The system turn the model's chat template inserts when a conversation has none
  // (Qwen2-Instruct: "You are a helpful assistant."; Qwen2.5-Math-Instruct: "Please reason
  // step by step, ..."); nullopt when the template adds none (Qwen3) or there is none.
  virtual std::optional<std::string> default_system_message() const { return std::nullopt; }
};

// Opens a tokenizer.json, or the tokenizer.json in a model folder. model.type "BPE" is
// a byte-level BPE (with eos/pad from a tokenizer_config.json beside it when present),
// "disa-char" the character-level tokenizer. Throws InputError naming the file and the
// field for anything it cannot use.
std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& file_or_folder);

}  // namespace disa::llm
