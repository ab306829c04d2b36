#include "llm/pipeline/policy_trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <variant>

#include <fmt/format.h>
#include <torch/torch.h>
#include <ATen/autocast_mode.h>
#include <torch/version.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include "llm/loss_autograd.h"
#include "llm/model/adamw_limits.h"
#include "llm/model/lora.h"
#include "llm/model/pretrained.h"
#include "llm/model/scorer.h"
#include "llm/pipeline/anchor_stage.h"
#include "llm/pipeline/data_parallel.h"
#include "llm/pipeline/loaded_model.h"
#include "llm/pipeline/rollout.h"
#include "llm/pipeline/stage_files.h"
#include "llm/pipeline/trajectory_file.h"
#include "src/atomic_file.h"
#include "src/counter_rng.h"
#include "src/input_error.h"
#include "src/json_strict.h"
#include "src/loss/diagnostics_merge.h"
#include "src/loss/objective.h"
#include "src/numerical_error.h"

namespace disa::llm::pipeline {
namespace {

bool needs_anchors(const std::string& method) { return method == "disa" || method == "disa-online"; }

bool autocast_on(const TrainOptions& o) { return o.bf16 && (o.device == "cuda" || o.bf16_on_cpu); }

loss::Objective objective_for(const TrainOptions& o) {
  std::vector<std::string> settings = o.loss_settings;
  const bool beta_given =
      std::any_of(settings.begin(), settings.end(), [](const std::string& s) { return s.rfind("beta=", 0) == 0; });
  if (o.method == "disa" || o.method == "disa-online") {
    if (!beta_given) settings.push_back(fmt::format("beta={}", o.beta));
    return loss::make_objective("tb", settings);
  }
  return loss::make_objective(o.method, settings);  // flowrl, grpo, gspo, sft: their own defaults
}

// The options that decide the result (not threads or world size, which do not move a bit).
// batch_size and device do, in the last bits (padding; the device's kernels), as propose
// and eval record them: a run resumed with another batch_size ended at weights neither
// batch gives uninterrupted (a review).
nlohmann::ordered_json fingerprint(const TrainOptions& o) {
  nlohmann::ordered_json f = {{"method", o.method},
                              {"reference", o.reference.string()},
                              {"reference_fingerprint", model_fingerprint(o.reference)},
                              {"trajectories", o.trajectories.string()},
                              {"trajectories_fingerprint", file_fingerprint(o.trajectories)},
                              {"anchors", o.anchors.string()},
                              {"anchors_fingerprint", o.anchors.empty() ? std::string() : file_fingerprint(o.anchors)},
                              {"task", o.task},
                              {"steps", o.steps},
                              {"prompts_per_step", o.prompts_per_step},
                              {"group_size", o.group_size},
                              {"micro_batch_prompts", o.micro_batch_prompts},
                              {"max_new_tokens", o.max_new_tokens},
                              {"lr", o.lr},
                              {"weight_decay", o.weight_decay},
                              {"grad_clip", o.grad_clip},
                              {"beta", o.beta},
                              {"logz_lr", o.logz_lr},
                              {"lora_rank", o.lora_rank},
                              {"lora_alpha", o.lora_alpha},
                              {"seed", o.seed},
                              {"bf16", o.bf16},  // autocast on CUDA changes the numbers; a resume must not switch it
                              {"loss", o.loss_settings},
                              {"batch_size", o.batch_size},
                              {"device", o.device}};
  // On-policy rollouts stop at the reference folder's stop ids, which come from
  // generation_config.json too (outside reference_fingerprint).
  if (!is_offline_method(o.method)) {
    f["stop_token_ids"] = stop_token_ids_of(o.reference);
    f["truncated_rollouts"] = kTruncatedRolloutsRule;
  }
  // Autocast is on only on CUDA (or with bf16_on_cpu): a CPU run resumed with device=cuda
  // (or back) would switch it mid-run. Recorded only when on, so CPU folders keep their options.
  if (autocast_on(o)) f["autocast"] = "bf16";
  // Offline draws read a stream of their own (kOfflineDrawTag); folders of the earlier
  // draws, which shared propose's sampling streams, are another run.
  if (is_offline_method(o.method)) f["offline_draw_stream"] = "tagged";
  // Recorded only when not one update per step, so the folders of earlier runs keep their options.
  if (o.mini_batches != 1 || o.ppo_epochs != 1) {
    f["mini_batches"] = o.mini_batches;
    f["ppo_epochs"] = o.ppo_epochs;
  }
  return f;
}

struct PromptData {
  std::string id;
  std::int64_t index = 0;
  std::vector<std::int32_t> tokens;
  std::vector<const Trajectory*> offline;
  double log_z = std::numeric_limits<double>::quiet_NaN();  // frozen anchor, NaN when none
};

struct Row {
  std::size_t prompt = 0;  // position in the prompt list
  std::vector<std::int32_t> continuation;
  std::vector<float> logp_old, logp_ref;
  double reward = 0;
};

// k distinct values of [0, n) by a partial Fisher-Yates shuffle driven by `rng`.
std::vector<std::size_t> draw_distinct(std::size_t n, std::size_t k, const CounterRng& rng) {
  std::vector<std::size_t> all(n);
  for (std::size_t i = 0; i < n; ++i) all[i] = i;
  k = std::min(k, n);
  for (std::size_t i = 0; i < k; ++i) {
    const auto j = i + static_cast<std::size_t>(rng.uniform(i) * static_cast<double>(n - i));
    std::swap(all[i], all[std::min(j, n - 1)]);
  }
  all.resize(k);
  return all;
}

torch::Tensor padded(const std::vector<Row>& rows, std::size_t begin, std::size_t end, std::int64_t width,
                     const std::vector<float> Row::*field) {
  torch::Tensor t = torch::zeros({static_cast<std::int64_t>(end - begin), width}, torch::kFloat32);
  auto a = t.accessor<float, 2>();
  for (std::size_t r = begin; r < end; ++r) {
    const std::vector<float>& v = rows[r].*field;
    for (std::size_t k = 0; k < v.size() && static_cast<std::int64_t>(k) < width; ++k) a[r - begin][k] = v[k];
  }
  return t;
}

// Under bf16 autocast the policy's log-probs carry bf16's rounding (a per-token standard
// deviation near 0.02 at Qwen's logit scale). Set against float32 log-probs of the sampler,
// the proposal or the reference, that rounding became the ratio and the residual: GSPO's
// 3e-4 clip range caught a third of the rows on rounding alone, FlowRL's weight moved by
// e^{+-0.6} on 1024-token rows, and DISA's first residual was not log Zhat - beta r. So
// the reference's log-probs come from the same autocast forward on the same micro-batch
// (`reference`: so the same padding, and at step 1 bit for bit the policy's); on-policy
// the policy's own, detached, are the old ones (each batch's rollouts come from this very
// policy, one update per batch, as verl recomputes old_log_prob with the actor); offline,
// a row proposed by q = pi_ref (log q equal to log pi_ref token for token) takes the
// reference's as its log q, while another proposal's log q stays as propose wrote it
// (float32: its weight pi/q then keeps bf16's rounding).
void use_logprobs_of_the_autocast_forward(LossTensors& t, const torch::Tensor& reference, const std::vector<Row>& rows,
                                          std::size_t begin, std::size_t end, bool offline) {
  t.logp_ref = reference;
  if (!offline) {
    t.logp_old = t.logp.detach();
    return;
  }
  for (std::size_t r = begin; r < end; ++r) {
    const auto i = static_cast<std::int64_t>(r - begin);
    if (rows[r].logp_old == rows[r].logp_ref) t.logp_old[i].copy_(reference[i]);
  }
}

// FlowRL's log Z_phi(x): a small MLP on frozen prompt features. Its first layer is drawn
// from the counter-based RNG keyed by the run's seed (LibTorch's default init reads the
// process-global generator, whose state depends on what ran before in the process), the
// output layer starts at zero so that log Z_phi = 0 at step 0.
struct LogZHeadImpl : torch::nn::Module {
  LogZHeadImpl(std::int64_t hidden, std::uint64_t seed) {
    first = register_module("first", torch::nn::Linear(hidden, 64));
    second = register_module("second", torch::nn::Linear(64, 1));
    torch::NoGradGuard no_grad;
    fill_normal(first->weight, seed, name_stream("logz_head.first.weight"), 0.0, 1.0 / std::sqrt(double(hidden)));
    first->bias.zero_();
    second->weight.zero_();
    second->bias.zero_();
  }
  torch::Tensor forward(const torch::Tensor& features) {
    return second->forward(torch::gelu(first->forward(features))).squeeze(-1);
  }
  torch::nn::Linear first{nullptr}, second{nullptr};
};
TORCH_MODULE(LogZHead);

// Autocast to bf16 for the forward on a device (CUDA; the CPU only when asked,
// bf16_on_cpu). PyTorch 2.4 renamed the autocast calls (per device type) and deprecated
// the old names; 1.13 has only those.
class AutocastScope {
 public:
  AutocastScope(bool on, torch::DeviceType type) : on_(on), type_(type) {
    if (on_) set_autocast(type_, true);
  }
  ~AutocastScope() {
    if (on_) {
      set_autocast(type_, false);
      at::autocast::clear_cache();
    }
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  static void set_autocast(torch::DeviceType type, bool enabled) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    if (enabled) at::autocast::set_autocast_dtype(type, at::kBFloat16);
    at::autocast::set_autocast_enabled(type, enabled);
#else
    if (type == torch::kCUDA) {
      if (enabled) at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
      at::autocast::set_enabled(enabled);
    } else {
      if (enabled) at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
      at::autocast::set_cpu_enabled(enabled);
    }
#endif
  }
  bool on_;
  torch::DeviceType type_;
};

void keep_log_lines_up_to(const std::filesystem::path& path, std::int64_t step) {
  if (!std::filesystem::exists(path)) return;
  std::ifstream in(path);
  std::string kept, line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.contains("step") && j["step"].get<std::int64_t>() <= step) kept += line + "\n";
  }
  write_file_atomically(path, [&](std::ostream& out) { out << kept; });
}

