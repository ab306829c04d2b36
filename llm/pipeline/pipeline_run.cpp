#include "llm/pipeline/pipeline_run.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "llm/model/model_config.h"
#include "llm/pipeline/anchor_stage.h"
#include "llm/pipeline/policy_trainer.h"
#include "llm/pipeline/prompt_task.h"
#include "llm/pipeline/propose.h"
#include "llm/pipeline/stage_files.h"
#include "llm/pretrain/model_presets.h"
#include "llm/pretrain/pretrain_run.h"
#include "src/input_error.h"
#include "src/key_value_list.h"

namespace disa::llm::pipeline {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Splits the pipeline's settings into the shared ones and each stage's "stage.key" ones.
struct SplitSettings {
  std::map<std::string, std::string> shared;
  std::map<std::string, std::vector<std::string>> stage;  // stage -> key=value
};

SplitSettings split(StageConfig& c) {
  SplitSettings s;
  for (const auto& [key, value] : c.given().items()) {
    const std::string v = value.get<std::string>();
    const auto dot = key.find('.');
    const std::string head = dot == std::string::npos ? "" : key.substr(0, dot);
    if (head == "propose" || head == "anchor" || head == "train" || head == "eval" || head == "pretrain") {
      s.stage[head].push_back(key.substr(dot + 1) + "=" + v);
    } else {
      s.shared[key] = v;
    }
  }
  return s;
}

}  // namespace

