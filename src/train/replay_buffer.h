// PACED-RL's accuracy-estimation-error prioritised replay, for the tabular trainer.
//
// Each on-policy group drawn for a prompt is kept (FIFO, `capacity` groups) with the
// accuracy it showed, acc_emp = mean over its rows of 1[r >= 0.5]. At a later step
// `per_step` stored groups are drawn without replacement with probability proportional to
//     priority = |acc_hat_p - acc_emp| ^ alpha + floor,
// where acc_hat_p = log Z_old,p / beta is the accuracy the current policy's log Z predicts
// for the group's prompt (prompt_selection.h, THEORY.md item 12). A large error marks a
// group the log Z does not yet explain: the one worth training on again. `uniform`
// priority (all 1) is the ablation. The replayed rows are reused for the tb head, which
// needs no sampling probabilities: with the exact log Z its fixed point is p* under any
// row distribution with full support (item 9), so replay is restricted to tb heads
// without importance weights (train_config.cpp).
//
// Draws are counter-based on (seed, step); the buffer is saved in checkpoints, so a
// resumed run replays exactly what an uninterrupted one does.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace disa::train {

enum class ReplayPriority { accuracy_error, uniform };

struct ReplayOptions {
  std::int64_t capacity = 0;   // groups kept; 0 = no replay
  std::int64_t per_step = 0;   // groups replayed per step
  ReplayPriority priority = ReplayPriority::accuracy_error;
  double alpha = 1.0;          // priority exponent (0 = uniform)
  bool enabled() const { return capacity > 0 && per_step > 0; }
};

struct ReplayGroup {
  std::size_t prompt = 0;
  std::vector<std::int64_t> leaves;  // the group's rows (leaf ids)
  double empirical_accuracy = 0;     // fraction of its rows with r >= 0.5
};

class ReplayBuffer {
 public:
  explicit ReplayBuffer(ReplayOptions options = {}) : options_(options) {}

  // Appends, evicting the oldest group when full.
  void add(ReplayGroup group);
  // The groups to replay at `step`, by index into groups(); accuracy_estimates holds
  // acc_hat_p per prompt. Fewer than per_step when the buffer holds fewer groups.
  std::vector<std::size_t> draw(std::span<const double> accuracy_estimates, std::uint64_t seed,
                                std::int64_t step) const;
  // The priority of one group (before the floor), as draw() uses it.
  double priority(const ReplayGroup& group, std::span<const double> accuracy_estimates) const;

  const std::vector<ReplayGroup>& groups() const { return groups_; }
  const ReplayOptions& options() const { return options_; }

  nlohmann::json to_json() const;
  // Replaces the contents; InputError naming `where` and the field on a malformed entry
  // or a prompt index >= num_prompts.
  void load_json(const nlohmann::json& j, std::size_t num_prompts, const std::string& where);

 private:
  ReplayOptions options_;
  std::vector<ReplayGroup> groups_;  // oldest first
};

}  // namespace disa::train
