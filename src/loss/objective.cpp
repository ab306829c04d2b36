#include "src/loss/objective.h"

#include <fmt/format.h>

#include "src/input_error.h"

namespace disa::loss {

namespace {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

}  // namespace

std::vector<std::string> objective_names() { return {"tb", "disa", "flowrl", "grpo", "gspo", "sft", "kl"}; }

Objective make_objective(std::string_view name, const std::vector<std::string>& entries) {
  Settings settings = Settings::parse(name, entries);
  Objective objective{std::string(name), {}};
  if (name == "tb" || name == "disa") {
    objective.options = TrajectoryBalanceOptions::from(settings);
  } else if (name == "flowrl") {
    objective.options = FlowRlOptions::from(settings);
  } else if (name == "grpo") {
    objective.options = GrpoOptions::from(settings);
  } else if (name == "gspo") {
    objective.options = GspoOptions::from(settings);
  } else if (name == "sft") {
    objective.options = SftOptions::from(settings);
  } else if (name == "kl") {
    objective.options = KlLossOptions::from(settings);
  } else {
    std::string list;
    for (const std::string& n : objective_names()) list += (list.empty() ? "" : ", ") + n;
    throw InputError(fmt::format("objective '{}' is unknown (expected one of: {})", name, list));
  }
  settings.finish();
  return objective;
}

unsigned needed_fields(const Objective& objective) {
  return std::visit(Overloaded{
                        [](const TrajectoryBalanceOptions& o) { return trajectory_balance_fields(o); },
                        [](const FlowRlOptions& o) { return flowrl_fields(o); },
                        [](const GrpoOptions& o) { return grpo_fields(o); },
                        [](const GspoOptions& o) { return gspo_fields(o); },
                        [](const SftOptions& o) { return sft_fields(o); },
                        [](const KlLossOptions& o) { return kl_loss_fields(o); },
                    },
                    objective.options);
}

OptionList option_list(const Objective& objective) {
  return std::visit([](const auto& o) { return o.list(); }, objective.options);
}

bool has_log_z_gradient(const Objective& objective) {
  return std::holds_alternative<TrajectoryBalanceOptions>(objective.options) ||
         std::holds_alternative<FlowRlOptions>(objective.options);
}

double loss_denominator(const Objective& objective, std::span<const std::size_t> counts,
                        std::span<const double> reward, std::size_t columns) {
  return std::visit(
      Overloaded{
          [&](const TrajectoryBalanceOptions&) { return double(counts.size()); },
          [&](const FlowRlOptions&) { return double(counts.size()); },
          [&](const GrpoOptions& o) { return aggregation_denominator(o.loss_agg_mode, counts, columns); },
          [&](const GspoOptions&) { return aggregation_denominator(LossAggMode::seq_mean_token_mean, counts, columns); },
          [&](const KlLossOptions& o) { return aggregation_denominator(o.loss_agg_mode, counts, columns); },
          [&](const SftOptions& o) {
            if (reward.size() != counts.size()) {
              throw InputError(fmt::format("reward: expected {} entries (one per row), got {}", counts.size(), reward.size()));
            }
            std::vector<std::size_t> kept(counts.begin(), counts.end());
            for (std::size_t i = 0; i < kept.size(); ++i) {
              if (reward[i] < o.reward_threshold) kept[i] = 0;  // as sft_loss filters
            }
            return aggregation_denominator(o.loss_agg_mode, kept, columns);
          },
      },
      objective.options);
}

template <class Real>
LossResult<Real> compute_loss(const Objective& objective, const LossBatch<Real>& batch) {
  return std::visit(Overloaded{
                        [&](const TrajectoryBalanceOptions& o) { return trajectory_balance_loss(batch, o); },
                        [&](const FlowRlOptions& o) { return flowrl_loss(batch, o); },
                        [&](const GrpoOptions& o) { return grpo_loss(batch, o); },
                        [&](const GspoOptions& o) { return gspo_loss(batch, o); },
                        [&](const SftOptions& o) { return sft_loss(batch, o); },
                        [&](const KlLossOptions& o) { return kl_loss(batch, o); },
                    },
                    objective.options);
}

template LossResult<float> compute_loss<float>(const Objective&, const LossBatch<float>&);
template LossResult<double> compute_loss<double>(const Objective&, const LossBatch<double>&);

}  // namespace disa::loss
