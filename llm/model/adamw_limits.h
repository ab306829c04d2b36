// The learning rates AdamW can take on float parameters.
//
// LibTorch's AdamW applies the scalars lr * weight_decay and lr / (1 - beta1^t) (at most
// lr / (1 - beta1), at step 1) to float tensors; a value past FLT_MAX is a c10::Error
// ("cannot be converted to type float without overflow") in the middle of the first
// step, which names no option. Its decoupled decay multiplies the weights by
// 1 - lr * weight_decay each step, which flips their sign once the product passes 1.
// Callers refuse such an lr up front, naming their option.
#pragma once

#include <algorithm>
#include <cfloat>
#include <limits>
#include <optional>
#include <string>

#include <fmt/format.h>

namespace disa::llm {

inline double adamw_max_learning_rate(double beta1, double weight_decay) {
  return std::min(static_cast<double>(FLT_MAX) * (1 - beta1), weight_decay > 0
                                                                  ? static_cast<double>(FLT_MAX) / weight_decay
                                                                  : std::numeric_limits<double>::infinity());
}

// What is wrong with lr, to follow "OPTION = lr": "must be at most ..." or
// "* weight_decay W = P must be at most 1 (...)"; nullopt when AdamW can take it.
inline std::optional<std::string> adamw_learning_rate_problem(double lr, double beta1, double weight_decay) {
  const double max_lr = adamw_max_learning_rate(beta1, weight_decay);
  // The product's message where weight_decay is what binds (weight_decay=1e308 was
  // reported as "lr=0.001 must be at most 3.4e-270"), the float step's elsewhere.
  const bool decay_binds =
      weight_decay > 0 && static_cast<double>(FLT_MAX) / weight_decay < static_cast<double>(FLT_MAX) * (1 - beta1);
  if (lr * weight_decay > 1 && (lr <= max_lr || decay_binds)) {
    return fmt::format(
        "* weight_decay {} = {:.3g} must be at most 1 (AdamW multiplies the weights by 1 - lr * "
        "weight_decay each step)",
        weight_decay, lr * weight_decay);
  }
  if (lr > max_lr) {
    return fmt::format(
        "must be at most {:.3g} (AdamW's float step lr / (1 - beta1) and lr * weight_decay must stay "
        "finite)",
        max_lr);
  }
  return std::nullopt;
}

}  // namespace disa::llm
