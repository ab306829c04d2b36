#include "llm/pretrain/trainer.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "llm/model/pretrained.h"
#include "llm/pretrain/pretrain_run.h"
#include "llm/pretrain/training_batch.h"
#include "llm/tokenizer/tokenizer.h"
#include "src/input_error.h"
#include "src/numerical_error.h"

namespace disa::llm::pretrain {
namespace {

PretrainOptions tiny(std::int64_t steps) {
  PretrainOptions o;
  o.model_size = "tiny";
  o.steps = steps;
  o.batch_size = 32;
  o.learning_rate = 1e-2;
  o.warmup_steps = 5;
  o.seed = 3;
  return o;
}

class PretrainDir : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::set_num_threads(1);
    dir_ = std::filesystem::temp_directory_path() /
           ("disa_pretrain_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(PretrainSchedule, WarmupThenCosineToTheFloor) {
  PretrainOptions o = tiny(100);
  o.warmup_steps = 10;
  EXPECT_DOUBLE_EQ(learning_rate_at(o, 0), o.learning_rate / 10);
  EXPECT_DOUBLE_EQ(learning_rate_at(o, 9), o.learning_rate);
  EXPECT_DOUBLE_EQ(learning_rate_at(o, 10), o.learning_rate);
  EXPECT_NEAR(learning_rate_at(o, 55), o.learning_rate * (o.min_learning_rate_ratio + (1 - o.min_learning_rate_ratio) / 2), 1e-12);
  EXPECT_NEAR(learning_rate_at(o, 100), o.learning_rate * o.min_learning_rate_ratio, 1e-12);
}

// Label frequencies of a batch's completion tokens, and their plug-in entropies: H1 (no
// context: the loss of the best constant predictor on these tokens) and H2 (given the
// current token: the best predictor that sees one character of context).
struct LabelStats {
  std::map<std::int64_t, double> freq;  // label -> share of the labelled positions
  double h1 = 0, h2 = 0;
  double n = 0;
};
LabelStats label_stats(const std::vector<TokenBatch>& batches) {
  LabelStats s;
  std::map<std::int64_t, std::map<std::int64_t, double>> pair;  // current token -> label -> count
  for (const TokenBatch& b : batches) {
    const auto ids = b.input_ids.accessor<std::int64_t, 2>();
    const auto labels = b.labels.accessor<std::int64_t, 2>();
    for (std::int64_t i = 0; i < b.labels.size(0); ++i) {
      for (std::int64_t t = 0; t < b.labels.size(1); ++t) {
        if (labels[i][t] == -100) continue;
        s.freq[labels[i][t]] += 1;
        pair[ids[i][t]][labels[i][t]] += 1;
        s.n += 1;
      }
    }
  }
  for (auto& [v, f] : s.freq) {
    f /= s.n;
    s.h1 -= f * std::log(f);
  }
  for (const auto& [x, row] : pair) {
    double total = 0;
    for (const auto& [v, c] : row) total += c;
    for (const auto& [v, c] : row) s.h2 -= c / s.n * std::log(c / total);
  }
  return s;
}

// The completion-token loss of the tiny model (hidden size D = 32, tied embeddings drawn
// N(0, 0.02^2), V = 21) at initialisation, and after 80 steps of 32 examples.
//
// First step. Position t's loss is log V + [logmeanexp_v z_tv - mean_v z_tv] + [mean_v z_tv
// - z_t,y], z_tv = h_t . e_v with h_t the final RMSNorm's output (|h_t|^2 = D). Over the
// initialisation the z_tv are ~ N(0, s^2), s^2 = D 0.02^2 = 0.0128, so the first bracket is
// s^2 (1 - 1/V) / 2 = 0.0061, plus at most 0.05 from the tied embedding's own token (z_t,x_t
// = h_t . e_x_t, h_t partly along e_x_t: at most |h_t| |e_x_t| ~ sqrt(D) 0.02 sqrt(D) = 0.64
// nats for one of the V logits, log(1 + (e^0.64 - 1) / V) = 0.043). The second bracket, averaged over
// the batch, is sum_v e_v . g_v with |g_v| <= sqrt(D) (f_v + 1/V) (f_v the label
// frequencies): mean 0, variance <= 0.02^2 D sum_v (f_v + 1/V)^2, computed here from the
// batch. Tolerance 5 of those sd + 0.05: a false-alarm rate below 6e-7 over
// initialisations (normal limit; the bound on the variance is itself conservative).
//
// (Measured: 3.080 against 3.051 +- 0.314. The older bound, within 0.3 of log V, is kept:
// after the 0.05 allowance, about 4.6 of the conservative sd above (0.053 here), so its
// false-alarm rate is still below 5e-6.)
//
// Last steps. The mean loss of steps 71-80 is compared with the plug-in entropies of those
// steps' own labels: H1 is the loss of the best constant predictor, H2 that of the best
// predictor from the current character (both fitted to these very tokens, which only
// lowers them; 2.74 and 1.78 nats with seed 3). Below H2 means the model uses more context
// than one character, which is what training on prompts should teach. The older bound 1.6
// is kept (measured 1.17 here with LibTorch 1.13, 1.06 where it was set).
TEST(PretrainTrainer, TinyModelLossFalls) {
  torch::set_num_threads(1);
  const PretrainOptions o = tiny(80);
  Trainer t(o);
  const auto batch_at = [&](std::int64_t step) {
    std::vector<Example> examples;
    for (std::int64_t r = 0; r < o.batch_size; ++r) {
      examples.push_back(training_example(o.task, o.seed, static_cast<std::uint64_t>(step * o.batch_size + r)));
    }
    return make_batch(t.tokenizer(), examples);
  };
  const double vocab = t.tokenizer().vocab_size();
  ASSERT_EQ(vocab, 21);
  const LabelStats first_labels = label_stats({batch_at(0)});
  double sum_sq = 0;
  for (std::int64_t v = 0; v < static_cast<std::int64_t>(vocab); ++v) {
    const auto it = first_labels.freq.find(v);
    const double f = it == first_labels.freq.end() ? 0.0 : it->second;
    sum_sq += (f + 1 / vocab) * (f + 1 / vocab);
  }
  const double s2 = 32 * 0.02 * 0.02;
  const double centre = std::log(vocab) + s2 * (1 - 1 / vocab) / 2;
  const double tolerance = 5 * std::sqrt(s2 * sum_sq) + 0.05;
  const double first = t.train_step().loss;
  EXPECT_NEAR(first, centre, tolerance) << "log V = " << std::log(vocab);
  EXPECT_NEAR(first, std::log(21.0), 0.3);
  double last10 = 0;
  std::vector<TokenBatch> last_batches;
  while (t.step() < 80) {
    const StepMetrics m = t.train_step();
    if (m.step > 70) {
      last10 += m.loss / 10;
      last_batches.push_back(batch_at(m.step - 1));
    }
  }
  const LabelStats last_labels = label_stats(last_batches);
  std::printf(
      "tiny model: first-step loss %.3f (centre %.3f +- %.3f), mean of steps 71-80 %.3f; their labels' "
      "H1 %.3f, H2 %.3f\n",
      first, centre, tolerance, last10, last_labels.h1, last_labels.h2);
  EXPECT_LT(last10, last_labels.h2) << "no better than predicting from the current character; first loss " << first;
  EXPECT_LT(last10, 1.6) << "first loss " << first;
}

TEST(PretrainTrainer, ADivergedStepStopsBeforeTheUpdate) {
  // lr 1e30 (no warm-up): step 1's update sends the weights to ~1e30, step 2's loss is
  // NaN. Training on would save a model of NaNs; it stops naming the step instead.
  torch::set_num_threads(1);
  PretrainOptions o = tiny(10);
  o.learning_rate = 1e30;
  o.weight_decay = 0;  // lr * weight_decay > 1 is refused up front (it flips the weights' sign)
  o.warmup_steps = 0;
  Trainer t(o);
  EXPECT_NO_THROW(t.train_step());
  try {
    t.train_step();
    FAIL() << "a non-finite loss was trained on";
  } catch (const NumericalError& e) {
    EXPECT_NE(std::string(e.what()).find("pretrain: step 2 has loss"), std::string::npos) << e.what();
  }
  EXPECT_EQ(t.step(), 1);  // the failed step did not count
}

TEST_F(PretrainDir, ResumeIsBitIdenticalToAnUninterruptedRun) {
  RunOptions a;
  a.training = tiny(24);
  a.checkpoint_every = 8;
  a.threads = 1;
  a.run_eval = false;
  a.out = dir_ / "straight";
  run_pretraining(a);

  RunOptions b = a;
  b.out = dir_ / "resumed";
  b.stop_after = 10;  // between checkpoints: the checkpoint is written at the stop
  const RunResult first = run_pretraining(b);
  EXPECT_FALSE(first.finished);
  EXPECT_EQ(first.steps_done, 10);
  EXPECT_FALSE(std::filesystem::exists(b.out / "model.safetensors"));
  b.stop_after.reset();
  b.resume = true;
  const RunResult second = run_pretraining(b);
  EXPECT_TRUE(second.finished);

  Transformer x = load_pretrained(a.out), y = load_pretrained(b.out);
  const auto px = x->named_parameters(), py = y->named_parameters();
  ASSERT_EQ(px.size(), py.size());
  for (const auto& item : px) EXPECT_TRUE(torch::equal(item.value(), py[item.key()])) << item.key();
  EXPECT_EQ(read(a.out / "metrics.csv"), read(b.out / "metrics.csv"));
  EXPECT_EQ(read(a.out / "model.safetensors"), read(b.out / "model.safetensors"));
}

TEST_F(PretrainDir, ResumeRefusesOtherOptionsAndAnExistingCheckpointNeedsResume) {
  RunOptions a;
  a.training = tiny(4);
  a.threads = 1;
  a.run_eval = false;
  a.out = dir_;
  a.stop_after = 2;
  run_pretraining(a);
  try {
    run_pretraining(a);  // no --resume
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--resume"), std::string::npos) << e.what();
  }
  a.resume = true;
  a.training.batch_size = 16;
  try {
    run_pretraining(a);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("batch_size = 32"), std::string::npos) << e.what();
  }
}

TEST_F(PretrainDir, SavedFolderLoadsWithTheSameLogitsAndTokenizer) {
  RunOptions a;
  a.training = tiny(6);
  a.threads = 1;
  a.run_eval = false;
  a.out = dir_;
  run_pretraining(a);
  // The same model, trained in memory.
  Trainer t(a.training);
  while (t.step() < 6) t.train_step();

  Transformer loaded = load_pretrained(dir_);
  const std::unique_ptr<Tokenizer> tok = load_tokenizer(dir_);
  const std::vector<std::int32_t> ids = tok->encode("3 5 7>22:3*5+7");
  EXPECT_EQ(ids, t.tokenizer().encode("3 5 7>22:3*5+7"));
  EXPECT_EQ(*tok->special_ids().eos, *t.tokenizer().special_ids().eos);
  const torch::Tensor input = torch::tensor(std::vector<std::int64_t>(ids.begin(), ids.end())).unsqueeze(0);
  torch::NoGradGuard no_grad;
  t.model()->eval();
  loaded->eval();
  const torch::Tensor expected = t.model()->forward(input), got = loaded->forward(input);
  EXPECT_TRUE(torch::equal(expected, got)) << (expected - got).abs().max().item<double>();
  EXPECT_EQ(loaded->config().eos_token_ids, std::vector<std::int64_t>{*tok->special_ids().eos});
  EXPECT_TRUE(std::filesystem::exists(dir_ / "task.json"));
  EXPECT_TRUE(std::filesystem::exists(dir_ / "eval.json"));
}

TEST(PretrainTrainer, BadOptionsNameTheField) {
  PretrainOptions o = tiny(10);
  o.model_size = "huge";
  try {
    Trainer t(o);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--model-size = 'huge'"), std::string::npos) << e.what();
  }
  o = tiny(0);
  EXPECT_THROW(validate(o), InputError);
  o = tiny(10);
  o.device = "tpu";
  EXPECT_THROW(validate(o), InputError);
  // AdamW's float step lr / (1 - beta1) would overflow: named, not a c10::Error mid-step.
  o = tiny(10);
  o.learning_rate = 1e300;
  try {
    validate(o);
    FAIL() << "lr 1e300 accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--lr = 1e+300 must be at most"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace disa::llm::pretrain