// Atomically, like every output: a killed copy must not leave a torn tokenizer.json.
void copy_if_exists(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (!std::filesystem::exists(from)) return;
  std::ifstream in(from, std::ios::binary);
  if (!in) throw InputError(fmt::format("train: cannot read '{}' to copy it beside the policy", from.string()));
  write_file_atomically(
      to, [&](std::ostream& out) { if (in.peek() != std::ifstream::traits_type::eof()) out << in.rdbuf(); },
      /*binary=*/true);
}

}  // namespace

bool is_offline_method(const std::string& method) { return method == "disa" || method == "sft"; }

std::vector<std::string> train_methods() { return {"disa", "disa-online", "flowrl", "grpo", "gspo", "sft"}; }

void check_lora_rank_fits(const std::string& stage, std::int64_t lora_rank, const ModelConfig& model) {
  const std::string problem = lora_rank_problem(model, LoraConfig{.rank = lora_rank});
  if (!problem.empty()) throw InputError(fmt::format("{}: lora_rank={}: {}", stage, lora_rank, problem));
}

TrainOptions train_options(StageConfig& c) {
  TrainOptions o;
  o.method = c.choice("method", "disa", train_methods());
  o.reference = canonical_stage_path(c.word("reference", ""));
  if (o.reference.empty()) throw InputError("train: reference (the reference model's folder) is required");
  o.trajectories = canonical_stage_path(c.word("trajectories", ""));
  if (o.trajectories.empty()) throw InputError("train: trajectories (the propose stage's trajectories.jsonl) is required");
  o.anchors = canonical_stage_path(c.word("anchors", ""));
  if (needs_anchors(o.method) && o.anchors.empty()) {
    throw InputError(fmt::format("train: method={} needs anchors (the anchor stage's anchors.jsonl)", o.method));
  }
  o.task = c.word("task", o.task);
  o.data_dir = canonical_stage_path(c.word("data_dir", ""));
  o.steps = c.integer("steps", o.steps, 1);
  o.prompts_per_step = c.integer("prompts_per_step", o.prompts_per_step, 1);
  o.group_size = c.integer("group_size", o.group_size, 1);
  o.micro_batch_prompts = c.integer("micro_batch_prompts", o.micro_batch_prompts, 0);
  o.mini_batches = c.integer("mini_batches", o.mini_batches, 1);
  if (o.mini_batches > o.prompts_per_step) {
    throw InputError(
        fmt::format("train: mini_batches={} is more than prompts_per_step={}: a mini-batch holds whole "
                    "prompt groups",
                    o.mini_batches, o.prompts_per_step));
  }
  o.ppo_epochs = c.integer("ppo_epochs", o.ppo_epochs, 1, 1000);
  o.max_new_tokens = c.integer("max_new_tokens", o.max_new_tokens, 1);
  o.batch_size = c.integer("batch_size", o.batch_size, 1);
  o.checkpoint_every = c.integer("checkpoint_every", o.checkpoint_every, 1);
  o.lr = c.number("lr", o.lr, 0, kNoLimit, true);
  o.weight_decay = c.number("weight_decay", o.weight_decay, 0, kNoLimit);
  // LibTorch's AdamW default beta1 0.9 (the optimisers below).
  if (const auto problem = adamw_learning_rate_problem(o.lr, 0.9, o.weight_decay)) {
    throw InputError(fmt::format("train: lr={} {}", o.lr, *problem));
  }
  o.grad_clip = c.number("grad_clip", o.grad_clip, 0, kNoLimit);
  // beta is the tilt of p* = pi_ref e^{beta r} / Z, which only disa and disa-online train
  // toward; accepted and ignored elsewhere, it would look like a setting it is not.
  if (c.given().contains("beta") && !needs_anchors(o.method)) {
    throw InputError(fmt::format(
        "train: beta={} is the tilt of p* that disa and disa-online train toward; method={} has none{}",
        c.given()["beta"].dump(), o.method,
        o.method == "flowrl" ? " (FlowRL's beta multiplies the group-standardised advantage: set it as loss.beta)" : ""));
  }
  o.beta = c.number("beta", o.beta, 0, kNoLimit, true);
  o.logz_lr = c.number("logz_lr", o.logz_lr, 0, adamw_max_learning_rate(0.9, 0), true);
  o.lora_rank = c.integer("lora_rank", o.lora_rank, 0);
  o.lora_alpha = c.number("lora_alpha", o.lora_alpha, 0, kNoLimit, true);
  // Checked now where the reference exists (the pipeline checks its in-house model's
  // preset before pretraining it), not after the model has loaded twice.
  if (o.lora_rank > 0 && std::filesystem::exists(std::filesystem::path(o.reference) / "config.json")) {
    check_lora_rank_fits("train", o.lora_rank, load_model_config(o.reference));
  }
  o.seed = static_cast<std::uint64_t>(c.integer("seed", 1, 0));
  o.threads = static_cast<int>(c.integer("threads", 1, 1, 256));
  o.device = c.choice("device", "cpu", {"cpu", "cuda"});
  o.bf16 = c.flag("bf16", true);
  o.bf16_on_cpu = c.flag("bf16_on_cpu", false);
  if (o.bf16_on_cpu && !o.bf16)
    throw InputError("train: bf16_on_cpu=true needs bf16=true (it autocasts on the CPU too)");
  o.stop_after = c.integer("stop_after", 0, 0);
  o.world_size = c.integer("world_size", 1, 1, 1024);
  o.rank = c.integer("rank", 0, 0, o.world_size - 1);
  o.rendezvous = c.word("rendezvous", "");
  if (o.world_size > 1 && o.rendezvous.empty()) {
    throw InputError("train: world_size > 1 needs rendezvous (a file path every rank can reach)");
  }
  o.loss_settings = c.take_loss_settings();
  // For disa and disa-online, beta is the trajectory-balance head's loss.beta: given both
  // ways, loss.beta won silently.
  for (const std::string& s : o.loss_settings) {
    if (needs_anchors(o.method) && c.given().contains("beta") && s.rfind("beta=", 0) == 0) {
      throw InputError(
          fmt::format("train: beta={} and loss.{} are the same tilt of p* for method={}: give one "
                      "(in `llm pipeline`, its beta= is disa's, and train.loss.beta, FlowRL's, cannot be "
                      "set while disa or disa-online trains beside it: run flowrl on its own)",
                      o.beta, s, o.method));
    }
  }
  objective_for(o);  // an unknown loss.KEY fails here, before any work
  return o;
}

