#include "src/train/replay_buffer.h"

#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "src/input_error.h"
#include "src/train/weighted_draw.h"

namespace disa::train {

namespace {
constexpr std::uint64_t kReplayStream = 0x4e91'a700'0000'0004ull;
// Keeps a group whose accuracy the estimate matches exactly drawable (tiny, not zero).
constexpr double kPriorityFloor = 1e-3;
}  // namespace

void ReplayBuffer::add(ReplayGroup group) {
  if (options_.capacity <= 0) return;
  if (std::int64_t(groups_.size()) == options_.capacity) groups_.erase(groups_.begin());
  groups_.push_back(std::move(group));
}

double ReplayBuffer::priority(const ReplayGroup& group, std::span<const double> accuracy_estimates) const {
  if (options_.priority == ReplayPriority::uniform) return 1.0;
  return std::pow(std::fabs(accuracy_estimates[group.prompt] - group.empirical_accuracy), options_.alpha);
}

std::vector<std::size_t> ReplayBuffer::draw(std::span<const double> accuracy_estimates, std::uint64_t seed,
                                             std::int64_t step) const {
  if (!options_.enabled() || groups_.empty()) return {};
  std::vector<double> weights(groups_.size());
  for (std::size_t i = 0; i < groups_.size(); ++i) weights[i] = priority(groups_[i], accuracy_estimates) + kPriorityFloor;
  return weighted_draw_without_replacement(weights, std::size_t(options_.per_step), seed ^ kReplayStream,
                                           static_cast<std::uint64_t>(step));
}

nlohmann::json ReplayBuffer::to_json() const {
  nlohmann::json out = nlohmann::json::array();
  for (const ReplayGroup& g : groups_) {
    out.push_back({{"prompt", g.prompt}, {"leaves", g.leaves}, {"empirical_accuracy", g.empirical_accuracy}});
  }
  return out;
}

void ReplayBuffer::load_json(const nlohmann::json& j, std::size_t num_prompts, const std::string& where) {
  if (!j.is_array()) throw InputError(fmt::format("{}: replay_buffer is not an array", where));
  if (std::int64_t(j.size()) > options_.capacity) {
    throw InputError(fmt::format("{}: replay_buffer holds {} groups, more than replay_capacity {}", where, j.size(),
                                 options_.capacity));
  }
  std::vector<ReplayGroup> groups;
  for (std::size_t i = 0; i < j.size(); ++i) {
    try {
      ReplayGroup g;
      g.prompt = j[i].at("prompt").get<std::size_t>();
      g.leaves = j[i].at("leaves").get<std::vector<std::int64_t>>();
      g.empirical_accuracy = j[i].at("empirical_accuracy").get<double>();
      if (g.prompt >= num_prompts) {
        throw InputError(fmt::format("{}: replay_buffer[{}].prompt = {} is not below {}", where, i, g.prompt, num_prompts));
      }
      groups.push_back(std::move(g));
    } catch (const nlohmann::json::exception& e) {
      throw InputError(fmt::format("{}: replay_buffer[{}]: {}", where, i, e.what()));
    }
  }
  groups_ = std::move(groups);
}

}  // namespace disa::train
