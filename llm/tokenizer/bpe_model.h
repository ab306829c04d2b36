// The merge step of byte-level BPE: the bytes of one pre-token become token ids by
// applying merges in rank order (lowest rank first, leftmost first among equal ranks),
// as Hugging Face's BPE model does.
//
// Merging uses a priority queue over a linked list of symbols, so a word of n bytes
// costs O(n log n), not a rescan per merge; results for words up to kMaxCachedBytes
// are cached, since text repeats words constantly.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace disa::llm {

struct BpeMerge {
  std::int32_t left = 0;
  std::int32_t right = 0;
  std::int32_t merged = 0;  // the id of left's text followed by right's
};

class BpeModel {
 public:
  // byte_ids[b]: the id of the one-byte token of byte b. merges: in rank order (index =
  // rank); a pair listed twice keeps its last rank, as the reference implementations do.
  BpeModel(const std::array<std::int32_t, 256>& byte_ids, const std::vector<BpeMerge>& merges);

  // Appends the ids of one pre-token's bytes to out. Thread-safe.
  void encode_word(std::string_view bytes, std::vector<std::int32_t>& out) const;

  static constexpr std::size_t kMaxCachedBytes = 256;
  static constexpr std::size_t kCacheCapacity = 1 << 18;  // words; the cache is emptied when full

 private:
  struct Rule {
    std::int32_t rank;
    std::int32_t merged;
  };
  static std::uint64_t pair_key(std::int32_t left, std::int32_t right) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(left)) << 32) | static_cast<std::uint32_t>(right);
  }
  std::vector<std::int32_t> merge(std::string_view bytes) const;

  std::array<std::int32_t, 256> byte_ids_;
  std::unordered_map<std::uint64_t, Rule> rules_;
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<std::int32_t>> cache_;
};

}  // namespace disa::llm
