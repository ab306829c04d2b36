#include "llm/pretrain/trainer.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <fstream>
#include <numbers>
#include <sstream>

#include <fmt/format.h>
#include <torch/cuda.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include "llm/model/adamw_limits.h"
#include "llm/model/pretrained.h"
#include "llm/pretrain/model_presets.h"
#include "src/atomic_file.h"
#include "src/input_error.h"
#include "src/numerical_error.h"

namespace disa::llm::pretrain {
namespace {

torch::Device device_of(const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  if (name == "cuda") {
    if (!torch::cuda::is_available()) throw InputError("--device = cuda: this LibTorch build sees no CUDA device");
    return torch::kCUDA;
  }
  throw InputError(fmt::format("--device = '{}': expected cpu or cuda", name));
}

constexpr int kMetricColumns = 5;  // step, loss, lr, grad_norm, tokens
constexpr double kAdamBeta1 = 0.9, kAdamBeta2 = 0.98;

}  // namespace

void validate(const PretrainOptions& o) {
  countdown::validate(o.task);
  if (o.steps <= 0) throw InputError(fmt::format("--steps = {} must be positive", o.steps));
  if (o.batch_size <= 0) throw InputError(fmt::format("--batch-size = {} must be positive", o.batch_size));
  if (!(o.learning_rate > 0) || !std::isfinite(o.learning_rate)) {
    throw InputError(fmt::format("--lr = {} must be a positive number", o.learning_rate));
  }
  if (const auto problem = adamw_learning_rate_problem(o.learning_rate, kAdamBeta1, o.weight_decay)) {
    throw InputError(fmt::format("--lr = {} {}", o.learning_rate, *problem));
  }
  if (!(o.min_learning_rate_ratio >= 0 && o.min_learning_rate_ratio <= 1)) {
    throw InputError(fmt::format("min_learning_rate_ratio = {}: expected 0..1", o.min_learning_rate_ratio));
  }
  if (o.warmup_steps < 0) throw InputError(fmt::format("--warmup-steps = {} must be >= 0", o.warmup_steps));
  if (!(o.weight_decay >= 0)) throw InputError(fmt::format("--weight-decay = {} must be >= 0", o.weight_decay));
  if (!(o.grad_clip > 0)) throw InputError(fmt::format("--grad-clip = {} must be positive", o.grad_clip));
  (void)device_of(o.device);
}

nlohmann::ordered_json training_fingerprint(const PretrainOptions& o) {
  return {{"model_size", o.model_size},
          {"task",
           {{"count", o.task.count},
            {"max_number", o.task.max_number},
            {"min_target", o.task.min_target},
            {"max_target", o.task.max_target},
            {"min_solutions", o.task.min_solutions},
            {"eval_per_mille", o.task.eval_per_mille}}},
          {"steps", o.steps},
          {"batch_size", o.batch_size},
          {"learning_rate", o.learning_rate},
          {"min_learning_rate_ratio", o.min_learning_rate_ratio},
          {"warmup_steps", o.warmup_steps},
          {"weight_decay", o.weight_decay},
          {"grad_clip", o.grad_clip},
          {"seed", o.seed},
          // Problems and solutions are drawn from tagged keys since 2026-12-06 (before: the
          // bare seed, shared with the sampler's rows): a model or checkpoint of the earlier
          // draws is another run's.
          {"problem_stream", "tagged"}};
}

double learning_rate_at(const PretrainOptions& o, std::int64_t step) {
  if (step < o.warmup_steps) return o.learning_rate * static_cast<double>(step + 1) / static_cast<double>(o.warmup_steps);
  const double span = static_cast<double>(std::max<std::int64_t>(1, o.steps - o.warmup_steps));
  const double p = std::min(1.0, static_cast<double>(step - o.warmup_steps) / span);
  const double floor = o.min_learning_rate_ratio;
  return o.learning_rate * (floor + (1 - floor) * 0.5 * (1 + std::cos(std::numbers::pi * p)));
}

Trainer::Trainer(const PretrainOptions& options)
    : options_(options), tokenizer_(countdown_tokenizer()), device_(torch::kCPU) {
  validate(options_);
  device_ = device_of(options_.device);
  model_ = init_random(model_preset(options_.model_size, tokenizer_), options_.seed);
  model_->to(device_);
  std::vector<torch::Tensor> decay, no_decay;
  for (const auto& p : model_->parameters()) (p.dim() >= 2 ? decay : no_decay).push_back(p);
  auto group_options = [&](double wd) {
    auto o = std::make_unique<torch::optim::AdamWOptions>(options_.learning_rate);
    o->betas({kAdamBeta1, kAdamBeta2}).eps(1e-8).weight_decay(wd);
    return o;
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, group_options(options_.weight_decay));
  groups.emplace_back(no_decay, group_options(0.0));
  optimizer_ = std::make_unique<torch::optim::AdamW>(std::move(groups), torch::optim::AdamWOptions(options_.learning_rate));
}

StepMetrics Trainer::train_step() {
  std::vector<Example> examples;
  const auto first = static_cast<std::uint64_t>(step_ * options_.batch_size);
  for (std::int64_t r = 0; r < options_.batch_size; ++r) {
    examples.push_back(training_example(options_.task, options_.seed, first + static_cast<std::uint64_t>(r)));
  }
  const TokenBatch batch = make_batch(tokenizer_, examples);
  const double lr = learning_rate_at(options_, step_);
  for (auto& group : optimizer_->param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);

  model_->train();
  const torch::Tensor logits = model_->forward(batch.input_ids.to(device_), batch.attention_mask.to(device_));
  const torch::Tensor loss = torch::nn::functional::cross_entropy(
      logits.reshape({-1, logits.size(-1)}), batch.labels.to(device_).reshape({-1}),
      torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-100));
  optimizer_->zero_grad();
  loss.backward();
  const double grad_norm = torch::nn::utils::clip_grad_norm_(model_->parameters(), options_.grad_clip);
  // A diverged run stops here, before the update, rather than training and saving NaN weights.
  if (const double l = loss.item<double>(); !std::isfinite(l) || !std::isfinite(grad_norm)) {
    throw NumericalError(fmt::format("pretrain: step {} has loss {} and gradient norm {} (lr {}); stopped before the "
                                     "update",
                                     step_ + 1, l, grad_norm, lr));
  }
  optimizer_->step();

