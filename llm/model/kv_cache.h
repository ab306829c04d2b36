// The keys and values of every layer for the tokens seen so far, so that generation
// runs each new token through the model once instead of re-reading the whole prefix.
//
//   KvCache cache(prompt_len + max_new_tokens);      // capacity in positions
//   model->forward(prompt_ids, mask, positions, &cache);   // fills [0, prompt_len)
//   model->forward(next_ids, longer_mask, next_pos, &cache);  // appends one position
//
// Storage is allocated once per layer at full capacity on the first append (growing
// by concatenation would copy the whole prefix at every step). The batch size and the
// rows' order are fixed for the cache's lifetime.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <torch/types.h>

#include "src/input_error.h"

namespace disa::llm {

class KvCache {
 public:
  explicit KvCache(std::int64_t capacity) : capacity_(capacity) {
    if (capacity <= 0) throw InputError(fmt::format("KvCache: capacity = {} must be positive", capacity));
  }

  std::int64_t length() const { return length_; }
  std::int64_t capacity() const { return capacity_; }

  // Stores this step's k, v ([B, kv_heads, T, head_dim]) of `layer` after the cached ones
  // and returns views of all of them ([B, kv_heads, length + T, head_dim]). Every layer
  // appends once per forward; advance() then moves the length on.
  std::pair<torch::Tensor, torch::Tensor> append(std::size_t layer, const torch::Tensor& k,
                                                 const torch::Tensor& v) {
    const std::int64_t t = k.size(2);
    if (length_ + t > capacity_) {
      throw InputError(fmt::format("KvCache: {} cached + {} new positions exceed capacity = {}",
                                   length_, t, capacity_));
    }
    if (layer >= keys_.size()) {
      keys_.resize(layer + 1);
      values_.resize(layer + 1);
    }
    if (!keys_[layer].defined()) {
      keys_[layer] = torch::empty({k.size(0), k.size(1), capacity_, k.size(3)}, k.options());
      values_[layer] = torch::empty({v.size(0), v.size(1), capacity_, v.size(3)}, v.options());
    }
    keys_[layer].narrow(2, length_, t).copy_(k);
    values_[layer].narrow(2, length_, t).copy_(v);
    return {keys_[layer].narrow(2, 0, length_ + t), values_[layer].narrow(2, 0, length_ + t)};
  }

  void advance(std::int64_t t) { length_ += t; }

 private:
  std::int64_t capacity_;
  std::int64_t length_ = 0;
  std::vector<torch::Tensor> keys_, values_;
};

}  // namespace disa::llm
