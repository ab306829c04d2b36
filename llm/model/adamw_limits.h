// The largest learning rate AdamW can take on float parameters.
//
// LibTorch's AdamW applies the scalars lr * weight_decay and lr / (1 - beta1^t) (at most
// lr / (1 - beta1), at step 1) to float tensors; a value past FLT_MAX is a c10::Error
// ("cannot be converted to type float without overflow") in the middle of the first
// step, which names no option. Callers refuse a larger lr up front, naming theirs.
#pragma once

#include <algorithm>
#include <cfloat>
#include <limits>

namespace disa::llm {

inline double adamw_max_learning_rate(double beta1, double weight_decay) {
  return std::min(static_cast<double>(FLT_MAX) * (1 - beta1), weight_decay > 0
                                                                  ? static_cast<double>(FLT_MAX) / weight_decay
                                                                  : std::numeric_limits<double>::infinity());
}

}  // namespace disa::llm