PipelineResult run_pipeline(const std::filesystem::path& out, const std::string& config_path,
                            const std::vector<std::string>& sets, const std::function<void(const std::string&)>& log,
                            const std::function<void(const std::string&, double, const std::string&)>& progress) {
  if (out.empty()) throw InputError("pipeline: --out is required");
  const auto start = Clock::now();
  StageConfig all = StageConfig::load("pipeline", config_path, sets);
  const SplitSettings given = split(all);
  // The shared keys, read and checked here (unknown ones rejected by finish()).
  StageConfig c = StageConfig::load("pipeline", "", [&] {
    std::vector<std::string> v;
    for (const auto& [k, value] : given.shared) v.push_back(k + "=" + value);
    return v;
  }());
  const std::string model_key = c.word("model", "");
  const std::string task = c.word("task", "countdown");
  const std::string data_dir = c.word("data_dir", "");
  // A math or code benchmark file is one split: its "held-out" prompts would be the ones
  // trained on. So its default is TASK:rl alone (labelled as the training prompts), and a
  // held-out row needs other benchmarks named in eval_tasks.
  check_task_name("task", task);
  const bool countdown = task == "countdown";
  if (!countdown && model_key.empty()) {
    // The in-house model is pretrained on Countdown alone (its tokenizer has Countdown's
    // characters only): it cannot read a benchmark's prompts.
    throw InputError(
        fmt::format("pipeline: task={} needs model=FOLDER (a Hugging Face model); the in-house model "
                    "pretrained without one knows Countdown only",
                    task));
  }
  const std::string eval_tasks = c.word("eval_tasks", countdown ? task + "," + task + ":rl" : task + ":rl");
  // HumanEval+ is HumanEval's 164 problems, in the same order, with more tests.
  const auto problems_of = [](const std::string& t) { return t == "humanevalplus" ? std::string("humaneval") : t; };
  for (const std::string& t : split_comma_list("pipeline", "eval_tasks", eval_tasks)) {
    check_task_name("eval_tasks", t.ends_with(":rl") ? t.substr(0, t.size() - 3) : t);
    if (t.ends_with(":rl") && t != task + ":rl") {
      // Checked now, not when eval reaches it after every method has trained.
      throw InputError(fmt::format("pipeline: eval_tasks names '{}', but the RL prompts are {}'s ('{}:rl')", t, task,
                                   task));
    }
    if (!countdown && problems_of(t) == problems_of(task)) {
      throw InputError(fmt::format("pipeline: eval_tasks names '{}', the problems trained on ({}): its prompts are "
                                   "the training prompts, not held-out ones; name '{}:rl', and other benchmarks for "
                                   "held-out rows (eval_tasks={}:rl,aime24,amc23)",
                                   t, task, task, task));
    }
  }
  const std::string methods = c.word("methods", "disa,flowrl,grpo,gspo,sft");
  const std::int64_t prompts = c.integer("prompts", 32, 1);
  const std::int64_t samples = c.integer("samples", 32, 1);
  const double proposal_temperature = c.number("proposal_temperature", 1.0, 0, kNoLimit, true);
  const double beta = c.number("beta", 3.0, 0, kNoLimit, true);
  const std::int64_t steps = c.integer("steps", 200, 1);
  const std::int64_t prompts_per_step = c.integer("prompts_per_step", 8, 1);
  const std::int64_t group_size = c.integer("group_size", 8, 1);
  const double lr = c.number("lr", 3e-4, 0, kNoLimit, true);
  const std::int64_t max_new_tokens = c.integer("max_new_tokens", 40, 1);  // propose, train and eval
  const std::int64_t lora_rank = c.integer("lora_rank", 8, 0);
  const std::int64_t eval_prompts = c.integer("eval_prompts", 32, 0);
  const std::int64_t k = c.integer("k", 16, 1);
  const std::int64_t seed = c.integer("seed", 1, 0);
  const std::int64_t threads = c.integer("threads", 1, 1, 256);
  const std::string device = c.choice("device", "cpu", {"cpu", "cuda"});
  const std::int64_t pretrain_steps = c.integer("pretrain_steps", 1500, 1);
  c.finish();
  // A stage key the user gives (train.max_new_tokens=6) replaces the pipeline's default.
  const auto stage_sets = [&](const std::string& stage, std::vector<std::string> defaults) {
    return given.stage.count(stage) ? override_key_values(std::move(defaults), given.stage.at(stage)) : defaults;
  };

  if (given.stage.count("pretrain")) {
    throw InputError("pipeline: pretrain.* keys are not supported; use pretrain_steps, or model=FOLDER for another model");
  }
  // Keys that wire one stage to another: set for one stage only, they split the run
  // (propose.reference=OTHER proposed and anchored with another model, then train refused
  // the trajectories, minutes or hours later; anchor.beta=2 likewise at train).
  const std::map<std::string, std::string> wired = {{"propose.reference", "model=FOLDER"},
                                                    {"train.reference", "model=FOLDER"},
                                                    {"anchor.trajectories", "shards via propose.shards_from"},
                                                    {"train.trajectories", "the pipeline's own"},
                                                    {"train.anchors", "the pipeline's own"},
                                                    {"eval.anchors", "the pipeline's own"},
                                                    {"eval.models", "methods=..."},
                                                    {"train.method", "methods=..."},
                                                    {"anchor.beta", "beta="},
                                                    {"train.beta", "beta="}};
  for (const auto& [stage, sets_of_stage] : given.stage) {
    for (const std::string& set : sets_of_stage) {
      const std::string key = stage + "." + set.substr(0, set.find('='));
      if (const auto found = wired.find(key); found != wired.end()) {
        throw InputError(fmt::format("pipeline: {}: the pipeline sets it for every stage that reads it; use {}",
                                     key + set.substr(set.find('=')), found->second));
      }
    }
  }
  const std::filesystem::path reference = model_key.empty() ? out / "base" : std::filesystem::path(model_key);
  const std::string common_threads = fmt::format("threads={}", threads);
  const std::string common_device = fmt::format("device={}", device);
  const std::string common_max_new_tokens = fmt::format("max_new_tokens={}", max_new_tokens);
  const std::vector<std::string> method_list = split_comma_list("pipeline", "methods", methods);
  if (method_list.empty()) throw InputError(fmt::format("pipeline: methods='{}' names no method", methods));
  for (std::size_t i = 0; i < method_list.size(); ++i) {
    if (std::find(method_list.begin(), method_list.begin() + i, method_list[i]) != method_list.begin() + i) {
      throw InputError(
          fmt::format("pipeline: methods={} names {} twice (each trains into train/METHOD)", methods, method_list[i]));
    }
  }

  // Every stage's options, read and checked before anything runs: a typo in eval.* or
  // train.loss.* is refused now, not after hours of proposing and training.
  StageConfig propose_config = StageConfig::load(
      "propose", "",
      stage_sets("propose", {"reference=" + reference.string(), "task=" + task, "data_dir=" + data_dir,
                             fmt::format("prompts={}", prompts), fmt::format("samples={}", samples),
                             fmt::format("temperature={}", proposal_temperature), fmt::format("seed={}", seed),
                             common_max_new_tokens, common_threads, common_device}));
  ProposeOptions propose = propose_options(propose_config);
  propose_config.finish();
  if (propose.shard_count > 1) {
    throw InputError(fmt::format("pipeline: propose.shard={}/{}: a shard writes part of the proposals, and anchor and "
                                 "train need them all; run the shards with `disa llm propose --set shard=m/M`, then "
                                 "the pipeline with propose.shards_from=THEIR_FOLDERS",
                                 propose.shard_index, propose.shard_count));
  }
  propose.out = out / "propose";
  StageConfig anchor_config = StageConfig::load(
      "anchor", "",
      stage_sets("anchor", {"trajectories=" + (out / "propose" / "trajectories.jsonl").string(),
                            fmt::format("beta={}", beta)}));
  AnchorOptions anchor = anchor_options(anchor_config);
  anchor_config.finish();
  anchor.out = out / "anchor";
  std::vector<TrainOptions> trains;
  for (const std::string& method : method_list) {
    std::vector<std::string> defaults{"method=" + method, "reference=" + reference.string(),
                                      "trajectories=" + (out / "propose" / "trajectories.jsonl").string(),
                                      "anchors=" + (out / "anchor" / "anchors.jsonl").string(), "task=" + task,
                                      "data_dir=" + data_dir, fmt::format("steps={}", steps),
                                      fmt::format("prompts_per_step={}", prompts_per_step),
                                      fmt::format("group_size={}", group_size), fmt::format("lr={}", lr),
                                      fmt::format("lora_rank={}", lora_rank), fmt::format("seed={}", seed),
                                      common_max_new_tokens, common_threads, common_device};
    // The anchors' beta is p*'s tilt, which only disa and disa-online train toward (the
    // other heads have none, or, FlowRL, a beta on the standardised advantage).
    if (method == "disa" || method == "disa-online") defaults.push_back(fmt::format("beta={}", beta));
    StageConfig s = StageConfig::load("train", "", stage_sets("train", defaults));
    trains.push_back(train_options(s));
    s.finish();
    trains.back().out = out / "train" / method;
    // Train refuses it too, but only after pretrain, propose and anchor have run.
    const TrainOptions& t = trains.back();
    if (is_offline_method(t.method) && t.group_size > propose.samples) {
      throw InputError(fmt::format("pipeline: train.group_size={} for {}: it draws each group without replacement "
                                   "from the {} proposal samples per prompt (samples={})",
                                   t.group_size, t.method, propose.samples, propose.samples));
    }
  }
  std::vector<std::pair<std::string, std::filesystem::path>> models{{"reference", reference}};
  for (const TrainOptions& t : trains) models.emplace_back(t.method, t.out / "policy");
  std::string model_list;
  for (const auto& [name, folder] : models) model_list += (model_list.empty() ? "" : ",") + name + "=" + folder.string();
  StageConfig eval_config = StageConfig::load(
      "eval", "",
      stage_sets("eval", {"models=" + model_list, "tasks=" + eval_tasks, "data_dir=" + data_dir,
                          fmt::format("prompts={}", eval_prompts), fmt::format("k={}", k), common_max_new_tokens,
                          "anchors=" + (out / "anchor" / "anchors.jsonl").string(), common_threads, common_device}));
  EvalOptions eval = eval_options(eval_config);
  eval_config.finish();
  eval.out = out / "eval";
  // Eval refuses a folder holding samples of another model list only when it is reached:
  // a method added to a finished pipeline was trained first (minutes to hours), then refused.
  if (std::filesystem::exists(eval.out / "options.json") && std::filesystem::exists(eval.out / "samples")) {
    const nlohmann::json made = read_json_file(eval.out / "options.json");
    std::set<std::string> before, now;  // sorted: the recorded object's key order is not the run's
    if (made.contains("options") && made["options"].contains("models") && made["options"]["models"].is_object()) {
      for (const auto& [name, folder] : made["options"]["models"].items()) before.insert(name);
    }
    for (const auto& [name, folder] : models) now.insert(name);
    if (before != now) {
      throw InputError(
          fmt::format("pipeline: '{}' holds the evaluation of models {}, and this run's are {}: eval "
                      "would refuse it after training; use another --out, or remove that eval folder",
                      eval.out.string(), fmt::join(before, ","), fmt::join(now, ",")));
    }
  }

  // Reference model.
  pretrain::RunOptions p;
  p.out = reference;
  p.training.steps = pretrain_steps;
  p.training.seed = static_cast<std::uint64_t>(seed);
  p.training.device = device;
  p.threads = static_cast<int>(threads);
  if (model_key.empty()) {
    // Train checks a model folder's config.json; the in-house one is not made yet.
    const ModelConfig in_house = pretrain::model_preset(p.training.model_size, pretrain::countdown_tokenizer());
    for (const TrainOptions& t : trains) {
      if (t.lora_rank > 0) check_lora_rank_fits("pipeline", t.lora_rank, in_house);
    }
  }
  if (model_key.empty() && std::filesystem::exists(reference / "eval.json")) {
    // A finished in-house model is reused only if it is this run's (pretrain_steps, seed):
    // else every later stage would build on another model than the one asked for.
    const nlohmann::json made = read_json_file(reference / "eval.json");
    const nlohmann::json wanted = nlohmann::json::parse(pretrain::training_fingerprint(p.training).dump());
    if (!made.contains("training") || made["training"] != wanted) {
      const std::string differs =
          made.contains("training") ? first_difference(made["training"], wanted).value_or("training") : "training";
      throw InputError(fmt::format("pipeline: '{}' holds an in-house model pretrained with other options ({}); use "
                                   "another --out or remove it",
                                   reference.string(), differs));
    }
  }
  if (model_key.empty() && !std::filesystem::exists(reference / "eval.json")) {
    log(fmt::format("[pipeline] pretraining the in-house reference model into {} ({} steps)", reference.string(),
                    pretrain_steps));
    const auto t = Clock::now();
    p.resume = std::filesystem::exists(reference / "checkpoint.pt");
    pretrain::run_pretraining(p, [&](const pretrain::StepMetrics& m, double) {
      progress("pretrain", static_cast<double>(m.step) / static_cast<double>(pretrain_steps),
               fmt::format("step {} loss {:.3f}", m.step, m.loss));
    });
    log(fmt::format("[pipeline] pretrain done in {:.0f} s", since(t)));
  }
  // Propose.
  {
    const auto t = Clock::now();
    const ProposeSummary r = run_propose(propose, [&](double f, const std::string& d) { progress("propose", f, d); });
    log(fmt::format("[pipeline] propose: {} prompts x {} samples, mean reward {:.3f} ({:.0f} s)", r.prompts,
                    propose.samples, r.mean_reward, since(t)));
  }
  // Anchor.
  {
    const AnchorSummary r = run_anchor(anchor);
    log(fmt::format(
        "[pipeline] anchor: {} prompts, {}, {} dropped; mean log Zhat of the kept {:.3f}, ESS/N {:.3f}; "
        "anchors {}",
        r.prompts, describe_unreliable(r), r.dropped, r.mean_log_z_hat, r.mean_ess_fraction, r.fingerprint));
  }
  // Train every method.
  for (const TrainOptions& o : trains) {
    const auto t = Clock::now();
    const TrainSummary r = run_train(o, [&](std::int64_t step, std::int64_t total, const nlohmann::ordered_json& line) {
      progress("train " + o.method, static_cast<double>(step) / static_cast<double>(total),
               fmt::format("step {}/{} loss {:.4g} acc {:.2f}", step, total, line.value("loss", 0.0),
                           line.value("accuracy", 0.0)));
    });
    log(fmt::format("[pipeline] train {}: {} steps ({:.0f} s)", o.method, r.steps_done, since(t)));
  }
  // Evaluate.
  PipelineResult result;
  {
    const auto t = Clock::now();
    result.rows = run_eval(eval, [&](double f, const std::string& d) { progress("eval", f, d); });
    log(fmt::format("[pipeline] eval: {} models x {} ({:.0f} s)", models.size(), eval_tasks, since(t)));
  }
  result.seconds = since(start);
  return result;
}

}  // namespace disa::llm::pipeline
