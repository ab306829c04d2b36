#include "llm/tokenizer/char_tokenizer.h"

#include <fmt/format.h>

#include "llm/tokenizer/json_fields.h"
#include "llm/tokenizer/utf8.h"
#include "src/atomic_file.h"
#include "src/input_error.h"

namespace disa::llm {

CharTokenizer::CharTokenizer(std::string_view characters, std::vector<std::string> special_tokens,
                             std::string eos_token, std::string pad_token)
    : eos_token_(std::move(eos_token)), pad_token_(std::move(pad_token)) {
  utf8::require_valid(characters, "characters");
  std::size_t pos = 0;
  while (pos < characters.size()) {
    const std::size_t start = pos;
    const char32_t cp = utf8::next_code_point(characters, pos);
    std::string text(characters.substr(start, pos - start));
    const auto id = static_cast<std::int32_t>(tokens_.size());
    if (!char_ids_.emplace(cp, id).second) {
      throw InputError(
          fmt::format("characters: '{}' (U+{:04X}) is listed twice", text, static_cast<std::uint32_t>(cp)));
    }
    token_ids_.emplace(text, id);
    tokens_.push_back(std::move(text));
  }
  num_characters_ = static_cast<std::int32_t>(tokens_.size());
  std::vector<AddedToken> added;
  for (std::string& s : special_tokens) {
    if (s.empty()) throw InputError("special_tokens: a token is empty");
    utf8::require_valid(s, fmt::format("special_tokens: '{}'", s));
    const auto id = static_cast<std::int32_t>(tokens_.size());
    // A one-character special token would shadow (or be) a character.
    if (!token_ids_.emplace(s, id).second) {
      throw InputError(fmt::format("special_tokens: '{}' is already in the vocabulary", s));
    }
    added.push_back({.id = id, .content = s, .special = true});
    tokens_.push_back(std::move(s));
  }
  specials_ = AddedTokenMatcher(std::move(added));
  auto special_id = [&](const std::string& token, const char* what) -> std::optional<std::int32_t> {
    if (token.empty()) return std::nullopt;
    const auto it = token_ids_.find(token);
    if (it == token_ids_.end() || it->second < num_characters_) {
      throw InputError(fmt::format("{}: '{}' is not one of the special tokens", what, token));
    }
    return it->second;
  };
  special_ids_.eos = special_id(eos_token_, "eos_token");
  special_ids_.pad = special_id(pad_token_, "pad_token");
  special_ids_.im_start = token_to_id("<|im_start|>");
  special_ids_.im_end = token_to_id("<|im_end|>");
}

CharTokenizer CharTokenizer::from_json(const nlohmann::json& tokenizer, const std::filesystem::path& path) {
  const std::string file = path.string();
  const nlohmann::json& model = json_fields::require(tokenizer, "model", file, "model");
  const std::string type = json_fields::require_string(model, "type", file, "model.type");
  if (type != "disa-char") json_fields::fail(file, "model.type", fmt::format("'{}' is not \"disa-char\"", type));
  const nlohmann::json& vocab = json_fields::require(model, "vocab", file, "model.vocab");
  if (!vocab.is_object()) json_fields::fail(file, "model.vocab", "expected an object of character: id");
  // The constructor numbers characters in order, so the file must list them as 0..C-1.
  std::vector<std::string> by_id(vocab.size());
  for (const auto& [text, id] : vocab.items()) {
    const std::string field = fmt::format("model.vocab[\"{}\"]", text);
    if (!id.is_number_integer() || id.get<std::int64_t>() < 0 || id.get<std::int64_t>() >= std::int64_t(vocab.size())) {
      json_fields::fail(file, field,
                        fmt::format("expected an id in 0..{}, got {}", vocab.size() - 1, json_fields::brief(id)));
    }
    utf8::require_valid(text, file + ": " + field);
    std::size_t pos = 0;
    if (!text.empty()) utf8::next_code_point(text, pos);
    if (text.empty() || pos != text.size()) json_fields::fail(file, field, "is not a single character");
    std::string& slot = by_id[id.get<std::size_t>()];
    if (!slot.empty()) json_fields::fail(file, field, fmt::format("id {} is also given to '{}'", id.get<int>(), slot));
    slot = text;
  }
  std::string characters;
  for (const std::string& c : by_id) characters += c;
  std::vector<std::string> specials;
  const auto added = added_tokens_from_json(tokenizer.value("added_tokens", nlohmann::json()), file);
  for (std::size_t i = 0; i < added.size(); ++i) {
    if (added[i].id != static_cast<std::int32_t>(by_id.size() + i)) {
      json_fields::fail(file, fmt::format("added_tokens[{}].id", i),
                        fmt::format("expected {} (special tokens follow the characters in order), got {}",
                                    by_id.size() + i, added[i].id));
    }
    specials.push_back(added[i].content);
  }
  auto optional_string = [&](const char* key) {
    const nlohmann::json v = model.value(key, nlohmann::json());
    if (v.is_null()) return std::string();
    if (!v.is_string())
      json_fields::fail(file, fmt::format("model.{}", key),
                        fmt::format("expected a string, got {}", json_fields::brief(v)));
    return v.get<std::string>();
  };
  try {
    return CharTokenizer(characters, std::move(specials), optional_string("eos_token"), optional_string("pad_token"));
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: {}", file, e.what()));
  }
}

nlohmann::ordered_json CharTokenizer::to_json() const {
  nlohmann::ordered_json added = nlohmann::ordered_json::array();
  for (std::int32_t id = num_characters_; id < vocab_size(); ++id) {
    added.push_back({{"id", id},
                     {"content", tokens_[id]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  for (std::int32_t id = 0; id < num_characters_; ++id) vocab[tokens_[id]] = id;
  nlohmann::ordered_json model = {{"type", "disa-char"}, {"vocab", std::move(vocab)}};
  model["eos_token"] = eos_token_.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(eos_token_);
  model["pad_token"] = pad_token_.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(pad_token_);
  return {{"version", "1.0"}, {"added_tokens", std::move(added)}, {"model", std::move(model)}};
}

void CharTokenizer::save(const std::filesystem::path& path) const {
  const std::string text = to_json().dump(1);
  write_file_atomically(path, [&](std::ostream& out) { out << text << '\n'; });
}

std::vector<std::int32_t> CharTokenizer::encode(std::string_view text) const {
  utf8::require_valid(text, "text");
  std::vector<std::int32_t> ids;
  ids.reserve(text.size());
  std::size_t offset = 0;  // of the segment in text, for error messages
  for (const TextSegment& segment : specials_.split(text)) {
    if (segment.id) {
      ids.push_back(*segment.id);
    } else {
      std::size_t pos = 0;
      while (pos < segment.text.size()) {
        const std::size_t start = pos;
        const char32_t cp = utf8::next_code_point(segment.text, pos);
        const auto it = char_ids_.find(cp);
        if (it == char_ids_.end()) {
          throw InputError(
              fmt::format("text: character '{}' (U+{:04X}) at byte {} is not in the tokenizer's "
                          "character set",
                          segment.text.substr(start, pos - start), static_cast<std::uint32_t>(cp), offset + start));
        }
        ids.push_back(it->second);
      }
    }
    offset += segment.text.size();
  }
  return ids;
}

std::string CharTokenizer::decode(std::span<const std::int32_t> ids) const {
  std::string text;
  for (std::int32_t id : ids) {
    if (id < 0 || id >= vocab_size()) {
      throw InputError(fmt::format("token id {} is not in the vocabulary (ids 0..{})", id, vocab_size() - 1));
    }
    text += tokens_[id];
  }
  return text;
}

std::optional<std::int32_t> CharTokenizer::token_to_id(std::string_view token) const {
  const auto it = token_ids_.find(std::string(token));
  if (it == token_ids_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> CharTokenizer::id_to_token(std::int32_t id) const {
  if (id < 0 || id >= vocab_size()) return std::nullopt;
  return tokens_[id];
}

}  // namespace disa::llm
