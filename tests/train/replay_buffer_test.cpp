// PACED's accuracy-estimation-error prioritised replay (src/train/replay_buffer.h) and its
// use by the trainer: FIFO capacity, the priority formula, draw frequencies, checkpoint
// round trip, resume with a non-empty buffer, and config refusals.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <set>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "src/input_error.h"
#include "src/train/replay_buffer.h"
#include "src/train/trainer.h"
#include "tests/train/fixed_trees.h"
#include "tests/util/errors.h"

namespace disa::train {
namespace {

ReplayGroup group(std::size_t prompt, double accuracy) { return {prompt, {0, 1}, accuracy}; }

TEST(ReplayBuffer, KeepsTheNewestGroupsUpToCapacity) {
  ReplayBuffer buffer({.capacity = 3, .per_step = 1});
  for (int i = 0; i < 5; ++i) buffer.add(group(0, 0.1 * i));
  ASSERT_EQ(buffer.groups().size(), 3u);
  EXPECT_DOUBLE_EQ(buffer.groups()[0].empirical_accuracy, 0.2);
  EXPECT_DOUBLE_EQ(buffer.groups()[2].empirical_accuracy, 0.4);
  ReplayBuffer off({.capacity = 0, .per_step = 0});
  off.add(group(0, 0.5));
  EXPECT_TRUE(off.groups().empty());
  EXPECT_TRUE(off.draw(std::vector<double>{0.5}, 1, 0).empty());
}

TEST(ReplayBuffer, PriorityIsTheAccuracyEstimationError) {
  const std::vector<double> estimates = {0.3, 0.9};
  ReplayBuffer linear({.capacity = 4, .per_step = 1, .alpha = 1.0});
  EXPECT_DOUBLE_EQ(linear.priority(group(0, 0.75), estimates), 0.45);
  EXPECT_DOUBLE_EQ(linear.priority(group(1, 0.5), estimates), 0.4);
  ReplayBuffer squared({.capacity = 4, .per_step = 1, .alpha = 2.0});
  EXPECT_DOUBLE_EQ(squared.priority(group(0, 0.5), estimates), std::pow(0.2, 2.0));
  ReplayBuffer uniform({.capacity = 4, .per_step = 1, .priority = ReplayPriority::uniform});
  EXPECT_EQ(uniform.priority(group(0, 0.75), estimates), 1.0);
}

// One draw per step: P(group i) = (priority_i + 1e-3) / sum, exactly (exponential keys).
TEST(ReplayBuffer, DrawFrequenciesFollowThePriorities) {
  ReplayBuffer buffer({.capacity = 3, .per_step = 1});
  buffer.add(group(0, 0.5));  // error 0: weight 1e-3 (the floor)
  buffer.add(group(0, 0.2));  // error 0.3
  buffer.add(group(1, 0.0));  // error 0.6
  const std::vector<double> estimates = {0.5, 0.6};
  const std::vector<double> w = {1e-3, 0.3 + 1e-3, 0.6 + 1e-3};
  const double total = w[0] + w[1] + w[2];
  const int draws = 40000;
  std::vector<int> count(3, 0);
  for (int step = 0; step < draws; ++step) {
    const auto chosen = buffer.draw(estimates, 5, step);
    ASSERT_EQ(chosen.size(), 1u);
    ASSERT_EQ(chosen, buffer.draw(estimates, 5, step));  // counter-based
    ++count[chosen[0]];
  }
  // Binomial counts; 6 sd bounds: false-alarm rate below 1e-8 per group.
  for (int i = 0; i < 3; ++i) {
    const double p = w[i] / total;
    EXPECT_NEAR(count[i], draws * p, 6 * std::sqrt(draws * p * (1 - p))) << "group " << i;
  }
}

TEST(ReplayBuffer, DrawsDistinctGroupsAndNoMoreThanItHolds) {
  ReplayBuffer buffer({.capacity = 8, .per_step = 3});
  buffer.add(group(0, 0.1));
  buffer.add(group(0, 0.2));
  EXPECT_EQ(buffer.draw(std::vector<double>{0.5}, 1, 0).size(), 2u);
  for (int i = 0; i < 5; ++i) buffer.add(group(0, 0.1 * i));
  for (int step = 0; step < 100; ++step) {
    const auto chosen = buffer.draw(std::vector<double>{0.5}, 1, step);
    EXPECT_EQ(std::set<std::size_t>(chosen.begin(), chosen.end()).size(), 3u);
  }
}

TEST(ReplayBuffer, JsonRoundTripAndRefusals) {
  ReplayBuffer buffer({.capacity = 2, .per_step = 1});
  buffer.add({1, {3, 4, 5}, 0.25});
  ReplayBuffer loaded({.capacity = 2, .per_step = 1});
  loaded.load_json(buffer.to_json(), 2, "ckpt");
  ASSERT_EQ(loaded.groups().size(), 1u);
  EXPECT_EQ(loaded.groups()[0].leaves, (std::vector<std::int64_t>{3, 4, 5}));
  EXPECT_EQ(loaded.groups()[0].empirical_accuracy, 0.25);
  auto expect_refused = [&](const nlohmann::json& j, std::size_t prompts, const std::string& words) {
    try {
      ReplayBuffer b({.capacity = 2, .per_step = 1});
      b.load_json(j, prompts, "ckpt");
      ADD_FAILURE() << "accepted " << j.dump();
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  };
  expect_refused(buffer.to_json(), 1, "prompt = 1");
  expect_refused(nlohmann::json::object(), 2, "not an array");
  expect_refused(nlohmann::json::parse(R"([{"prompt": 0}])"), 2, "replay_buffer[0]");
  expect_refused(nlohmann::json::parse(R"([{"prompt":0,"leaves":[],"empirical_accuracy":0},
                                           {"prompt":0,"leaves":[],"empirical_accuracy":0},
                                           {"prompt":0,"leaves":[],"empirical_accuracy":0}])"),
                 2, "more than replay_capacity");
}

std::vector<Tree> two_prompts() {
  const auto fixed = test::fixed_trees();
  return {fixed[0].tree, fixed[0].tree};
}

// Replay adds groups to a step, not trajectories: the sample count is that of the run
// without replay, and the trajectory differs from it once the buffer holds groups.
TEST(Trainer, ReplayReusesGroupsWithoutDrawingMore) {
  const std::vector<std::string> base = {"method=disa-online", "mode=sampled", "group_size=4", "beta=1"};
  std::vector<std::string> with = base;
  with.insert(with.end(), {"replay_capacity=8", "replay_per_step=2"});
  Trainer plain(two_prompts(), TrainConfig::parse(base));
  Trainer replay(two_prompts(), TrainConfig::parse(with));
  // Step 1 has an empty buffer: identical. Later steps replay.
  EXPECT_EQ(plain.step().kl_policy_target, replay.step().kl_policy_target);
  StepMetrics a, b;
  for (int k = 0; k < 5; ++k) a = plain.step(), b = replay.step();
  EXPECT_EQ(a.samples, b.samples);
  EXPECT_EQ(a.samples, 6 * 2 * 4);
  EXPECT_NE(a.kl_policy_target, b.kl_policy_target);
}

TEST(Trainer, ResumeWithAReplayBufferIsBitIdentical) {
  const auto fixed = test::fixed_trees()[1];
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "disa_replay_resume_test";
  std::filesystem::create_directories(dir);
  for (const char* method : {"method=disa-online", "method=flowrl"}) {
    const TrainConfig config = TrainConfig::parse(
        {method, "mode=sampled", "group_size=4", "replay_capacity=5", "replay_per_step=2", "prompt_selection=paced",
         "prompts_per_step=1", "log_z_init_error=0.4", fmt::format("beta={}", fixed.beta)});
    const std::vector<Tree> prompts = {fixed.tree, fixed.tree, fixed.tree};
    Trainer straight(prompts, config);
    for (int k = 0; k < 9; ++k) straight.step();
    Trainer first(prompts, config);
    for (int k = 0; k < 4; ++k) first.step();
    const std::string path = (dir / "checkpoint.json").string();
    first.save_checkpoint(path);
    Trainer resumed(prompts, config);
    resumed.load_checkpoint(path);
    for (int k = 0; k < 5; ++k) resumed.step();
    EXPECT_EQ(resumed.logits(), straight.logits()) << method;
    EXPECT_EQ(resumed.log_z_used(0), straight.log_z_used(0)) << method;
    EXPECT_EQ(resumed.metrics().loss, straight.metrics().loss) << method;
  }
  std::filesystem::remove_all(dir);
}

// The refusal names the key.
void expect_rejected(const std::vector<std::string>& settings, const std::string& key) {
  EXPECT_TRUE(test::contains_all(test::input_error_message([&] { TrainConfig::parse(settings); }), {key}));
}

TEST(TrainConfig, ReplaySettingsAreValidated) {
  const std::vector<std::string> on = {"mode=sampled", "replay_capacity=4", "replay_per_step=1"};
  auto with = [&](std::vector<std::string> extra) {
    extra.insert(extra.end(), on.begin(), on.end());
    return extra;
  };
  EXPECT_NO_THROW(TrainConfig::parse(with({"method=disa-online"})));
  EXPECT_NO_THROW(TrainConfig::parse(with({"method=flowrl"})));
  expect_rejected(with({"method=grpo"}), "replay_capacity");
  expect_rejected(with({"method=disa-offline"}), "replay_capacity");
  expect_rejected({"method=disa-online", "mode=exact", "replay_capacity=4", "replay_per_step=1"}, "mode=sampled");
  expect_rejected(with({"method=disa-online", "loss.weight=clipped"}), "loss.weight");
  expect_rejected({"mode=sampled", "replay_capacity=4"}, "replay_per_step");
  expect_rejected({"mode=sampled", "replay_per_step=2"}, "replay_capacity");
  expect_rejected(with({"replay_priority=loss"}), "replay_priority");
  expect_rejected(with({"replay_alpha=-1"}), "replay_alpha");
}

}  // namespace
}  // namespace disa::train
