// Supervised pretraining of the in-house model on Countdown (llm/pretrain/training_batch.h):
// AdamW, linear warmup then cosine decay of the learning rate, gradient-norm clipping,
// cross-entropy on completion tokens only, and checkpoints that resume bit-identically.
//
//   Trainer t(options);                       // a fresh model from init_random(seed)
//   t.load_checkpoint("out/checkpoint.pt");   // or continue one
//   while (t.step() < options.steps) t.train_step();
//   t.save_checkpoint("out/checkpoint.pt");
//
// A checkpoint holds the model, AdamW's state, the step, the metrics so far and the
// options that shape training (resuming under other ones is refused, naming them). The
// data is a function of (seed, step), so nothing else is needed to continue identically
// (with the same thread count: LibTorch's reductions depend on it).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/optim/adamw.h>

#include "llm/model/transformer.h"
#include "llm/pretrain/training_batch.h"
#include "llm/tasks/countdown.h"
#include "llm/tokenizer/char_tokenizer.h"

namespace disa::llm::pretrain {

struct PretrainOptions {
  std::string model_size = "small";
  countdown::TaskConfig task;
  std::int64_t steps = 1500;
  std::int64_t batch_size = 64;
  double learning_rate = 3e-3;
  double min_learning_rate_ratio = 0.05;  // the cosine ends at this share of learning_rate
  std::int64_t warmup_steps = 50;
  double weight_decay = 0.01;  // on matrices only, not norms and biases
  double grad_clip = 1.0;      // max global L2 norm
  std::uint64_t seed = 1;
  std::string device = "cpu";  // "cpu" or "cuda"
};
// Throws InputError naming the option and its value.
void validate(const PretrainOptions& options);
// The options a checkpoint must agree with to be resumed (not the thread count).
nlohmann::ordered_json training_fingerprint(const PretrainOptions& options);

// Learning rate at `step` (0-based) of the schedule.
double learning_rate_at(const PretrainOptions& options, std::int64_t step);

struct StepMetrics {
  std::int64_t step = 0;  // 1-based: the step just taken
  double loss = 0;        // mean cross-entropy per completion token (nats)
  double learning_rate = 0;
  double grad_norm = 0;   // before clipping
  std::int64_t tokens = 0;
};

class Trainer {
 public:
  explicit Trainer(const PretrainOptions& options);

  StepMetrics train_step();
  std::int64_t step() const { return step_; }
  const std::vector<StepMetrics>& metrics() const { return metrics_; }

  void save_checkpoint(const std::filesystem::path& file) const;  // atomic
  // Throws InputError if the file is unreadable or its options differ from ours.
  void load_checkpoint(const std::filesystem::path& file);

  Transformer& model() { return model_; }
  const CharTokenizer& tokenizer() const { return tokenizer_; }
  const PretrainOptions& options() const { return options_; }

 private:
  PretrainOptions options_;
  CharTokenizer tokenizer_;
  Transformer model_{nullptr};
  torch::Device device_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  std::int64_t step_ = 0;
  std::vector<StepMetrics> metrics_;
};

}  // namespace disa::llm::pretrain