CounterRng offline_draw_rng(std::uint64_t seed, std::int64_t step, std::int64_t prompt_index) {
  // A key of its own: with the bare seed, step 0's stream for prompt index i was the one
  // propose drew row i's tokens from (prompt 0's sample i), so which of prompt 0's
  // trajectories got picked depended on how its first one was sampled.
  constexpr std::uint64_t kOfflineDrawTag = 0x0ff11e0d7a3ull;  // "offline draw"
  return CounterRng(splitmix64(seed ^ kOfflineDrawTag),
                    (static_cast<std::uint64_t>(step) << 24) + static_cast<std::uint64_t>(prompt_index));
}

CounterRng prompt_selection_rng(std::uint64_t seed, std::int64_t step) {
  // Was CounterRng(seed, 0x5e1ec7000000 + step): propose's key, on a stream only far from
  // its rows (prompt x N + sample) by convention.
  constexpr std::uint64_t kPromptSelectionTag = 0x5e1ec7ed9a0e5ull;  // "selected prompts"
  return CounterRng(splitmix64(seed ^ kPromptSelectionTag), static_cast<std::uint64_t>(step));
}

std::uint64_t on_policy_sampling_seed(std::uint64_t seed, std::int64_t step) {
  // Was seed * 1000003 + step + 1, which (seed, step + 1000003) and (seed + 1, step) shared,
  // and which at seed 0 was propose's key for seed step + 1. Hashing the step into a
  // tagged key leaves any two (seed, step) pairs on keys that meet only by a 64-bit
  // collision.
  constexpr std::uint64_t kOnPolicyTag = 0x0a9011c75a3ull;  // "on-policy samples"
  return splitmix64(splitmix64(seed ^ kOnPolicyTag) + static_cast<std::uint64_t>(step));
}

