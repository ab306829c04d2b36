// Added tokens (special tokens such as "<|im_end|>" and extra ones such as "<think>"):
// found in the text before the model sees it, each becoming its single id.
//
// Matching follows Hugging Face tokenizers (added_vocabulary.rs): leftmost-longest over
// all contents; single_word drops a match touching a word character on either side;
// lstrip / rstrip extend a match over the white space to its left / right (so the
// space is absorbed into the token rather than tokenised).
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace disa::llm {

struct AddedToken {
  std::int32_t id = 0;
  std::string content;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;  // matched in the normalised text rather than the raw one
  bool special = false;
};

// The "added_tokens" list of a tokenizer.json (`file` is named in errors): each entry
// needs an integer id >= 0 and a non-empty content; the flags default to false, except
// `normalized`, which defaults to !special as in Hugging Face tokenizers.
std::vector<AddedToken> added_tokens_from_json(const nlohmann::json& list, std::string_view file);

// A piece of text: either a matched added token (id set) or text for the model.
struct TextSegment {
  std::string_view text;
  std::optional<std::int32_t> id;
};

class AddedTokenMatcher {
 public:
  explicit AddedTokenMatcher(std::vector<AddedToken> tokens);

  // The text cut at every match, in order; concatenating the pieces gives the text back.
  std::vector<TextSegment> split(std::string_view text) const;

  bool empty() const { return tokens_.empty(); }

 private:
  std::vector<AddedToken> tokens_;
  // Indices into tokens_ by first byte, longest content first.
  std::array<std::vector<std::size_t>, 256> by_first_byte_;
};

}  // namespace disa::llm
