#include "src/loss/grpo_advantage.h"

#include <fmt/format.h>

#include <cmath>
#include <string>
#include <unordered_map>

namespace disa::loss {

std::vector<double> grpo_advantages(std::span<const double> scores, std::span<const std::int64_t> group,
                                    const GroupAdvantageOptions& options) {
  const std::size_t B = scores.size();
  std::unordered_map<std::int64_t, std::vector<std::size_t>> members;
  for (std::size_t i = 0; i < B; ++i) members[group[i]].push_back(i);

  std::vector<double> advantage(B, 0.0);
  for (const auto& [id, rows] : members) {
    const std::size_t G = rows.size();
    if (G == 1) {
      const std::size_t i = rows.front();
      if (options.singleton_groups == SingletonGroups::zero) {
        advantage[i] = 0.0;
      } else if (options.norm_adv_by_std) {
        // verl: std = torch.tensor(1.0) (float32) + epsilon stays float32.
        const float denominator = 1.0f + static_cast<float>(options.epsilon);
        advantage[i] = scores[i] / double(denominator);
      } else {
        advantage[i] = scores[i];
      }
      continue;
    }
    // Mean as an offset from the first member: an all-equal group gives exactly 0.
    const double anchor = scores[rows.front()];
    double offset = 0.0;
    for (std::size_t i : rows) offset += scores[i] - anchor;
    const double mean = anchor + offset / double(G);
    double squares = 0.0;
    for (std::size_t i : rows) squares += (scores[i] - mean) * (scores[i] - mean);
    const double std_dev = std::sqrt(squares / double(G - 1));
    for (std::size_t i : rows) {
      const double centred = scores[i] - mean;
      // An all-equal group is exactly 0 even with epsilon = 0 (no 0/0).
      advantage[i] = (options.norm_adv_by_std && centred != 0.0) ? centred / (std_dev + options.epsilon) : centred;
    }
  }
  return advantage;
}

template <class Real>
TokenAdvantages<Real>::TokenAdvantages(const LossBatch<Real>& batch, std::span<const std::size_t> counts,
                                       const GroupAdvantageOptions& options)
    : columns_(batch.columns) {
  if (batch.advantages.size() == batch.rows * batch.columns && batch.columns > 1) {
    per_token_ = batch.advantages;
    return;
  }
  if (batch.advantages.size() == batch.rows) {
    per_sequence_.assign(batch.advantages.begin(), batch.advantages.end());
    return;
  }
  if (batch.advantages.size() == batch.rows * batch.columns) {  // T = 1: per token and per row coincide
    per_sequence_.assign(batch.advantages.begin(), batch.advantages.end());
    return;
  }
  std::vector<double> scores(batch.rows, 0.0);
  for (std::size_t i = 0; i < batch.rows; ++i) scores[i] = counts[i] > 0 ? double(batch.reward[i]) : 0.0;
  per_sequence_ = grpo_advantages(scores, batch.group, options);
}

template class TokenAdvantages<float>;
template class TokenAdvantages<double>;

}  // namespace disa::loss

namespace disa::loss {

GroupAdvantageOptions group_advantage_options(Settings& settings) {
  GroupAdvantageOptions o;
  o.norm_adv_by_std = settings.flag("norm_adv_by_std", o.norm_adv_by_std, {"norm_adv_by_std_in_grpo"});
  o.epsilon = settings.number_in("epsilon", o.epsilon, 0, kNoBound);
  const std::string singleton = settings.word("singleton_groups", "reference");
  if (singleton == "reference") {
    o.singleton_groups = SingletonGroups::reference;
  } else if (singleton == "zero") {
    o.singleton_groups = SingletonGroups::zero;
  } else {
    settings.reject("singleton_groups", singleton, "expected reference (verl) or zero");
  }
  return o;
}

void append_options(OptionList& list, const GroupAdvantageOptions& o) {
  list.emplace_back("norm_adv_by_std", o.norm_adv_by_std ? "true" : "false");
  list.emplace_back("epsilon", fmt::format("{}", o.epsilon));
  list.emplace_back("singleton_groups", o.singleton_groups == SingletonGroups::zero ? "zero" : "reference");
}

}  // namespace disa::loss