TrainSummary run_train(const TrainOptions& o, const TrainProgress& progress) {
  if (o.out.empty()) throw InputError("train: --out is required");
  const auto start = std::chrono::steady_clock::now();
  const bool writer = o.rank == 0;  // rank 0 writes every file; the others only compute
  const nlohmann::ordered_json options = fingerprint(o);
  const loss::Objective objective = objective_for(o);

  // Prompts: those of the trajectory file, in its order; with anchors, those it can use.
  // Checked before the folder is claimed, so that a refused input leaves nothing that
  // would refuse the corrected rerun.
  const std::vector<Trajectory> trajectories = read_trajectories(o.trajectories);
  std::map<std::string, double> anchors;
  if (!o.anchors.empty()) {
    // disa and disa-online train toward log Zhat: it must be at the head's beta.
    const std::optional<double> beta =
        needs_anchors(o.method) ? std::optional(std::get<loss::TrajectoryBalanceOptions>(objective.options).beta)
                                : std::nullopt;
    anchors = usable_anchors(o.anchors, o.trajectories, beta);
  }
  // disa-online's anchors are log Z over completions capped at propose's max_new_tokens:
  // rollouts capped elsewhere would train toward another p* against them.
  if (o.method == "disa-online") {
    const std::filesystem::path record = o.trajectories.parent_path() / "propose.json";
    if (!std::filesystem::exists(record)) {
      throw InputError(fmt::format("train: method=disa-online needs the propose.json beside '{}' (written by `disa llm "
                                   "propose`), which says at what max_new_tokens the anchors' proposals were capped",
                                   o.trajectories.string()));
    }
    {
      const nlohmann::json made = read_json_file(record);
      const nlohmann::json cap = made.value("options", nlohmann::json::object()).value("max_new_tokens", nlohmann::json());
      if (!cap.is_number_integer() || cap.get<std::int64_t>() != o.max_new_tokens) {
        throw InputError(fmt::format("train: max_new_tokens={} but the anchors' trajectories were proposed with "
                                     "max_new_tokens={} ({}): disa-online's rollouts must end where the anchors' did",
                                     o.max_new_tokens, cap.dump(), record.string()));
      }
    }
  }
  // disa's rows carry the proposal's log pi_ref, and both disa methods' anchors are log Z
  // under that pi_ref: trained from another reference (base vs instruct, a model retrained
  // at the same path) they would move toward the first model's p*, silently.
  if (needs_anchors(o.method)) {
    const std::filesystem::path record = o.trajectories.parent_path() / "propose.json";
    if (std::filesystem::exists(record)) {
      const nlohmann::json made = read_json_file(record);
      const nlohmann::json proposed = made.is_object() ? made.value("options", nlohmann::json()) : nlohmann::json();
      const nlohmann::json proposed_with =
          proposed.is_object() ? proposed.value("reference_fingerprint", nlohmann::json()) : nlohmann::json();
      const std::string here = options.at("reference_fingerprint").get<std::string>();  // this run's, hashed once
      if (!proposed_with.is_string() || proposed_with.get<std::string>() != here) {
        throw InputError(fmt::format(
            "train: reference '{}' (fingerprint {}) is not the model the trajectories were proposed with ({}: "
            "options.reference_fingerprint = {}); method={} trains toward that model's p* (its log pi_ref and "
            "anchors): give its folder as reference, or propose and anchor again",
            o.reference.string(), here, record.string(), json_excerpt(proposed_with), o.method));
      }
    }
  }
  std::vector<PromptData> prompts;
  std::map<std::string, std::size_t> position;
  for (const Trajectory& t : trajectories) {
    if (!o.anchors.empty() && !anchors.count(t.prompt_id)) continue;
    auto [it, fresh] = position.try_emplace(t.prompt_id, prompts.size());
    if (fresh) {
      PromptData p;
      p.id = t.prompt_id;
      p.index = t.prompt_index;
      p.tokens = t.prompt_tokens;
      if (!o.anchors.empty()) p.log_z = anchors.at(t.prompt_id);
      prompts.push_back(std::move(p));
    }
    prompts[it->second].offline.push_back(&t);
  }
  if (prompts.empty()) throw InputError("train: no prompt to train on (every prompt's anchor was dropped?)");
  if (is_offline_method(o.method)) {
    // Offline groups are drawn without replacement from a prompt's N trajectories; a
    // larger group would quietly give this method fewer rows than the online ones.
    const auto smallest = std::min_element(prompts.begin(), prompts.end(), [](const PromptData& a, const PromptData& b) {
      return a.offline.size() < b.offline.size();
    });
    if (static_cast<std::size_t>(o.group_size) > smallest->offline.size()) {
      throw InputError(fmt::format("train: group_size={}: {} draws each group from a prompt's offline trajectories "
                                   "without replacement, and prompt '{}' has {} in '{}'",
                                   o.group_size, o.method, smallest->id, smallest->offline.size(),
                                   o.trajectories.string()));
    }
  }

  TrainSummary summary;
  summary.policy = o.out / "policy";
  if (writer) claim_stage_folder(o.out, "train", options);
  if (std::filesystem::exists(o.out / "train.json")) {  // finished before: nothing to do
    summary.finished = true;
    summary.steps_done = o.steps;
    return summary;
  }
  torch::set_num_threads(o.threads);
  const torch::Device device = parse_device(o.device);
  std::unique_ptr<GradientReducer> reducer;
  if (o.world_size > 1) reducer = make_gloo_reducer(o.rendezvous, o.rank, o.world_size);

  // Models: the frozen reference and the policy initialised at it.
  LoadedModel reference = load_model(o.reference, device);
  reference.model->eval();
  for (auto& p : reference.model->parameters()) p.set_requires_grad(false);
  LoadedModel policy = load_model(o.reference, device);
  std::vector<torch::Tensor> trainable;
  if (o.lora_rank > 0) {
    check_lora_rank_fits("train", o.lora_rank, policy.model->config());  // a reference made after train_options
    add_lora(*policy.model, LoraConfig{.rank = o.lora_rank, .alpha = o.lora_alpha}, o.seed);
    trainable = lora_parameters(*policy.model);
  } else {
    for (auto& p : policy.model->parameters()) {
      if (p.requires_grad()) trainable.push_back(p);
    }
  }
  auto optimizer = std::make_unique<torch::optim::AdamW>(
      trainable, torch::optim::AdamWOptions(o.lr).weight_decay(o.weight_decay));

  const auto task = make_task(o.task, o.reference, o.data_dir, *reference.tokenizer);
  std::vector<TaskPrompt> task_prompts;  // same order as `prompts`, for on-policy verification
  {
    std::int64_t largest = 0;
    for (const PromptData& p : prompts) largest = std::max(largest, p.index);
    std::map<std::string, TaskPrompt> by_id;
    for (TaskPrompt& t : task->prompts(PromptSplit::kTrain, largest + 1)) by_id[t.id] = std::move(t);
    for (const PromptData& p : prompts) {
      const auto found = by_id.find(p.id);
      if (found == by_id.end() || found->second.tokens != p.tokens) {
        throw InputError(fmt::format("train: prompt '{}' of the trajectories is not task {}'s prompt (other task or seed?)",
                                     p.id, o.task));
      }
      task_prompts.push_back(found->second);
    }
  }

  // FlowRL's log Z head on the reference's last-prompt-token hidden state.
  LogZHead logz_head{nullptr};
  std::unique_ptr<torch::optim::AdamW> logz_optimizer;
  torch::Tensor features;
  if (o.method == "flowrl") {
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> rows;
    for (const PromptData& p : prompts) {
      const torch::Tensor ids = torch::tensor(std::vector<std::int64_t>(p.tokens.begin(), p.tokens.end())).unsqueeze(0);
      rows.push_back(reference.model->hidden_states(ids.to(device)).select(1, ids.size(1) - 1).to(torch::kFloat32));
    }
    features = torch::cat(rows, 0);
    logz_head = LogZHead(features.size(1), o.seed);
    logz_head->to(device);
    logz_optimizer = std::make_unique<torch::optim::AdamW>(logz_head->parameters(),
                                                           torch::optim::AdamWOptions(o.logz_lr).weight_decay(0));
  }

  // Resume.
  std::int64_t step = 0, samples_total = 0;
  const auto checkpoint = o.out / "checkpoint.pt";
  if (std::filesystem::exists(checkpoint)) {
    torch::serialize::InputArchive a, oa, za, zoa;
    a.load_from(checkpoint.string());
    torch::Tensor s, n;
    a.read("step", s);
    a.read("samples_total", n);
    step = s.item<std::int64_t>();
    samples_total = n.item<std::int64_t>();
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < trainable.size(); ++i) {
      torch::Tensor t;
      a.read(fmt::format("param_{}", i), t);
      trainable[i].copy_(t);
    }
    a.read("optimizer", oa);
    optimizer->load(oa);
    if (logz_head) {
      a.read("logz_head", za);
      logz_head->load(za);
      a.read("logz_optimizer", zoa);
      logz_optimizer->load(zoa);
    }
    if (writer) keep_log_lines_up_to(o.out / "steps.jsonl", step);
  } else if (writer) {
    write_file_atomically(o.out / "steps.jsonl", [](std::ostream&) {});
  }
  // An update can leave finite-looking weights whose logits overflow (lr 1e30: weights
  // ~1e30, logits NaN). The next step's NaN check would see it, but the last step has
  // none, and a checkpoint would overwrite the last good one: so before anything is
  // saved, the weights are checked and one forward pass of the first prompt must give
  // finite logits. Stops with the step; nothing is written.
  std::int64_t checked_at = -1;  // the step whose weights were last checked: the last step saves twice
  const auto check_policy_is_finite = [&]() {
    if (checked_at == step) return;
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < trainable.size(); ++i) {
      if (!torch::isfinite(trainable[i]).all().item<bool>()) {
        throw NumericalError(fmt::format("train: step {}: trainable tensor {} is not finite after the update (lr {}); "
                                         "stopped before saving",
                                         step, i, o.lr));
      }
    }
    const auto& tokens = prompts.front().tokens;
    const torch::Tensor ids =
        torch::tensor(std::vector<std::int64_t>(tokens.begin(), tokens.end())).unsqueeze(0).to(device);
    const torch::Tensor logits = policy.model->forward(ids);
    if (!torch::isfinite(logits).all().item<bool>()) {
      throw NumericalError(fmt::format("train: step {}: the updated policy's logits on prompt '{}' are not finite "
                                       "(lr {}); stopped before saving",
                                       step, prompts.front().id, o.lr));
    }
    checked_at = step;
  };
  const auto save_checkpoint = [&]() {
    check_policy_is_finite();  // on every rank (same weights): none waits in an all-reduce for a rank that stopped
    if (!writer) return;
    torch::serialize::OutputArchive a, oa, za, zoa;
    a.write("step", torch::tensor(step, torch::kInt64));
    a.write("samples_total", torch::tensor(samples_total, torch::kInt64));
    for (std::size_t i = 0; i < trainable.size(); ++i) a.write(fmt::format("param_{}", i), trainable[i].detach().cpu());
    optimizer->save(oa);
    a.write("optimizer", oa);
    if (logz_head) {
      logz_head->save(za);
      a.write("logz_head", za);
      logz_optimizer->save(zoa);
      a.write("logz_optimizer", zoa);
    }
    write_file_atomically(checkpoint, [&](std::ostream& out) { a.save_to(out); }, /*binary=*/true);
  };

  const bool autocast = autocast_on(o);
  const std::size_t per_step = static_cast<std::size_t>(std::min<std::int64_t>(o.prompts_per_step, prompts.size()));
  if (static_cast<std::size_t>(o.mini_batches) > per_step) {
    throw InputError(
        fmt::format("train: mini_batches={} but a step has only {} prompts ({} usable in '{}'): a "
                    "mini-batch holds whole prompt groups",
                    o.mini_batches, per_step, prompts.size(), o.trajectories.string()));
  }
  const std::size_t micro = o.micro_batch_prompts > 0 ? static_cast<std::size_t>(o.micro_batch_prompts) : per_step;
  // The step's groups (positions in `chosen`): mini-batch j is [mini_begin[j], mini_begin[j+1])
  // (sizes differ by at most one, as numpy's array_split), cut into micro-batches of
  // `micro` groups; one mini-batch, the whole step, when mini_batches = 1.
  const std::size_t minis = static_cast<std::size_t>(o.mini_batches);
  const std::size_t updates = minis * static_cast<std::size_t>(o.ppo_epochs);
  std::vector<std::size_t> mini_begin;
  for (std::size_t j = 0; j <= minis; ++j) mini_begin.push_back(j * (per_step / minis) + std::min(j, per_step % minis));
  struct MicroBatch {
    std::size_t mini, first_group, end_group;
  };
  std::vector<MicroBatch> micro_batches;
  std::vector<std::size_t> micro_batch_of_group(per_step);
  for (std::size_t j = 0; j < minis; ++j) {
    for (std::size_t g = mini_begin[j]; g < mini_begin[j + 1]; g += micro) {
      const std::size_t end = std::min(mini_begin[j + 1], g + micro);
      for (std::size_t h = g; h < end; ++h) micro_batch_of_group[h] = micro_batches.size();
      micro_batches.push_back({j, g, end});
    }
  }
  std::ofstream log_file;
  if (writer) log_file.open(o.out / "steps.jsonl", std::ios::app);
  // Rank r computes micro-batches r, r + W, ... (numbered over the step, mini-batch by mini-batch).
  const auto owns_micro_batch = [&](std::size_t k) {
    return static_cast<std::int64_t>(k % static_cast<std::size_t>(o.world_size)) == o.rank;
  };
  // A rank whose rollouts or micro-batches throw (a policy that gives NaN on its prompts
  // only) still joins the step's all-reduce, so every rank stops there together.
  RankFailure failure(reducer != nullptr);
  // Where no all-reduce of a step follows (the last step, stop_after), one more carries
  // the failures: a checkpoint rank 0 failed to write stops every rank, not rank 0 alone.
  const auto agree_on_failures = [&] {
    if (!reducer) return failure.rethrow_if_failed();
    std::vector<double> counts;
    failure.append_counts(counts);
    std::vector<torch::Tensor> none;
    reducer->all_reduce_sum(none, counts);
    failure.stop_if_any_failed(counts, step);
  };
  while (step < o.steps) {
    const auto step_start = std::chrono::steady_clock::now();
    std::size_t rollouts_here = 0;  // on-policy rollouts this rank sampled
    const std::vector<std::size_t> chosen = draw_distinct(prompts.size(), per_step, prompt_selection_rng(o.seed, step));

    // Rows of this step, grouped by prompt (in `chosen` order).
    std::vector<Row> rows;
    std::vector<std::size_t> group_begin;  // rows of chosen[g] are [group_begin[g], group_begin[g+1])
    if (is_offline_method(o.method)) {
      for (const std::size_t p : chosen) {
        group_begin.push_back(rows.size());
        const auto& pool = prompts[p].offline;
        const CounterRng rng = offline_draw_rng(o.seed, step, prompts[p].index);
        for (const std::size_t k : draw_distinct(pool.size(), static_cast<std::size_t>(o.group_size), rng)) {
          const Trajectory& t = *pool[k];
          rows.push_back({p, t.tokens, t.logq, t.logp_ref, t.reward});
        }
      }
    } else {
      // Each rank samples and scores only its own micro-batches' prompts; the other rows
      // stay empty placeholders here. A rollout is a function of (model, prompt index,
      // sample, seed) alone (rollout.h), so these are the rows one process would draw.
      const std::size_t G = static_cast<std::size_t>(o.group_size);
      std::vector<TaskPrompt> batch;
      std::vector<std::size_t> batch_group;  // batch[k] is chosen[batch_group[k]]
      for (std::size_t g = 0; g < chosen.size(); ++g) {
        group_begin.push_back(g * G);
        for (std::size_t j = 0; j < G; ++j) rows.push_back({chosen[g], {}, {}, {}, 0.0});
        if (owns_micro_batch(micro_batch_of_group[g])) {
          batch.push_back(task_prompts[chosen[g]]);
          batch_group.push_back(g);
        }
      }
      failure.run([&] {
        torch::NoGradGuard no_grad;
        SamplingOptions sampling{
            .temperature = 1.0, .max_new_tokens = o.max_new_tokens, .seed = on_policy_sampling_seed(o.seed, step)};
        const std::vector<Rollout> rollouts = batch.empty()
                                                  ? std::vector<Rollout>{}
                                                  : roll_out(*policy.model, *policy.tokenizer, policy.stop_ids, *task,
                                                             batch, o.group_size, sampling, o.batch_size, "group_size");
        std::vector<ScoreRequest> requests;
        for (const Rollout& r : rollouts) requests.push_back({batch[r.prompt].tokens, r.completion.tokens});
        // Under autocast the reference is scored with the policy's forward below, per micro-batch.
        std::vector<std::vector<float>> ref;
        if (autocast) {
          for (const ScoreRequest& q : requests) ref.emplace_back(q.continuation.size(), 0.0f);
        } else if (!requests.empty()) {
          ref = score(*reference.model, requests, o.batch_size);
        }
        for (std::size_t i = 0; i < rollouts.size(); ++i) {
          const Rollout& r = rollouts[i];
          rows[batch_group[r.prompt] * G + r.sample] = {chosen[batch_group[r.prompt]], r.completion.tokens,
                                                        r.completion.model_logprobs, ref[i], r.verdict.reward};
        }
        rollouts_here = rollouts.size();
      });
    }
    group_begin.push_back(rows.size());

    // Forward/backward per micro-batch of whole groups; rank r takes micro-batches r, r + W, ...
    policy.model->train();
    // Each micro-batch's loss is weighted by D_m / D, its share of the objective's
    // normaliser over its update's mini-batch (loss_denominator: rows, non-empty rows,
    // tokens or the padded width), so the sum is the one-batch loss and gradient of the
    // mini-batch for every head and aggregation mode. Rewards as the head sees them
    // (float), for sft's filter.
    std::vector<std::size_t> lengths(rows.size());
    std::vector<double> rewards(rows.size());
    for (std::size_t r = 0; r < rows.size(); ++r) {
      lengths[r] = rows[r].continuation.size();
      rewards[r] = static_cast<double>(static_cast<float>(rows[r].reward));
    }
    if (reducer && !is_offline_method(o.method)) {
      // Other ranks' rows are placeholders (length 0, reward 0) here: one sum over the
      // ranks gives every rank the step's lengths and rewards, hence the same D.
      std::vector<double> shared(2 * rows.size());
      for (std::size_t r = 0; r < rows.size(); ++r) shared[r] = double(lengths[r]), shared[rows.size() + r] = rewards[r];
      failure.append_counts(shared);
      std::vector<torch::Tensor> no_tensors;
      reducer->all_reduce_sum(no_tensors, shared);
      failure.stop_if_any_failed(shared, step + 1);
      for (std::size_t r = 0; r < rows.size(); ++r) {
        lengths[r] = static_cast<std::size_t>(shared[r]), rewards[r] = shared[rows.size() + r];
      }
    }
    auto denominator = [&](std::size_t begin, std::size_t end) {
      std::size_t width = 1;  // the padded width continuation_logprobs gives these rows in one batch
      for (std::size_t r = begin; r < end; ++r) width = std::max(width, lengths[r]);
      return loss::loss_denominator(objective, std::span(lengths).subspan(begin, end - begin),
                                    std::span(rewards).subspan(begin, end - begin), width);
    };
    // Micro-batch k's rows, [begin, end).
    const auto rows_of = [&](std::size_t k) {
      return std::pair{group_begin[micro_batches[k].first_group], group_begin[micro_batches[k].end_group]};
    };
    // As score() does for the float32 path, a non-finite value is a numerical failure
    // (exit 1), not the bad input the loss head would call a NaN log-prob.
    const auto reference_logprobs_under_autocast = [&](const std::vector<ScoreRequest>& requests) {
      torch::NoGradGuard no_grad;
      torch::Tensor logprobs;
      {
        AutocastScope scope(true, device.type());
        logprobs = continuation_logprobs(*reference.model, requests).logprobs.to(torch::kFloat32);
      }
      if (!torch::isfinite(logprobs).all().item<bool>()) {
        throw NumericalError(
            fmt::format("train: step {}: the reference's log-probs under bf16 autocast are not finite", step + 1));
      }
      return logprobs;
    };
    const auto requests_of = [&](std::size_t begin, std::size_t end) {
      std::vector<ScoreRequest> requests;
      for (std::size_t r = begin; r < end; ++r)
        requests.push_back({prompts[rows[r].prompt].tokens, rows[r].continuation});
      return requests;
    };
    // Under autocast with more than one update, the old and the reference log-probs are
    // those of use_logprobs_of_the_autocast_forward, taken before the first update (the
    // policy that sampled) on the micro-batches the updates use, so the same padding.
    if (autocast && updates > 1 && o.method != "sft") {  // sft reads neither
      failure.run([&] {
        torch::NoGradGuard no_grad;
        for (std::size_t k = 0; k < micro_batches.size(); ++k) {
          if (!owns_micro_batch(k)) continue;
          const auto [begin, end] = rows_of(k);
          if (std::all_of(lengths.begin() + begin, lengths.begin() + end, [](std::size_t n) { return n == 0; })) {
            continue;  // no token to score (and no update reads these rows' log-probs)
          }
          const std::vector<ScoreRequest> requests = requests_of(begin, end);
          const bool offline = is_offline_method(o.method);
          torch::Tensor own;
          if (!offline) {  // offline rows keep their log q (or take the reference's): the policy's are not read
            {
              AutocastScope scope(true, device.type());
              own = continuation_logprobs(*policy.model, requests).logprobs.to(torch::kFloat32).cpu();
            }
            if (!torch::isfinite(own).all().item<bool>()) {
              throw NumericalError(
                  fmt::format("train: step {}: the policy's log-probs under bf16 autocast are not finite", step + 1));
            }
          }
          const torch::Tensor reference_logprobs = reference_logprobs_under_autocast(requests).cpu();
          LossTensors t;
          t.logp = own;
          t.logp_old = padded(rows, begin, end, reference_logprobs.size(1), &Row::logp_old);
          use_logprobs_of_the_autocast_forward(t, reference_logprobs, rows, begin, end, offline);
          const auto old_rows = t.logp_old.accessor<float, 2>(), ref_rows = t.logp_ref.accessor<float, 2>();
          for (std::size_t r = begin; r < end; ++r) {
            const auto i = static_cast<std::int64_t>(r - begin);
            rows[r].logp_old.resize(rows[r].continuation.size());
            rows[r].logp_ref.resize(rows[r].continuation.size());
            for (std::size_t n = 0; n < rows[r].continuation.size(); ++n) {
              rows[r].logp_old[n] = old_rows[i][static_cast<std::int64_t>(n)];
              rows[r].logp_ref[n] = ref_rows[i][static_cast<std::int64_t>(n)];
            }
          }
        }
      });
    }
    const double total_rows = static_cast<double>(rows.size());
    // A mini-batch whose normaliser D is 0 (sft with no kept row, no valid token at all)
    // has nothing to learn from: it takes no update (AdamW would still move the weights by
    // its momentum and count a step). D is every rank's (lengths and rewards are shared).
    std::vector<double> mini_denominator(minis);
    std::size_t applied_minis = 0, applied_tokens = 0, applied_rows = 0;
    for (std::size_t j = 0; j < minis; ++j) {
      const std::size_t begin = group_begin[mini_begin[j]], end = group_begin[mini_begin[j + 1]];
      mini_denominator[j] = denominator(begin, end);
      if (mini_denominator[j] > 0) {
        ++applied_minis;
        applied_rows += end - begin;
        for (std::size_t r = begin; r < end; ++r) applied_tokens += lengths[r];
      }
    }
    const std::size_t applied_updates = applied_minis * static_cast<std::size_t>(o.ppo_epochs);
    const double epochs = static_cast<double>(o.ppo_epochs);
    // Summed over the step's updates; the log shows their means.
    double loss_sum = 0, grad_norm_sum = 0, reward_sum = 0, length_sum = 0, c_sum = 0, log_z_phi_sum = 0;
    std::size_t updates_taken = 0;             // applied_updates, counted as they are taken
    loss::DiagnosticsMerge diagnostics_merge;  // every update's micro-batches' diagnostics, merged as the step's
    failure.run([&] {
      for (std::size_t k = 0; k < micro_batches.size(); ++k) {
        if (!owns_micro_batch(k)) continue;
        const auto [begin, end] = rows_of(k);
        for (std::size_t r = begin; r < end; ++r) {
          reward_sum += rows[r].reward;
          length_sum += static_cast<double>(rows[r].continuation.size());
        }
        // FlowRL's log Z_phi over the step's rows before its first update (each update
        // reads the head the ones before it moved).
        if (o.method == "flowrl") {
          torch::NoGradGuard no_grad;
          std::vector<std::int64_t> feature_rows;
          std::vector<float> log_z;
          for (std::size_t r = begin; r < end; ++r) {
            feature_rows.push_back(static_cast<std::int64_t>(rows[r].prompt));
            log_z.push_back(static_cast<float>(prompts[rows[r].prompt].log_z));
          }
          const torch::Tensor log_z_phi =
              logz_head->forward(features.index_select(0, torch::tensor(feature_rows).to(device)));
          log_z_phi_sum += log_z_phi.sum().item<double>();
          if (!o.anchors.empty()) c_sum += (log_z_phi.cpu() - torch::tensor(log_z)).sum().item<double>();
        }
      }
    });
    for (std::size_t update = 0; update < updates; ++update) {
      const std::size_t mini = update % minis;
      if (mini_denominator[mini] == 0.0) continue;
      optimizer->zero_grad();
      if (logz_optimizer) logz_optimizer->zero_grad();
      double update_loss = 0;
      failure.run([&] {
        for (std::size_t k = 0; k < micro_batches.size(); ++k) {
          if (micro_batches[k].mini != mini || !owns_micro_batch(k)) continue;
          const auto [begin, end] = rows_of(k);
          std::size_t micro_width = 1, micro_tokens = 0;
          for (std::size_t r = begin; r < end; ++r) {
            micro_width = std::max(micro_width, lengths[r]);
            micro_tokens += lengths[r];
          }
          // D_m = 0 (sft with no kept row here): nothing to learn from here.
          const double share = denominator(begin, end) / mini_denominator[mini];
          if (share == 0.0) continue;
          const std::vector<ScoreRequest> requests = requests_of(begin, end);
          ContinuationLogprobs lp;
          {
            AutocastScope scope(autocast, device.type());
            lp = continuation_logprobs(*policy.model, requests);
          }
          // A policy an update broke (weights ~1e30 after lr 1e30) gives NaN here first: a
          // numerical failure of training (exit 1), not the bad input (exit 2) the loss head
          // would call a NaN log-prob.
          if (!torch::isfinite(lp.logprobs).all().item<bool>()) {
            throw NumericalError(
                fmt::format("train: step {}: the policy's log-probs are not finite (the last update "
                            "diverged? lr {})",
                            step + 1, o.lr));  // `step` counts the steps done
          }
          const std::int64_t width = lp.logprobs.size(1);
          LossTensors t;
          t.logp = lp.logprobs.to(torch::kFloat32);
          t.mask = lp.mask;
          t.logp_old = padded(rows, begin, end, width, &Row::logp_old).to(device);
          t.logp_ref = padded(rows, begin, end, width, &Row::logp_ref).to(device);
          if (autocast && updates == 1) {
            use_logprobs_of_the_autocast_forward(t, reference_logprobs_under_autocast(requests), rows, begin, end,
                                                 is_offline_method(o.method));
          }
          std::vector<float> reward, log_z;
          std::vector<std::int64_t> group;
          std::vector<std::int64_t> feature_rows;
          for (std::size_t r = begin; r < end; ++r) {
            reward.push_back(static_cast<float>(rows[r].reward));
            group.push_back(static_cast<std::int64_t>(rows[r].prompt));
            log_z.push_back(static_cast<float>(prompts[rows[r].prompt].log_z));
            feature_rows.push_back(static_cast<std::int64_t>(rows[r].prompt));
          }
          t.reward = torch::tensor(reward).to(device);
          t.group = torch::tensor(group).to(device);
          if (o.method == "flowrl") {
            t.log_z = logz_head->forward(features.index_select(0, torch::tensor(feature_rows).to(device)));
          } else if (o.method == "disa" || o.method == "disa-online") {
            t.log_z = torch::tensor(log_z).to(device);
          }
          if (width != static_cast<std::int64_t>(micro_width)) {
            throw std::logic_error(
                fmt::format("policy_trainer: scorer width {} != longest continuation {}", width, micro_width));
          }
          loss::Diagnostics diagnostics;
          const torch::Tensor l = llm::loss(objective, t, &diagnostics) * share;
          l.backward();
          update_loss += l.item<double>();
          // Shares of the step's updates: loss terms averaged over updates, token and row
          // means over the updates' tokens and rows in every epoch.
          diagnostics_merge.add(diagnostics.scalars,
                                {share / static_cast<double>(applied_updates),
                                 applied_tokens > 0 ? double(micro_tokens) / (double(applied_tokens) * epochs) : 0.0,
                                 double(end - begin) / (double(applied_rows) * epochs)});
        }
      });
      std::vector<torch::Tensor> gradients;
      for (auto& p : trainable) {
        gradients.push_back(p.grad().defined() ? p.grad() : (p.mutable_grad() = torch::zeros_like(p)));
      }
      if (logz_head) {
        for (auto& p : logz_head->parameters()) {
          gradients.push_back(p.grad().defined() ? p.grad() : (p.mutable_grad() = torch::zeros_like(p)));
        }
      }
      if (reducer) {
        std::vector<double> sums{update_loss};
        failure.append_counts(sums);
        reducer->all_reduce_sum(gradients, sums);
        failure.stop_if_any_failed(sums, step + 1);
        update_loss = sums[0];
      }
      const double grad_norm = o.grad_clip > 0 ? torch::nn::utils::clip_grad_norm_(trainable, o.grad_clip)
                                               : torch::norm(torch::stack([&] {
                                                   std::vector<torch::Tensor> n;
                                                   for (auto& p : trainable) n.push_back(p.grad().norm());
                                                   return n;
                                                 }()))
                                                     .item<double>();
      if (!std::isfinite(update_loss) || !std::isfinite(grad_norm)) {
        throw NumericalError(
            fmt::format("train: step {}{} has loss {} and gradient norm {} (method {}); stopped before "
                        "the update",
                        step + 1, updates > 1 ? fmt::format(" (update {} of {})", update + 1, updates) : "",
                        update_loss, grad_norm, o.method));
      }
      optimizer->step();
      if (logz_optimizer) logz_optimizer->step();
      loss_sum += update_loss;
      grad_norm_sum += grad_norm;
      ++updates_taken;
    }
    if (reducer) {
      std::vector<double> sums{reward_sum, length_sum, c_sum, log_z_phi_sum};
      const std::vector<double> diagnostic_sums = diagnostics_merge.sums();
      sums.insert(sums.end(), diagnostic_sums.begin(), diagnostic_sums.end());
      failure.append_counts(sums);
      std::vector<torch::Tensor> no_tensors;
      reducer->all_reduce_sum(no_tensors, sums);
      failure.stop_if_any_failed(sums, step + 1);
      reward_sum = sums[0], length_sum = sums[1], c_sum = sums[2], log_z_phi_sum = sums[3];
      std::vector<double> maxima = diagnostics_merge.maxima();
      reducer->all_reduce_max(maxima);
      diagnostics_merge.set_reduced(std::vector<double>(sums.begin() + 4, sums.end()), maxima);
    }
    ++step;
    samples_total += static_cast<std::int64_t>(rows.size());

    nlohmann::ordered_json line;
    line["step"] = step;
    // Means over the step's updates (0 when none had anything to learn from); grad_norm before clipping.
    line["loss"] = updates_taken > 0 ? loss_sum / static_cast<double>(updates_taken) : 0.0;
    line["grad_norm"] = updates_taken > 0 ? grad_norm_sum / static_cast<double>(updates_taken) : 0.0;
    line["accuracy"] = reward_sum / total_rows;
    line["mean_length"] = length_sum / total_rows;
    line["samples"] = rows.size();
    line["samples_total"] = samples_total;
    line["updates"] = updates_taken;
    if (!is_offline_method(o.method)) line["rollouts_this_rank"] = rollouts_here;  // rank 0's; the step's / W with W ranks
    for (const auto& [name, value] : diagnostics_merge.result()) line[name] = value;
    if (o.method == "flowrl") {
      line["log_z_phi_mean"] = log_z_phi_sum / total_rows;
      if (!o.anchors.empty()) line["c_t"] = c_sum / total_rows;  // mean of log Z_phi - log Zhat (frozen IS anchor)
    }
    line["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - step_start).count();
    if (writer) {
      log_file << line.dump() << '\n';
      log_file.flush();
    }
    if (progress) progress(step, o.steps, line);
    // A checkpoint rank 0 fails to write stops the others at the next step's all-reduce.
    if (step % o.checkpoint_every == 0 || step == o.steps) failure.run(save_checkpoint);
    if (o.stop_after > 0 && step >= o.stop_after && step < o.steps) {
      failure.run(save_checkpoint);
      agree_on_failures();
      summary.steps_done = step;
      summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      return summary;
    }
  }

  agree_on_failures();
  summary.steps_done = step;
  summary.finished = true;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  policy.model->eval();
  check_policy_is_finite();  // every rank, as above
  if (writer) {
    if (o.lora_rank > 0) merge_lora(*policy.model);
    save_pretrained(*policy.model, summary.policy, {{"disa_method", o.method}});
    // generation_config.json too: the policy then stops where its reference does.
    for (const char* f : {"tokenizer.json", "tokenizer_config.json", "generation_config.json", "task.json"}) {
      copy_if_exists(o.reference / f, summary.policy / f);
    }
    nlohmann::ordered_json record{{"stage", "train"},
                                  {"options", options},
                                  {"steps", step},
                                  {"samples_total", samples_total},
                                  {"seconds_last_invocation", summary.seconds},
                                  {"world_size", o.world_size},
                                  {"policy", summary.policy.string()}};
    write_json_atomically(o.out / "train.json", record);
  }
  return summary;
}

}  // namespace disa::llm::pipeline
