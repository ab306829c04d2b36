#include "llm/tokenizer/bpe_model.h"

#include <queue>

namespace disa::llm {

BpeModel::BpeModel(const std::array<std::int32_t, 256>& byte_ids, const std::vector<BpeMerge>& merges)
    : byte_ids_(byte_ids) {
  rules_.reserve(merges.size());
  for (std::size_t rank = 0; rank < merges.size(); ++rank) {
    const BpeMerge& m = merges[rank];
    rules_.insert_or_assign(pair_key(m.left, m.right), Rule{static_cast<std::int32_t>(rank), m.merged});
  }
}

void BpeModel::encode_word(std::string_view bytes, std::vector<std::int32_t>& out) const {
  if (bytes.empty()) return;
  if (bytes.size() == 1) {
    out.push_back(byte_ids_[static_cast<unsigned char>(bytes[0])]);
    return;
  }
  const bool cacheable = bytes.size() <= kMaxCachedBytes;
  if (cacheable) {
    std::lock_guard lock(cache_mutex_);
    if (const auto it = cache_.find(std::string(bytes)); it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<std::int32_t> ids = merge(bytes);
  out.insert(out.end(), ids.begin(), ids.end());
  if (cacheable) {
    std::lock_guard lock(cache_mutex_);
    if (cache_.size() >= kCacheCapacity) cache_.clear();
    cache_.emplace(std::string(bytes), std::move(ids));
  }
}

std::vector<std::int32_t> BpeModel::merge(std::string_view bytes) const {
  // Symbols form a doubly linked list over the byte positions; a merge absorbs the right
  // symbol into the left one. A queued candidate is stale when either symbol has changed
  // since it was queued; it is then skipped (the current pair, if mergeable, was queued too).
  const int n = static_cast<int>(bytes.size());
  std::vector<std::int32_t> id(n);
  std::vector<int> prev(n), next(n);
  std::vector<bool> alive(n, true);
  for (int i = 0; i < n; ++i) {
    id[i] = byte_ids_[static_cast<unsigned char>(bytes[i])];
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  struct Candidate {
    std::int32_t rank;
    int pos;  // the left symbol
    std::int32_t merged;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  auto push_pair = [&](int left) {
    const int right = next[left];
    if (right < 0) return;
    if (const auto it = rules_.find(pair_key(id[left], id[right])); it != rules_.end()) {
      queue.push({it->second.rank, left, it->second.merged});
    }
  };
  for (int i = 0; i + 1 < n; ++i) push_pair(i);
  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    const int right = next[c.pos];
    if (!alive[c.pos] || right < 0) continue;
    const auto it = rules_.find(pair_key(id[c.pos], id[right]));
    if (it == rules_.end() || it->second.merged != c.merged || it->second.rank != c.rank) continue;
    id[c.pos] = c.merged;
    alive[right] = false;
    next[c.pos] = next[right];
    if (next[right] >= 0) prev[next[right]] = c.pos;
    if (prev[c.pos] >= 0) push_pair(prev[c.pos]);
    push_pair(c.pos);
  }
  std::vector<std::int32_t> ids;
  for (int i = 0; i >= 0; i = next[i]) ids.push_back(id[i]);
  return ids;
}

}  // namespace disa::llm
