#include "llm/tokenizer/bpe_tokenizer.h"

#include <deque>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "llm/safetensors/message_quote.h"
#include "llm/tokenizer/byte_level.h"
#include "llm/tokenizer/chat_format.h"
#include "llm/tokenizer/json_fields.h"
#include "src/input_error.h"

namespace disa::llm {
namespace {

using nlohmann::json;

// The pattern ByteLevel splits with when use_regex is true (GPT-2's).
constexpr const char* kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Ids index dense tables (id -> text, bytes, used), so an id's size is memory: one of
// 2^31 - 1 overflowed `id + 1`, and 1e8 took 6 GB to load. Real tokenizers number their
// entries (nearly) densely -- Qwen's vocabulary and added tokens are 0..151668 without a
// gap -- so ids must stay below the file's own count of vocabulary entries and added
// tokens plus this many spare ids for gaps; the tables then stay proportional to the file.
constexpr std::int64_t kSpareIds = 1 << 16;

std::string type_of(const json& node, const std::string& file, const std::string& field) {
  return json_fields::require_string(node, "type", file, field + ".type");
}

}  // namespace

ByteLevelBpeTokenizer::ByteLevelBpeTokenizer(const json& tokenizer, const std::filesystem::path& file,
                                             const json* config)
    : file_(file.string()) {
  if (!tokenizer.is_object()) json_fields::fail(file_, "(top level)", "expected a JSON object");
  parse_normalizer(tokenizer.value("normalizer", json()), "normalizer");
  bool has_byte_level = false;
  parse_pre_tokenizer(tokenizer.value("pre_tokenizer", json()), "pre_tokenizer", has_byte_level);
  if (!has_byte_level) {
    json_fields::fail(file_, "pre_tokenizer", "has no ByteLevel step (only byte-level BPE is supported)");
  }
  for (const char* key : {"post_processor", "decoder"}) {
    const json node = tokenizer.value(key, json());
    if (node.is_null()) continue;
    const std::string type = type_of(node, file_, key);
    if (type != "ByteLevel") {
      json_fields::fail(file_, fmt::format("{}.type", key),
                        fmt::format("'{}' is not supported (only ByteLevel)", type));
    }
  }
  std::vector<AddedToken> added = added_tokens_from_json(tokenizer.value("added_tokens", json()), file_);
  parse_model(json_fields::require(tokenizer, "model", file_, "model"), static_cast<std::int64_t>(added.size()));

  std::vector<AddedToken> raw, normalized;
  // The added token that first gave each id its text (for errors; other ids are model.vocab's).
  std::unordered_map<std::int32_t, std::size_t> added_index_of_id;
  const auto origin = [&](std::int32_t id) {
    const auto it = added_index_of_id.find(id);
    return it == added_index_of_id.end() ? std::string("model.vocab") : fmt::format("added_tokens[{}]", it->second);
  };
  for (std::size_t i = 0; i < added.size(); ++i) {
    AddedToken& t = added[i];
    if (t.id >= id_limit_) json_fields::fail(file_, fmt::format("added_tokens[{}].id", i), id_limit_error(t.id));
    // An added token may repeat a vocabulary entry (GPT-2 lists <|endoftext|> in both), but
    // never contradict one: an id that decoded as one text and encoded as another, or a
    // text encoded as one id while special_ids() named another, is refused.
    if (t.id < static_cast<std::int32_t>(id_used_.size()) && id_used_[t.id] && id_text_[t.id] != t.content) {
      json_fields::fail(file_, fmt::format("added_tokens[{}].id", i),
                        fmt::format("id {} of {} is already {} in {}", t.id, quote_for_message(t.content),
                                    quote_for_message(id_text_[t.id]), origin(t.id)));
    }
    if (const auto it = token_ids_.find(t.content); it != token_ids_.end() && it->second != t.id) {
      json_fields::fail(file_, fmt::format("added_tokens[{}].content", i),
                        fmt::format("{} (id {}) already has id {} in {}", quote_for_message(t.content), t.id,
                                    it->second, origin(it->second)));
    }
    added_index_of_id.try_emplace(t.id, i);
    if (t.id >= static_cast<std::int32_t>(id_text_.size())) {
      id_text_.resize(t.id + 1);
      id_bytes_.resize(t.id + 1);
      id_used_.resize(t.id + 1, false);
    }
    id_text_[t.id] = t.content;
    id_bytes_[t.id] = t.content;
    id_used_[t.id] = true;
    token_ids_[t.content] = t.id;
    // A normalized token is looked for in normalised text, so it is spelled normalised.
    if (t.normalized && !normalizers_.empty()) {
      for (utf8::NormalForm form : normalizers_) t.content = utf8::normalize(t.content, form);
    }
    (t.normalized ? normalized : raw).push_back(std::move(t));
  }
  raw_added_ = std::make_unique<AddedTokenMatcher>(std::move(raw));
  normalized_added_ = std::make_unique<AddedTokenMatcher>(std::move(normalized));
  set_special_ids(config);
}

ByteLevelBpeTokenizer::~ByteLevelBpeTokenizer() = default;

void ByteLevelBpeTokenizer::parse_normalizer(const json& node, const std::string& field) {
  if (node.is_null()) return;
  const std::string type = type_of(node, file_, field);
  if (type == "Sequence") {
    const json& list = json_fields::require(node, "normalizers", file_, field + ".normalizers");
    if (!list.is_array()) json_fields::fail(file_, field + ".normalizers", "expected a list");
    for (std::size_t i = 0; i < list.size(); ++i)
      parse_normalizer(list[i], fmt::format("{}.normalizers[{}]", field, i));
  } else if (type == "NFC") {
    normalizers_.push_back(utf8::NormalForm::kNFC);
  } else if (type == "NFD") {
    normalizers_.push_back(utf8::NormalForm::kNFD);
  } else if (type == "NFKC") {
    normalizers_.push_back(utf8::NormalForm::kNFKC);
  } else if (type == "NFKD") {
    normalizers_.push_back(utf8::NormalForm::kNFKD);
  } else {
    json_fields::fail(file_, field + ".type",
                      fmt::format("'{}' is not supported (NFC, NFD, NFKC, NFKD, Sequence)", type));
  }
}

void ByteLevelBpeTokenizer::parse_pre_tokenizer(const json& node, const std::string& field, bool& has_byte_level) {
  if (node.is_null()) return;
  const std::string type = type_of(node, file_, field);
  if (type == "Sequence") {
    const json& list = json_fields::require(node, "pretokenizers", file_, field + ".pretokenizers");
    if (!list.is_array()) json_fields::fail(file_, field + ".pretokenizers", "expected a list");
    for (std::size_t i = 0; i < list.size(); ++i) {
      parse_pre_tokenizer(list[i], fmt::format("{}.pretokenizers[{}]", field, i), has_byte_level);
    }
  } else if (type == "Split") {
    const json& pattern = json_fields::require(node, "pattern", file_, field + ".pattern");
    const std::string pattern_field = field + ".pattern.Regex";
    if (!pattern.is_object() || !pattern.contains("Regex")) {
      json_fields::fail(file_, pattern_field, fmt::format("missing (got {})", json_fields::brief(pattern)));
    }
    const std::string regex = json_fields::require_string(pattern, "Regex", file_, pattern_field);
    const std::string behavior = json_fields::require_string(node, "behavior", file_, field + ".behavior");
    SplitRegex::Behavior b = SplitRegex::Behavior::kIsolated;
    if (behavior == "Removed") {
      b = SplitRegex::Behavior::kRemoved;
    } else if (behavior != "Isolated") {
      json_fields::fail(file_, field + ".behavior", fmt::format("'{}' is not supported (Isolated, Removed)", behavior));
    }
    const bool invert = json_fields::optional_bool(node, "invert", false, file_, field + ".invert");
    pre_tokenizer_.push_back({std::make_unique<SplitRegex>(regex, b, invert, file_ + ": " + pattern_field), false});
  } else if (type == "ByteLevel") {
    has_byte_level = true;
    PreTokenizerStep step;
    step.add_prefix_space =
        json_fields::optional_bool(node, "add_prefix_space", true, file_, field + ".add_prefix_space");
    if (json_fields::optional_bool(node, "use_regex", true, file_, field + ".use_regex")) {
      step.regex = std::make_unique<SplitRegex>(kGpt2Pattern, SplitRegex::Behavior::kIsolated, false, field);
    }
    pre_tokenizer_.push_back(std::move(step));
  } else {
    json_fields::fail(file_, field + ".type", fmt::format("'{}' is not supported (Split, ByteLevel, Sequence)", type));
  }
}

std::string ByteLevelBpeTokenizer::id_limit_error(std::int64_t id) const {
  return fmt::format("id {} is too large: expected below {} (the file's {} vocabulary entries and added tokens + {} "
                     "spare ids; ids index dense tables)",
                     id, id_limit_, id_limit_ - kSpareIds, kSpareIds);
}

void ByteLevelBpeTokenizer::parse_model(const json& model, std::int64_t added_tokens) {
  const std::string type = type_of(model, file_, "model");
  if (type != "BPE") json_fields::fail(file_, "model.type", fmt::format("'{}' is not a BPE model", type));
  if (const json d = model.value("dropout", json()); !d.is_null() && !(d.is_number() && d.get<double>() == 0.0)) {
    json_fields::fail(file_, "model.dropout",
                      fmt::format("{} is not supported (encoding must be deterministic)", json_fields::brief(d)));
  }
  if (json_fields::optional_bool(model, "byte_fallback", false, file_, "model.byte_fallback")) {
    json_fields::fail(file_, "model.byte_fallback", "true is not supported (byte-level BPE needs no fallback)");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const json v = model.value(key, json());
    if (!v.is_null() && !(v.is_string() && v.get<std::string>().empty())) {
      json_fields::fail(file_, fmt::format("model.{}", key), fmt::format("{} is not supported", json_fields::brief(v)));
    }
  }
  ignore_merges_ = json_fields::optional_bool(model, "ignore_merges", false, file_, "model.ignore_merges");

  const json& vocab = json_fields::require(model, "vocab", file_, "model.vocab");
  if (!vocab.is_object()) json_fields::fail(file_, "model.vocab", "expected an object of token: id");
  id_limit_ = static_cast<std::int64_t>(vocab.size()) + added_tokens + kSpareIds;
  std::int32_t max_id = -1;
  for (const auto& [token, id] : vocab.items()) {
    if (!id.is_number_integer() || id.get<std::int64_t>() < 0 || id.get<std::int64_t>() > INT32_MAX) {
      json_fields::fail(file_, fmt::format("model.vocab[\"{}\"]", token),
                        fmt::format("expected an integer id >= 0, got {}", json_fields::brief(id)));
    }
    if (id.get<std::int64_t>() >= id_limit_) {
      json_fields::fail(file_, fmt::format("model.vocab[\"{}\"]", token), id_limit_error(id.get<std::int64_t>()));
    }
    max_id = std::max(max_id, id.get<std::int32_t>());
  }
  token_ids_.reserve(vocab.size() + 1024);  // + room for the added tokens
  id_text_.assign(max_id + 1, "");
  id_bytes_.assign(max_id + 1, "");
  id_used_.assign(max_id + 1, false);
  for (const auto& [token, id_json] : vocab.items()) {
    const auto id = id_json.get<std::int32_t>();
    if (id_used_[id]) {
      json_fields::fail(file_, "model.vocab",
                        fmt::format("id {} is given to both '{}' and '{}'", id, id_text_[id], token));
    }
    id_used_[id] = true;
    id_text_[id] = token;
    // A spelling outside the byte map (none in a byte-level vocabulary) decodes as itself.
    id_bytes_[id] = byte_level::token_text_to_bytes(token).value_or(token);
    token_ids_.emplace(token, id);
  }

  std::array<std::int32_t, 256> byte_ids{};
  for (int b = 0; b < 256; ++b) {
    const std::string& text = byte_level::byte_to_token_text()[b];
    const auto it = token_ids_.find(text);
    if (it == token_ids_.end()) {
      json_fields::fail(file_, "model.vocab",
                        fmt::format("lacks '{}', the token of byte 0x{:02X} (byte-level BPE needs all 256)", text, b));
    }
    byte_ids[b] = it->second;
  }

  const json& merges = json_fields::require(model, "merges", file_, "model.merges");
  if (!merges.is_array()) json_fields::fail(file_, "model.merges", "expected a list");
  std::vector<BpeMerge> rules;
  rules.reserve(merges.size());
  for (std::size_t i = 0; i < merges.size(); ++i) {
    const auto field = [i] { return fmt::format("model.merges[{}]", i); };  // for errors only
    const json& m = merges[i];
    std::string left, right;
    if (m.is_string()) {
      const std::string& s = m.get_ref<const std::string&>();
      const auto space = s.find(' ');
      if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos) {
        json_fields::fail(file_, field(),
                          fmt::format("expected \"left right\" with one space, got {}", json_fields::brief(m)));
      }
      left = s.substr(0, space);
      right = s.substr(space + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      left = m[0].get_ref<const std::string&>();
      right = m[1].get_ref<const std::string&>();
    } else {
      json_fields::fail(file_, field(),
                        fmt::format("expected \"left right\" or [left, right], got {}", json_fields::brief(m)));
    }
    auto id_of = [&](const std::string& token) {
      const auto it = token_ids_.find(token);
      if (it == token_ids_.end())
        json_fields::fail(file_, field(), fmt::format("token '{}' is not in model.vocab", token));
      return it->second;
    };
    rules.push_back({id_of(left), id_of(right), id_of(left + right)});
  }
  model_ = std::make_unique<BpeModel>(byte_ids, rules);
}

std::optional<std::int32_t> ByteLevelBpeTokenizer::config_token_id(const json* config, const char* key) const {
  if (config == nullptr || !config->is_object() || !config->contains(key) || (*config)[key].is_null()) {
    return std::nullopt;
  }
  const json& v = (*config)[key];
  // Either "<|im_end|>" or an AddedToken object {"content": "<|im_end|>", ...}.
  const json& content = v.is_object() ? v.value("content", json()) : v;
  const std::string where = (std::filesystem::path(file_).parent_path() / "tokenizer_config.json").string();
  if (!content.is_string())
    json_fields::fail(where, key, fmt::format("expected a token, got {}", json_fields::brief(v)));
  const auto id = token_to_id(content.get<std::string>());
  if (!id) json_fields::fail(where, key, fmt::format("'{}' is not in the vocabulary", content.get<std::string>()));
  return id;
}

void ByteLevelBpeTokenizer::set_special_ids(const json* config) {
  // The template is tokenizer_config.json's chat_template, or (transformers >= 4.47 saves it
  // apart) the chat_template.jinja beside tokenizer.json.
  if (config != nullptr && config->is_object() && config->contains("chat_template") &&
      (*config)["chat_template"].is_string()) {
    default_system_ = default_system_message_of_template((*config)["chat_template"].get<std::string>());
  } else if (const auto jinja = std::filesystem::path(file_).parent_path() / "chat_template.jinja";
             std::filesystem::is_regular_file(jinja)) {
    std::ifstream in(jinja, std::ios::binary);
    const std::string text{std::istreambuf_iterator<char>(in), {}};
    default_system_ = default_system_message_of_template(text);
  }
  special_ids_.im_start = token_to_id("<|im_start|>");
  special_ids_.im_end = token_to_id("<|im_end|>");
  special_ids_.eos = config_token_id(config, "eos_token");
  special_ids_.pad = config_token_id(config, "pad_token");
  if (config == nullptr) {
    special_ids_.eos = special_ids_.im_end ? special_ids_.im_end : token_to_id("<|endoftext|>");
    special_ids_.pad = token_to_id("<|endoftext|>");
  }
}

std::vector<std::int32_t> ByteLevelBpeTokenizer::encode(std::string_view text) const {
  utf8::require_valid(text, "text");
  std::vector<std::int32_t> ids;
  ids.reserve(text.size() / 3);
  for (const TextSegment& raw : raw_added_->split(text)) {
    if (raw.id) {
      ids.push_back(*raw.id);
      continue;
    }
    std::string normalized(raw.text);
    for (utf8::NormalForm form : normalizers_) normalized = utf8::normalize(normalized, form);
    if (normalized_added_->empty()) {
      encode_plain(normalized, ids);
      continue;
    }
    for (const TextSegment& piece : normalized_added_->split(normalized)) {
      if (piece.id) {
        ids.push_back(*piece.id);
      } else {
        encode_plain(piece.text, ids);
      }
    }
  }
  return ids;
}

void ByteLevelBpeTokenizer::encode_plain(std::string_view text, std::vector<std::int32_t>& out) const {
  std::vector<std::string_view> pieces = {text}, next;
  std::deque<std::string> prefixed;  // pieces that add_prefix_space lengthened
  for (const PreTokenizerStep& step : pre_tokenizer_) {
    if (step.add_prefix_space) {
      for (std::string_view& p : pieces) {
        if (p.starts_with(' ')) continue;
        std::string& with_space = prefixed.emplace_back(1, ' ');
        with_space += p;
        p = with_space;
      }
    }
    if (step.regex) {
      next.clear();
      for (std::string_view p : pieces) step.regex->split(p, next);
      pieces.swap(next);
    }
  }
  for (std::string_view piece : pieces) {
    if (ignore_merges_) {
      std::string spelling;
      for (char c : piece) spelling += byte_level::byte_to_token_text()[static_cast<unsigned char>(c)];
      if (const auto it = token_ids_.find(spelling); it != token_ids_.end()) {
        out.push_back(it->second);
        continue;
      }
    }
    model_->encode_word(piece, out);
  }
}

std::string ByteLevelBpeTokenizer::decode(std::span<const std::int32_t> ids) const {
  std::string bytes;
  for (std::int32_t id : ids) {
    if (id < 0 || id >= vocab_size() || !id_used_[id]) {
      throw InputError(fmt::format("token id {} is not in the vocabulary (ids 0..{})", id, vocab_size() - 1));
    }
    bytes += id_bytes_[id];
  }
  return utf8::decode_lossy(bytes);
}

std::optional<std::int32_t> ByteLevelBpeTokenizer::token_to_id(std::string_view token) const {
  const auto it = token_ids_.find(std::string(token));
  if (it == token_ids_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> ByteLevelBpeTokenizer::id_to_token(std::int32_t id) const {
  if (id < 0 || id >= vocab_size() || !id_used_[id]) return std::nullopt;
  return id_text_[id];
}

}  // namespace disa::llm
