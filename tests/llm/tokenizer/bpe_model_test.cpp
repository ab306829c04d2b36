// Tests the BPE merge step (llm/tokenizer/bpe_model.h) against a naive reference:
// repeatedly merge the adjacent pair of lowest rank, leftmost first, rescanning the whole
// word after every merge. RapidCheck draws merge tables over a 3-letter alphabet (so
// ranks collide with repeated pairs often) and words up to 300 bytes (past the cache
// limit, so both the cached and the uncached paths run).
#include "llm/tokenizer/bpe_model.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <array>
#include <map>
#include <string>
#include <vector>

namespace disa::llm {
namespace {

std::array<std::int32_t, 256> identity_byte_ids() {
  std::array<std::int32_t, 256> ids{};
  for (int b = 0; b < 256; ++b) ids[b] = b;
  return ids;
}

std::vector<std::int32_t> naive_bpe(const std::string& word, const std::vector<BpeMerge>& merges) {
  std::map<std::pair<std::int32_t, std::int32_t>, std::pair<std::size_t, std::int32_t>> rank;
  for (std::size_t r = 0; r < merges.size(); ++r) rank[{merges[r].left, merges[r].right}] = {r, merges[r].merged};
  std::vector<std::int32_t> ids;
  for (unsigned char c : word) ids.push_back(c);
  while (true) {
    std::size_t best = ids.size();
    std::size_t best_rank = SIZE_MAX;
    for (std::size_t i = 0; i + 1 < ids.size(); ++i) {
      const auto it = rank.find({ids[i], ids[i + 1]});
      if (it != rank.end() && it->second.first < best_rank) {
        best_rank = it->second.first;
        best = i;
      }
    }
    if (best == ids.size()) return ids;
    ids[best] = rank[{ids[best], ids[best + 1]}].second;
    ids.erase(ids.begin() + best + 1);
  }
}

TEST(BpeModel, MergesLowestRankFirstAndLeftmostAmongEqualRanks) {
  // 256 = "ab" (rank 0), 257 = "aa" (rank 1).
  const std::vector<BpeMerge> merges = {{'a', 'b', 256}, {'a', 'a', 257}};
  const BpeModel model(identity_byte_ids(), merges);
  std::vector<std::int32_t> ids;
  model.encode_word("aaab", ids);  // "ab" first, then the leftmost "aa"
  EXPECT_EQ(ids, (std::vector<std::int32_t>{257, 256}));
  ids.clear();
  model.encode_word("aaa", ids);  // leftmost pair first: "aa" "a", not "a" "aa"
  EXPECT_EQ(ids, (std::vector<std::int32_t>{257, 'a'}));
  ids.clear();
  model.encode_word("", ids);
  EXPECT_TRUE(ids.empty());
}

TEST(BpeModel, TheLastRankOfARepeatedPairCounts) {
  const std::vector<BpeMerge> merges = {{'a', 'a', 300}, {'b', 'a', 301}, {'a', 'a', 300}};
  const BpeModel model(identity_byte_ids(), merges);
  std::vector<std::int32_t> ids;
  model.encode_word("baa", ids);  // "ba" (rank 1) beats "aa" (now rank 2)
  EXPECT_EQ(ids, (std::vector<std::int32_t>{301, 'a'}));
}

RC_GTEST_PROP(BpeModel, AgreesWithTheNaiveReference, ()) {
  // Merge tables built bottom-up: each merge joins two existing tokens into a new id.
  const int num_merges = *rc::gen::inRange(0, 40);
  std::vector<std::int32_t> tokens = {'a', 'b', 'c'};
  std::vector<BpeMerge> merges;
  for (int m = 0; m < num_merges; ++m) {
    const std::int32_t left = *rc::gen::elementOf(tokens);
    const std::int32_t right = *rc::gen::elementOf(tokens);
    merges.push_back({left, right, 1000 + m});
    tokens.push_back(1000 + m);
  }
  const BpeModel model(identity_byte_ids(), merges);
  const std::vector<char> letters = *rc::gen::container<std::vector<char>>(
      *rc::gen::inRange<std::size_t>(0, 300), rc::gen::elementOf(std::vector<char>{'a', 'b', 'c'}));
  const std::string word(letters.begin(), letters.end());
  for (int pass = 0; pass < 2; ++pass) {  // the second pass reads the cache
    std::vector<std::int32_t> ids;
    model.encode_word(word, ids);
    RC_ASSERT(ids == naive_bpe(word, merges));
  }
}

}  // namespace
}  // namespace disa::llm