  ++step_;
  StepMetrics m{step_, loss.item<double>(), lr, grad_norm, batch.tokens};
  metrics_.push_back(m);
  return m;
}

void Trainer::save_checkpoint(const std::filesystem::path& file) const {
  torch::serialize::OutputArchive archive, model_archive, optimizer_archive;
  model_->save(model_archive);
  optimizer_->save(optimizer_archive);
  archive.write("model", model_archive);
  archive.write("optimizer", optimizer_archive);
  archive.write("step", torch::tensor(step_, torch::kInt64));
  torch::Tensor m = torch::zeros({static_cast<std::int64_t>(metrics_.size()), kMetricColumns}, torch::kFloat64);
  auto a = m.accessor<double, 2>();
  for (std::size_t i = 0; i < metrics_.size(); ++i) {
    const StepMetrics& s = metrics_[i];
    a[i][0] = static_cast<double>(s.step), a[i][1] = s.loss, a[i][2] = s.learning_rate, a[i][3] = s.grad_norm;
    a[i][4] = static_cast<double>(s.tokens);
  }
  archive.write("metrics", m);
  archive.write("options", c10::IValue(training_fingerprint(options_).dump()));
  std::filesystem::create_directories(file.parent_path().empty() ? "." : file.parent_path());
  write_file_atomically(file, [&](std::ostream& out) { archive.save_to(out); }, /*binary=*/true);
}

void Trainer::load_checkpoint(const std::filesystem::path& file) {
  torch::serialize::InputArchive archive, model_archive, optimizer_archive;
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(fmt::format("checkpoint '{}': cannot read", file.string()));
  try {
    archive.load_from(in);
  } catch (const c10::Error& e) {
    throw InputError(fmt::format("checkpoint '{}': not a disa pretraining checkpoint ({})", file.string(),
                                 std::string(e.what()).substr(0, 200)));
  }
  c10::IValue saved;
  archive.read("options", saved);
  const auto theirs = nlohmann::ordered_json::parse(saved.toStringRef());
  const auto ours = training_fingerprint(options_);
  for (const auto& [key, value] : ours.items()) {
    if (!theirs.contains(key) || theirs.at(key) != value) {
      throw InputError(fmt::format("checkpoint '{}' was made with {} = {}, this run has {} = {}; resume with the same options",
                                   file.string(), key, theirs.contains(key) ? theirs.at(key).dump() : "(none)", key,
                                   value.dump()));
    }
  }
  archive.read("model", model_archive);
  archive.read("optimizer", optimizer_archive);
  model_->load(model_archive);
  model_->to(device_);
  optimizer_->load(optimizer_archive);
  torch::Tensor step, m;
  archive.read("step", step);
  archive.read("metrics", m);
  step_ = step.item<std::int64_t>();
  metrics_.clear();
  auto a = m.accessor<double, 2>();
  for (std::int64_t i = 0; i < m.size(0); ++i) {
    metrics_.push_back({static_cast<std::int64_t>(a[i][0]), a[i][1], a[i][2], a[i][3], static_cast<std::int64_t>(a[i][4])});
  }
}

}  // namespace disa::llm::pretrain
