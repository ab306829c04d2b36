#include "src/train/train_config.h"

#include <cmath>

#include <fmt/format.h>

#include "src/input_error.h"
#include "src/loss/objective.h"
#include "src/loss/settings.h"
#include "toy_envs/flows.h"
#include "toy_envs/proposals.h"

namespace disa::train {

namespace {

constexpr std::string_view kLossPrefix = "loss.";

// Counts and seeds are parsed as integers (loss::Settings::integer), not through a
// double: seed=9007199254740993 stays itself, 8999999999999999.5 is refused, and a
// refusal states the range.
std::int64_t integer(loss::Settings& settings, std::string_view key, std::int64_t fallback, std::int64_t low) {
  return settings.integer(key, fallback, low);
}

}  // namespace

std::string to_string(Method method) {
  switch (method) {
    case Method::disa_offline: return "disa-offline";
    case Method::disa_online: return "disa-online";
    case Method::flowrl: return "flowrl";
    case Method::grpo: return "grpo";
    case Method::gspo: return "gspo";
    case Method::sft: return "sft";
  }
  return "?";
}

std::string to_string(GradientMode mode) { return mode == GradientMode::exact ? "exact" : "sampled"; }

TrainConfig TrainConfig::parse(const std::vector<std::string>& entries) {
  std::vector<std::string> own;
  TrainConfig c;
  for (const std::string& entry : entries) {
    if (entry.starts_with(kLossPrefix)) {
      c.loss_settings.push_back(entry.substr(kLossPrefix.size()));
    } else {
      own.push_back(entry);
    }
  }
  loss::Settings s = loss::Settings::parse("train", own);
  const std::string method = s.word("method", to_string(c.method));
  bool known = false;
  for (Method m : {Method::disa_offline, Method::disa_online, Method::flowrl, Method::grpo, Method::gspo, Method::sft}) {
    if (method == to_string(m)) c.method = m, known = true;
  }
  if (!known) s.reject("method", method, "expected disa-offline, disa-online, flowrl, grpo, gspo or sft");
  const std::string mode = s.word("mode", to_string(c.mode));
  if (mode == "exact") {
    c.mode = GradientMode::exact;
  } else if (mode == "sampled") {
    c.mode = GradientMode::sampled;
  } else {
    s.reject("mode", mode, "expected exact or sampled");
  }
  c.beta = s.number("beta", c.beta);
  check_positive_beta(c.beta, "train: beta");
  c.steps = integer(s, "steps", c.steps, 0);
  c.seed = static_cast<std::uint64_t>(integer(s, "seed", std::int64_t(c.seed), 0));
  c.optimizer = s.word("optimizer", c.optimizer);
  if (c.optimizer != "adam" && c.optimizer != "sgd") s.reject("optimizer", c.optimizer, "expected adam or sgd");
  const double default_lr = c.optimizer == "adam" ? c.adam.learning_rate : c.sgd.learning_rate;
  const double lr = s.number_in("learning_rate", default_lr, 0, loss::kNoBound, /*low_open=*/true);
  c.adam.learning_rate = c.sgd.learning_rate = lr;
  c.sgd.momentum = s.number_in("momentum", c.sgd.momentum, 0, 1);
  c.adam.beta1 = s.number_in("beta1", c.adam.beta1, 0, 1);
  c.adam.beta2 = s.number_in("beta2", c.adam.beta2, 0, 1);
  c.adam.epsilon = s.number_in("adam_epsilon", c.adam.epsilon, 0, loss::kNoBound, /*low_open=*/true);
  c.group_size = integer(s, "group_size", c.group_size, 1);
  c.offline_samples = integer(s, "offline_samples", c.offline_samples, 1);
  c.proposal = s.word("proposal", c.proposal);
  parse_policy_spec(c.proposal, "train: proposal");
  c.log_z_error = s.number("log_z_error", c.log_z_error);
  c.estimate_log_z = s.flag("estimate_log_z", c.estimate_log_z);
  c.log_z_init_error = s.number("log_z_init_error", c.log_z_init_error);
  c.log_z_learning_rate =
      s.number_in("log_z_learning_rate", c.log_z_learning_rate, 0, loss::kNoBound, /*low_open=*/true);
  const std::string selection = s.word("prompt_selection", "all");
  if (selection == "all") {
    c.selection.rule = PromptSelection::all;
  } else if (selection == "uniform") {
    c.selection.rule = PromptSelection::uniform;
  } else if (selection == "paced") {
    c.selection.rule = PromptSelection::paced;
  } else {
    s.reject("prompt_selection", selection, "expected all, uniform or paced");
  }
  c.selection.prompts_per_step = integer(s, "prompts_per_step", c.selection.prompts_per_step, 0);
  c.selection.target_accuracy = s.number_in("paced_target", c.selection.target_accuracy, 0, 1, false, false);
  c.selection.width = s.number_in("paced_width", c.selection.width, 0, loss::kNoBound, /*low_open=*/true);
  c.replay.capacity = integer(s, "replay_capacity", c.replay.capacity, 0);
  c.replay.per_step = integer(s, "replay_per_step", c.replay.per_step, 0);
  const std::string priority = s.word("replay_priority", "accuracy_error");
  if (priority == "accuracy_error") {
    c.replay.priority = ReplayPriority::accuracy_error;
  } else if (priority == "uniform") {
    c.replay.priority = ReplayPriority::uniform;
  } else {
    s.reject("replay_priority", priority, "expected accuracy_error or uniform");
  }
  c.replay.alpha = s.number_in("replay_alpha", c.replay.alpha, 0, loss::kNoBound);
  s.finish();
  if (c.selection.rule != PromptSelection::all && c.selection.prompts_per_step == 0) {
    s.reject("prompts_per_step", "0", fmt::format("prompt_selection={} needs prompts_per_step >= 1", selection));
  }

  const bool policy_gradient = c.method == Method::grpo || c.method == Method::gspo;
  if (policy_gradient && c.mode == GradientMode::exact) {
    s.reject("mode", "exact",
             fmt::format("{} couples the rows of a group (group-normalised advantages); use mode=sampled",
                         to_string(c.method)));
  }
  if (policy_gradient && c.group_size < 2) {
    s.reject("group_size", fmt::format("{}", c.group_size), "a GRPO/GSPO group needs at least 2 samples");
  }
  if (c.estimate_log_z && c.method != Method::disa_offline) {
    s.reject("estimate_log_z", "true", "only disa-offline has an offline set to estimate log Z from");
  }
  if ((c.replay.capacity > 0) != (c.replay.per_step > 0)) {
    s.reject(c.replay.capacity > 0 ? "replay_per_step" : "replay_capacity", "0",
             "replay needs both replay_capacity >= 1 and replay_per_step >= 1");
  }
  if (c.replay.enabled()) {
    if (c.method != Method::disa_online && c.method != Method::flowrl) {
      s.reject("replay_capacity", fmt::format("{}", c.replay.capacity),
               fmt::format("replay reuses on-policy groups with the tb head; method {} cannot (use disa-online or flowrl)",
                           to_string(c.method)));
    }
    if (c.mode != GradientMode::sampled) {
      s.reject("replay_capacity", fmt::format("{}", c.replay.capacity), "replay needs mode=sampled");
    }
    for (const std::string& entry : c.loss_settings) {
      if (entry.starts_with("weight=") && entry != "weight=none") {
        s.reject("loss.weight", entry.substr(7),
                 "replayed rows come from an older policy whose probabilities are not kept; replay needs weight=none");
      }
    }
  }
  for (const std::string& entry : c.loss_settings) {
    if (entry.starts_with("beta=")) {
      s.reject("loss.beta", entry.substr(5), "the head's beta is the run's beta; set beta=");
    }
  }
  head_objective(c);  // the head's options must parse (InputError naming them)
  return c;
}

loss::Objective head_objective(const TrainConfig& c) {
  std::vector<std::string> settings = c.loss_settings;
  std::string head;
  switch (c.method) {
    case Method::disa_offline:
    case Method::disa_online:
    case Method::flowrl:
      head = "tb";
      settings.push_back(fmt::format("beta={}", c.beta));
      break;
    case Method::grpo: head = "grpo"; break;
    case Method::gspo: head = "gspo"; break;
    case Method::sft: {
      head = "sft";
      // Exact expectations need a loss that is a mean of per-row terms (logit_gradient.h).
      bool has_mode = false;
      for (const std::string& e : settings) has_mode |= e.starts_with("loss_agg_mode=");
      if (!has_mode && c.mode == GradientMode::exact) settings.push_back("loss_agg_mode=seq-mean-token-sum");
      break;
    }
  }
  loss::Objective objective = loss::make_objective(head, settings);
  if (c.mode == GradientMode::exact && c.method == Method::sft) {
    const auto& o = std::get<loss::SftOptions>(objective.options);
    if (o.loss_agg_mode != loss::LossAggMode::seq_mean_token_sum) {
      throw InputError("train: loss.loss_agg_mode: mode=exact needs seq-mean-token-sum (a mean of per-row terms)");
    }
  }
  return objective;
}

std::vector<std::pair<std::string, std::string>> TrainConfig::list() const {
  std::vector<std::pair<std::string, std::string>> out = {
      {"method", to_string(method)},
      {"mode", to_string(mode)},
      {"beta", fmt::format("{}", beta)},
      {"steps", fmt::format("{}", steps)},
      {"seed", fmt::format("{}", seed)},
      {"optimizer", optimizer},
      {"learning_rate", fmt::format("{}", optimizer == "adam" ? adam.learning_rate : sgd.learning_rate)},
      {"momentum", fmt::format("{}", sgd.momentum)},
      {"beta1", fmt::format("{}", adam.beta1)},
      {"beta2", fmt::format("{}", adam.beta2)},
      {"adam_epsilon", fmt::format("{}", adam.epsilon)},
      {"group_size", fmt::format("{}", group_size)},
      {"offline_samples", fmt::format("{}", offline_samples)},
      {"proposal", proposal},
      {"log_z_error", fmt::format("{}", log_z_error)},
      {"estimate_log_z", estimate_log_z ? "true" : "false"},
      {"log_z_init_error", fmt::format("{}", log_z_init_error)},
      {"log_z_learning_rate", fmt::format("{}", log_z_learning_rate)},
      {"prompt_selection", selection.rule == PromptSelection::all       ? "all"
                           : selection.rule == PromptSelection::uniform ? "uniform"
                                                                        : "paced"},
      {"prompts_per_step", fmt::format("{}", selection.prompts_per_step)},
      {"paced_target", fmt::format("{}", selection.target_accuracy)},
      {"paced_width", fmt::format("{}", selection.width)},
      {"replay_capacity", fmt::format("{}", replay.capacity)},
      {"replay_per_step", fmt::format("{}", replay.per_step)},
      {"replay_priority", replay.priority == ReplayPriority::uniform ? "uniform" : "accuracy_error"},
      {"replay_alpha", fmt::format("{}", replay.alpha)}};
  for (const auto& [key, value] : loss::option_list(head_objective(*this))) out.emplace_back("loss." + key, value);
  return out;
}

}  // namespace disa::train
