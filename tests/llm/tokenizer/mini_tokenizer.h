// A small byte-level BPE tokenizer.json for tests that must not depend on ../shared:
// the 256 byte tokens (id = byte value), a few merges spelling "hello" and " world",
// Qwen's normalizer and pre-tokenizer, and three ChatML special tokens.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "llm/tokenizer/byte_level.h"

namespace disa::llm::test {

// Qwen2's split regex, as in its tokenizer.json.
inline constexpr const char* kQwenPattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Ids of the merged tokens (after the 256 byte tokens).
enum MiniId { kHe = 256, kLl, kHell, kHello, kSpaceW, kOr, kSpaceWor, kLd, kSpaceWorld };
inline constexpr int kMiniImStart = 300, kMiniImEnd = 301, kMiniEndOfText = 302;

inline nlohmann::json mini_tokenizer_json() {
  using nlohmann::json;
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_level::byte_to_token_text()[b]] = b;
  const std::vector<std::pair<std::string, std::string>> merges = {{"h", "e"},    {"l", "l"}, {"he", "ll"},
                                                                   {"hell", "o"}, {"Ġ", "w"}, {"o", "r"},
                                                                   {"Ġw", "or"},  {"l", "d"}, {"Ġwor", "ld"}};
  json merge_list = json::array();
  int id = 256;
  for (const auto& [a, b] : merges) {
    vocab[a + b] = id++;
    merge_list.push_back(json::array({a, b}));
  }
  json added = json::array();
  int special_id = kMiniImStart;
  for (const char* content : {"<|im_start|>", "<|im_end|>", "<|endoftext|>"}) {
    added.push_back({{"id", special_id++},
                     {"content", content},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }
  return {
      {"version", "1.0"},
      {"added_tokens", added},
      {"normalizer", {{"type", "NFC"}}},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         json::array(
             {{{"type", "Split"}, {"pattern", {{"Regex", kQwenPattern}}}, {"behavior", "Isolated"}, {"invert", false}},
              {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}}})}}},
      {"post_processor",
       {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}}},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"continuing_subword_prefix", ""},
        {"end_of_word_suffix", ""},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"ignore_merges", false},
        {"vocab", vocab},
        {"merges", merge_list}}},
  };
}

}  // namespace disa::llm::test
