#include "llm/tokenizer/added_tokens.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

#include "llm/tokenizer/json_fields.h"
#include "llm/tokenizer/utf8.h"

namespace disa::llm {
namespace {

// The code point that ends text[0, end) (valid UTF-8).
char32_t last_code_point(std::string_view text, std::size_t end) {
  std::size_t start = end - 1;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  return utf8::next_code_point(text, start);
}

// Where the run of white space that ends at `end` starts.
std::size_t white_space_start(std::string_view text, std::size_t end) {
  while (end > 0) {
    std::size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
    std::size_t pos = start;
    if (!utf8::is_white_space(utf8::next_code_point(text, pos))) break;
    end = start;
  }
  return end;
}

// Where the run of white space that starts at `begin` ends.
std::size_t white_space_end(std::string_view text, std::size_t begin) {
  while (begin < text.size()) {
    std::size_t pos = begin;
    if (!utf8::is_white_space(utf8::next_code_point(text, pos))) break;
    begin = pos;
  }
  return begin;
}

}  // namespace

std::vector<AddedToken> added_tokens_from_json(const nlohmann::json& list, std::string_view file) {
  std::vector<AddedToken> tokens;
  if (list.is_null()) return tokens;
  if (!list.is_array()) json_fields::fail(file, "added_tokens", "expected a list");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string field = fmt::format("added_tokens[{}]", i);
    const nlohmann::json& entry = list[i];
    AddedToken t;
    const nlohmann::json& id = json_fields::require(entry, "id", file, field + ".id");
    if (!id.is_number_integer() || id.get<std::int64_t>() < 0 || id.get<std::int64_t>() > INT32_MAX) {
      json_fields::fail(file, field + ".id",
                        fmt::format("expected an integer id >= 0, got {}", json_fields::brief(id)));
    }
    t.id = id.get<std::int32_t>();
    t.content = json_fields::require_string(entry, "content", file, field + ".content");
    if (t.content.empty()) json_fields::fail(file, field + ".content", "is empty");
    utf8::require_valid(t.content, fmt::format("{}: {}.content", file, field));
    t.single_word = json_fields::optional_bool(entry, "single_word", false, file, field + ".single_word");
    t.lstrip = json_fields::optional_bool(entry, "lstrip", false, file, field + ".lstrip");
    t.rstrip = json_fields::optional_bool(entry, "rstrip", false, file, field + ".rstrip");
    t.special = json_fields::optional_bool(entry, "special", false, file, field + ".special");
    t.normalized = json_fields::optional_bool(entry, "normalized", !t.special, file, field + ".normalized");
    tokens.push_back(std::move(t));
  }
  return tokens;
}

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
  for (std::size_t i = 0; i < tokens_.size(); ++i) {
    if (tokens_[i].content.empty()) continue;  // matches nothing
    by_first_byte_[static_cast<unsigned char>(tokens_[i].content[0])].push_back(i);
  }
  for (auto& list : by_first_byte_) {
    std::stable_sort(list.begin(), list.end(), [&](std::size_t a, std::size_t b) {
      return tokens_[a].content.size() > tokens_[b].content.size();
    });
  }
}

std::vector<TextSegment> AddedTokenMatcher::split(std::string_view text) const {
  std::vector<TextSegment> out;
  std::size_t plain_from = 0;  // start of the text not yet emitted
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto& candidates = by_first_byte_[static_cast<unsigned char>(text[pos])];
    const AddedToken* match = nullptr;
    for (std::size_t i : candidates) {
      if (text.substr(pos).starts_with(tokens_[i].content)) {
        match = &tokens_[i];
        break;
      }
    }
    if (match == nullptr) {
      ++pos;
      continue;
    }
    std::size_t start = pos;
    std::size_t stop = pos + match->content.size();
    pos = stop;
    if (match->single_word) {
      const bool word_before = start > 0 && utf8::is_word_char(last_code_point(text, start));
      std::size_t after = stop;
      const bool word_after = stop < text.size() && utf8::is_word_char(utf8::next_code_point(text, after));
      if (word_before || word_after) continue;
    }
    if (match->lstrip) start = std::max(white_space_start(text, start), plain_from);
    if (match->rstrip) stop = white_space_end(text, stop);
    if (plain_from < start) out.push_back({text.substr(plain_from, start - plain_from), std::nullopt});
    out.push_back({text.substr(start, stop - start), match->id});
    plain_from = pos = stop;
  }
  if (plain_from < text.size()) out.push_back({text.substr(plain_from), std::nullopt});
  return out;
}

}  // namespace disa::llm
