// disa llm propose | anchor | train | eval | pipeline through the binary (test::disa_binary()): a
// config file with --set overrides, the data-parallel path (2 Gloo processes give the
// 1-process policy), the one-command pipeline and its resume, and bad keys rejected by name.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <limits>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "llm/safetensors/safetensors.h"
#include "llm/verify/code_sandbox.h"
#include "tests/util/cli_harness.h"
#include "tests/util/shared_data.h"

namespace {

using disa::test::expect_rejected;
using disa::test::run_disa;

// Largest |a - b| over every float32 tensor of two model files, and the largest |a - base|.
std::pair<double, double> max_differences(const std::string& a_path, const std::string& b_path,
                                          const std::string& base_path) {
  const auto a = disa::llm::SafetensorsFile::open(a_path), b = disa::llm::SafetensorsFile::open(b_path),
             base = disa::llm::SafetensorsFile::open(base_path);
  double diff = 0, moved = 0;
  for (const auto& t : a.tensors()) {
    const auto* u = b.find(t.name);
    const auto* r = base.find(t.name);
    EXPECT_TRUE(u != nullptr && r != nullptr && u->bytes.size() == t.bytes.size()) << t.name;
    if (u == nullptr || r == nullptr || u->bytes.size() != t.bytes.size()) continue;
    const auto* x = reinterpret_cast<const float*>(t.bytes.data());
    const auto* y = reinterpret_cast<const float*>(u->bytes.data());
    const auto* z = reinterpret_cast<const float*>(r->bytes.data());
    for (std::size_t i = 0; i < t.bytes.size() / sizeof(float); ++i) {
      diff = std::max(diff, static_cast<double>(std::abs(x[i] - y[i])));
      moved = std::max(moved, static_cast<double>(std::abs(x[i] - z[i])));
    }
  }
  return {diff, moved};
}

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// One tiny model, proposal set and anchors for the whole suite.
class LlmPipelineCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::filesystem::temp_directory_path() / ("disa_pipeline_cli_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto r = run_disa("llm pretrain --out " + p("base") + " --model-size tiny --steps 60 --batch-size 32 --no-eval",
                      "CI=true");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::ofstream(p("propose.json")) << R"({"prompts": 4, "samples": 4, "max_new_tokens": 12, "seed": 3, "temperature": 1.5})";
    r = run_disa("llm propose --config " + p("propose.json") + " --set reference=" + p("base") +
                     " --set samples=6 --out " + p("propose"),
                 "CI=true");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    // The 60-step model solves few prompts: keep the anchors of prompts whose 6 samples
    // all fail (no_reward_observed would drop most of them).
    r = run_disa("llm anchor --set trajectories=" + p("propose/trajectories.jsonl") +
                     " --set beta=2 --set policy=keep --out " + p("anchor"),
                 "CI=true");
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(dir_); }
  static std::string p(const std::string& name) { return (dir_ / name).string(); }
  // `replace`: values that take the place of these defaults (a key given twice in --set is
  // refused, so an override cannot simply be appended).
  static std::string train_args(const std::string& method, const std::map<std::string, std::string>& replace = {}) {
    std::vector<std::pair<std::string, std::string>> sets = {
        {"method", method},
        {"reference", p("base")},
        {"trajectories", p("propose/trajectories.jsonl")},
        {"anchors", p("anchor/anchors.jsonl")},
        {"steps", "3"},
        {"prompts_per_step", "4"},
        {"group_size", "3"},
        {"micro_batch_prompts", "2"},
        {"max_new_tokens", "12"},
        {"lr", "0.01"},
        {"lora_rank", "4"}};
    if (method.rfind("disa", 0) == 0) sets.emplace_back("beta", "2");  // the anchors' beta
    std::string args = "llm train";
    for (const auto& [key, value] : sets) {
      const auto it = replace.find(key);
      args += " --set " + key + "=" + (it == replace.end() ? value : it->second);
    }
    return args;
  }
  // Every line of RUN/steps.jsonl, parsed. Tests comparing two runs assert both counts
  // first: comparing only the lines both have would pass on an empty or truncated log.
  static std::vector<nlohmann::json> step_lines(const std::string& run) {
    std::ifstream in(run + "/steps.jsonl");
    std::vector<nlohmann::json> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
    return lines;
  }
  // `world_size` ranks of `disa <args>` at once (ranks 1.. in the background, rank 0 in
  // the foreground); "" when all exit 0, else their logs.
  static std::string run_ranks(const std::string& args, int world_size, const std::string& store,
                               const std::string& out, const std::string& tag, const std::string& env = "") {
    const std::string common = "CI=true " + env + " " + disa::test::disa_binary() + " " + args +
                               " --set world_size=" + std::to_string(world_size) + " --set rendezvous=" + store +
                               " --out " + out;
    auto log = [&](int rank) { return p("rank" + std::to_string(rank) + "_" + tag + ".log"); };
    std::string cmd = "pids=''; ";
    for (int r = 1; r < world_size; ++r) {
      cmd += common + " --set rank=" + std::to_string(r) + " > " + log(r) + " 2>&1 & pids=\"$pids $!\"; ";
    }
    cmd += common + " --set rank=0 > " + log(0) + " 2>&1; s=$?; for q in $pids; do wait $q || s=1; done; exit $s";
    if (std::system(cmd.c_str()) == 0) return "";
    std::string logs;
    for (int r = 0; r < world_size; ++r) logs += read(log(r));
    return logs;
  }
  static std::filesystem::path dir_;
};
std::filesystem::path LlmPipelineCli::dir_;

TEST_F(LlmPipelineCli, ConfigFileAndSetGiveNPerPrompt) {
  // samples=6 from --set overrides the file's 4.
  std::ifstream in(p("propose/trajectories.jsonl"));
  int lines = 0;
  for (std::string line; std::getline(in, line);) lines += !line.empty();
  EXPECT_EQ(lines, 24);
  const auto options = nlohmann::json::parse(read(p("propose/options.json")));
  EXPECT_EQ(options["options"]["seed"], 3);
}

TEST_F(LlmPipelineCli, TwoGlooProcessesTrainTheOneProcessPolicy) {
  // q at temperature 1.5 makes every log Zhat nonzero, so both disa methods move the
  // policy from the first step even though the tiny model solves nothing yet. grpo's
  // advantages are all zero for the same reason; a k1 KL penalty (d/dlogp = 1) moves it
  // instead, and its token-mean normaliser D (the step's valid tokens) depends on
  // rollouts that each rank drew only a half of: a rank that normalised by its own
  // tokens, or missed the other rank's lengths, would not give the 1-process policy.
  for (const std::string method : {"disa", "disa-online", "grpo"}) {
    const std::string one = p("dp1_" + method), two = p("dp2_" + method), store = p("store_" + method);
    const std::string args =
        train_args(method) + (method == "grpo" ? " --set loss.kl_coef=0.1 --set loss.kl_estimator=k1" : "");
    auto r = run_disa(args + " --out " + one, "CI=true");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    ASSERT_EQ(run_ranks(args, 2, store, two, method), "");
    // Two micro-batches, one per rank: the all-reduce adds the two float32 gradients as
    // autograd's accumulation does in one process, so the policies agree bit for bit
    // (disa-online: although each rank sampled and scored only its own prompts).
    const auto [diff, moved] = max_differences(one + "/policy/model.safetensors", two + "/policy/model.safetensors",
                                               p("base/model.safetensors"));
    EXPECT_GT(moved, 1e-3) << method;
    EXPECT_EQ(diff, 0.0) << method << ": 2 ranks differ from 1 process by " << diff;
    const std::vector<nlohmann::json> a_steps = step_lines(one), b_steps = step_lines(two);
    ASSERT_EQ(a_steps.size(), 3u) << method;
    ASSERT_EQ(b_steps.size(), 3u) << method;
    for (std::size_t i = 0; i < a_steps.size(); ++i) {
      const nlohmann::json &a_step = a_steps[i], &b_step = b_steps[i];
      const std::size_t lines = i + 1;
      // The loss to float rounding: pi_ref scores a rank's 6 rows in another batch shape than
      // the process's 12 (scorer.h: the same to the last bits), which moves grpo's k1 KL
      // value (7e-8 relative at step 2) but not its gradient, 1 per token.
      EXPECT_NEAR(a_step["loss"].get<double>(), b_step["loss"].get<double>(),
                  1e-6 * std::abs(a_step["loss"].get<double>()))
          << method << " step " << lines;
      if (method != "disa") {
        // Each rank samples only its own micro-batch (2 prompts x 3), yet trains the
        // policy of the process that sampled all 4 x 3.
        EXPECT_EQ(a_step["rollouts_this_rank"], 12) << "step " << lines;
        EXPECT_EQ(b_step["rollouts_this_rank"], 6) << "step " << lines;
      }
    }
    const auto a = nlohmann::json::parse(read(one + "/train.json")), c = nlohmann::json::parse(read(two + "/train.json"));
    EXPECT_EQ(c["world_size"], 2);
    EXPECT_EQ(a["samples_total"], c["samples_total"]);
  }
}

// PPO's mini-batches and epochs over ranks, disa-online:
// - uneven: the step's 4 prompts in 3 mini-batches (2, 1 and 1 prompts, as numpy's
//   array_split), one micro-batch each (micro_batch_prompts 2), so micro-batches 0 and 2
//   are rank 0's and 1 is rank 1's; 2 epochs. In each update one rank computes and the
//   other adds zeros; rank 0 samples 3 prompts x 3, rank 1 one.
// - shared, under bf16 autocast: 2 mini-batches of 2 micro-batches (micro_batch_prompts 1),
//   one per rank, so each update sums both ranks' gradients and its normaliser D covers
//   rows that each rank sampled half of; the old log-probs are taken on each rank's own
//   micro-batches before the first update.
// Each rank sampled only its own micro-batches' prompts, yet the updates give the
// one-process policy bit for bit.
TEST_F(LlmPipelineCli, TwoGlooProcessesTrainTheOneProcessPolicyOverMiniBatches) {
  struct Case {
    std::string tag, sets;
    int updates, rank0_rollouts;
  };
  for (const Case& c : {Case{"uneven", " --set mini_batches=3 --set ppo_epochs=2", 6, 9},
                        Case{"shared", " --set mini_batches=2 --set bf16_on_cpu=true", 2, 6}}) {
    SCOPED_TRACE(c.tag);
    const std::string one = p("dp1_mini_" + c.tag), two = p("dp2_mini_" + c.tag);
    const std::string args =
        train_args("disa-online", {{"micro_batch_prompts", c.tag == "shared" ? "1" : "2"}}) + c.sets;
    auto r = run_disa(args + " --out " + one, "CI=true");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    ASSERT_EQ(run_ranks(args, 2, p("store_mini_" + c.tag), two, "mini_" + c.tag), "");
    const auto [diff, moved] = max_differences(one + "/policy/model.safetensors", two + "/policy/model.safetensors",
                                               p("base/model.safetensors"));
    EXPECT_GT(moved, 1e-3);
    EXPECT_EQ(diff, 0.0) << "2 ranks differ from 1 process by " << diff;
    const std::vector<nlohmann::json> a_steps = step_lines(one), b_steps = step_lines(two);
    ASSERT_EQ(a_steps.size(), 3u);
    ASSERT_EQ(b_steps.size(), 3u);
    for (std::size_t i = 0; i < a_steps.size(); ++i) {
      const nlohmann::json &a_step = a_steps[i], &b_step = b_steps[i];
      const std::size_t lines = i + 1;
      EXPECT_EQ(a_step["updates"], c.updates) << "step " << lines;
      EXPECT_EQ(b_step["updates"], c.updates) << "step " << lines;
      // To float rounding, as in TwoGlooProcessesTrainTheOneProcessPolicy (pi_ref scores a
      // rank's rows in another batch shape).
      EXPECT_NEAR(a_step["loss"].get<double>(), b_step["loss"].get<double>(),
                  1e-6 * std::abs(a_step["loss"].get<double>()))
          << "step " << lines;
      EXPECT_EQ(a_step["rollouts_this_rank"], 12) << "step " << lines;
      EXPECT_EQ(b_step["rollouts_this_rank"], c.rank0_rollouts) << "step " << lines;  // rank 0's
    }
  }
}

TEST_F(LlmPipelineCli, AnInterfaceGlooCannotUseIsRefusedByName) {
  // Before the rendezvous, so each rank stops at once with the variable and its value
  // (not after Gloo's 30-minute connect timeout, or with an unnamed c10 error).
  const std::string logs =
      run_ranks(train_args("disa"), 2, p("store_badif"), p("dp_badif"), "badif", "GLOO_SOCKET_IFNAME=no_such_if0");
  EXPECT_NE(logs.find("GLOO_SOCKET_IFNAME='no_such_if0': interface 'no_such_if0' cannot be used"), std::string::npos)
      << logs;
}

TEST_F(LlmPipelineCli, ARankWithoutAMicroBatchJoinsTheAllReduce) {
  // 3 ranks, 2 micro-batches: rank 2 computes nothing and adds zeros (exact), so the
  // policy is the 1-process one bit for bit, and its diagnostics (laid out by name, not by
  // what a rank saw) reach every rank.
  const std::string one = p("dp1_disa"), three = p("dp3_disa");
  if (!std::filesystem::exists(one + "/policy/model.safetensors")) {
    ASSERT_EQ(run_disa(train_args("disa") + " --out " + one, "CI=true").exit_code, 0);
  }
  // Over the interface GLOO_SOCKET_IFNAME names (what ranks on several machines use).
  ASSERT_EQ(run_ranks(train_args("disa"), 3, p("store3_disa"), three, "three_disa", "GLOO_SOCKET_IFNAME=lo"), "");
  const auto [diff, moved] = max_differences(one + "/policy/model.safetensors", three + "/policy/model.safetensors",
                                             p("base/model.safetensors"));
  EXPECT_GT(moved, 1e-3);
  EXPECT_EQ(diff, 0.0);
  // Both step logs whole (3 steps, as the two-rank test counts).
  const std::vector<nlohmann::json> a_lines = step_lines(one), c_lines = step_lines(three);
  ASSERT_EQ(a_lines.size(), 3u) << one;
  ASSERT_EQ(c_lines.size(), 3u) << three;
  for (std::size_t i = 0; i < a_lines.size(); ++i) {
    const nlohmann::json &a = a_lines[i], &c = c_lines[i];
    EXPECT_EQ(a["loss"], c["loss"]) << "step " << i + 1;
    EXPECT_EQ(a["weight_max"], c["weight_max"]) << "step " << i + 1;
    EXPECT_NEAR(a["residual_rms"].get<double>(), c["residual_rms"].get<double>(), 1e-12) << "step " << i + 1;
  }
}

TEST_F(LlmPipelineCli, RanksThatFailStopTheRankThatDidNot) {
  // A reference whose final norm is FLT_MAX (finite, so it loads; the hidden states
  // overflow and the logits are NaN): ranks 0 and 1 sample their micro-batches' rollouts
  // and get NaN log-probs; rank 2 has no micro-batch and goes straight to the all-reduce.
  // (grpo samples on-policy; disa, which scored the file's rows, refuses a reference other
  // than the proposal's before training.)
  // Before RankFailure, ranks 0 and 1 exited and rank 2 failed with Gloo's "Connection
  // closed by peer", which says nothing of why; now all three stop at step 1, rank 2
  // naming the two numerical failures, every one with the exit code of a NumericalError.
  const std::filesystem::path poisoned = p("base_nan_norm");
  std::filesystem::remove_all(poisoned);
  std::filesystem::copy(p("base"), poisoned);
  {
    const auto base = disa::llm::SafetensorsFile::open(p("base/model.safetensors"));
    std::vector<std::vector<std::byte>> copies;
    std::vector<disa::llm::TensorToWrite> tensors;
    for (const auto& t : base.tensors()) {
      copies.emplace_back(t.bytes.begin(), t.bytes.end());
      if (t.name == "model.norm.weight") {
        ASSERT_EQ(t.dtype, disa::llm::Dtype::F32);
        auto* w = reinterpret_cast<float*>(copies.back().data());
        for (std::size_t i = 0; i < copies.back().size() / sizeof(float); ++i) w[i] = std::numeric_limits<float>::max();
      }
      tensors.push_back({t.name, t.dtype, t.shape, copies.back()});
    }
    ASSERT_EQ(std::count_if(base.tensors().begin(), base.tensors().end(),
                            [](const auto& t) { return t.name == "model.norm.weight"; }),
              1);
    disa::llm::write_safetensors(poisoned / "model.safetensors", tensors, base.metadata());
  }
  std::string args = train_args("grpo");
  args.replace(args.find(p("base")), p("base").size(), poisoned.string());
  // `timeout` turns a regression (a hang) into exit 124 instead of a stuck test.
  std::string cmd = "pids=''; ";
  for (int r = 0; r < 3; ++r) {
    const std::string rank = std::to_string(r);
    cmd += "(CI=true timeout 300 " + disa::test::disa_binary() + " " + args +
           " --set world_size=3 --set rendezvous=" + p("store3_nan") + " --out " + p("dp3_nan") + " --set rank=" +
           rank + " > " + p("rank" + rank + "_nan.log") + " 2>&1; echo $? > " + p("rank" + rank + "_nan.rc") +
           ") & pids=\"$pids $!\"; ";
  }
  cmd += "for q in $pids; do wait $q; done";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  for (int r = 0; r < 3; ++r) {
    const std::string rank = std::to_string(r), log = read(p("rank" + rank + "_nan.log"));
    EXPECT_EQ(std::stoi(read(p("rank" + rank + "_nan.rc"))), 1) << "rank " << rank << ": " << log;
    if (r < 2) {
      EXPECT_NE(log.find("is not finite: the model's logits are not"), std::string::npos) << rank << ": " << log;
    } else {
      EXPECT_NE(log.find("step 1: stopped because 2 other rank(s) failed (2 numerical, 0 bad input, 0 other)"),
                std::string::npos)
          << log;
    }
  }
}

TEST_F(LlmPipelineCli, PipelineRunsEveryStageAndResumesAsANoOp) {
  const std::string args = "llm pipeline --out " + p("run") + " --set model=" + p("base") +
                           " --set prompts=4 --set samples=4 --set steps=2 --set prompts_per_step=2"
                           " --set group_size=2 --set eval_prompts=3 --set k=2 --set methods=disa,grpo,sft"
                           " --set max_new_tokens=12 --set anchor.policy=keep --set eval.max_new_tokens=10";
  auto r = run_disa(args, "CI=true");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string results = read(p("run/eval/results.csv"));
  for (const char* model : {"reference,", "disa,", "grpo,", "sft,"}) {
    EXPECT_NE(results.find(std::string("\n") + model + "countdown,3,2,"), std::string::npos) << model << results;
    // countdown:rl is the 4 prompts trained on (the anchors'), not eval_prompts = 3 of them.
    EXPECT_NE(results.find(std::string("\n") + model + "countdown:rl,4,2,"), std::string::npos) << model << results;
  }
  // The shared max_new_tokens reached every stage, and a stage's own key replaced it there
  // (it used to be appended to the defaults and refused as a key given twice).
  for (const char* options : {"run/propose/options.json", "run/train/grpo/options.json"}) {
    EXPECT_EQ(nlohmann::json::parse(read(p(options)))["options"]["max_new_tokens"], 12) << options;
  }
  EXPECT_EQ(nlohmann::json::parse(read(p("run/eval/options.json")))["options"]["max_new_tokens"], 10);
  for (const char* png : {"quality_diversity.png", "methods.png", "training.png"}) {
    EXPECT_TRUE(std::filesystem::exists(p("run/eval/") + png)) << png << " (plots/plot_llm_pipeline.py)\n" << r.output;
  }
  const auto eval = nlohmann::json::parse(read(p("run/eval/eval.json")));
  EXPECT_EQ(eval["options"]["anchors_fingerprint"].get<std::string>().size(), 16u);
  r = run_disa(args, "CI=true");  // everything is there: nothing is recomputed
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read(p("run/eval/results.csv")), results);
  EXPECT_NE(r.output.find("train disa: 2 steps"), std::string::npos) << r.output;
  // A method added to the finished run: eval would refuse its folder, so nothing trains.
  std::string more = args;
  more.replace(more.find("methods=disa,grpo,sft"), 21, "methods=disa,grpo,sft,gspo");
  disa::test::expect_rejected(run_disa(more, "CI=true"),
                              "holds the evaluation of models disa,grpo,reference,sft, and this run's are "
                              "disa,grpo,gspo,reference,sft");
  EXPECT_FALSE(std::filesystem::exists(p("run/train/gspo")));
}


TEST_F(LlmPipelineCli, AQwen2ShapedModelRunsEveryStageOnTheRealBenchmarks) {
  // The same commands on a Hugging Face layout Qwen2 folder (random weights, the real
  // Qwen tokenizer with ChatML) and the real math and code benchmark files.
  const auto data = disa::test::shared_data_dir("math500");
  if (!data) GTEST_SKIP() << "needs ../shared/data (tokenizer and benchmarks) or $DISA_SHARED_DIR; a user's clone has none";
  std::ofstream(p("qwen.json")) << R"({"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
    "vocab_size": 151936, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
    "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 2048,
    "rope_theta": 1000000.0, "rms_norm_eps": 1e-6, "tie_word_embeddings": true, "torch_dtype": "float32"})";
  const std::string tokenizer = (*data / "tokenizer" / "qwen3").string();
  auto r = run_disa("llm init --config " + p("qwen.json") + " --out " + p("qwen") + " --seed 1 --tokenizer " + tokenizer,
                    "CI=true");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // init copies the tokenizer with the files load_tokenizer reads beside it.
  ASSERT_TRUE(std::filesystem::exists(p("qwen/tokenizer_config.json")));
  // Code rewards need the sandbox; a machine that forbids namespaces evaluates math only.
  const bool sandbox = !disa::llm::verify::sandbox_unavailable_reason().has_value();
  r = run_disa("llm pipeline --out " + p("qwen_run") + " --set model=" + p("qwen") + " --set task=gsm8k --set data_dir=" +
                   data->string() + (sandbox ? " --set eval_tasks=math500,humaneval,codeforces" : " --set eval_tasks=math500,aime24") +
                   " --set prompts=2 --set samples=2 --set steps=1"
                   " --set prompts_per_step=2 --set group_size=2 --set eval_prompts=2 --set k=2 --set methods=disa,grpo"
                   " --set max_new_tokens=8 --set anchor.policy=keep --no-plot",
               "CI=true");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string results = read(p("qwen_run/eval/results.csv"));
  for (const char* row : {"\ngrpo,math500,2,2,", sandbox ? "\ngrpo,humaneval,2,2," : "\ngrpo,aime24,2,2,",
                           sandbox ? "\ngrpo,average,6,2," : "\ngrpo,average,4,2,"}) {
    EXPECT_NE(results.find(row), std::string::npos) << row << "\n" << results;
  }
  // The last column counts the prompts with several right answers judged by the one stored:
  // none on math500; Codeforces' second problem says "print any of them".
  const auto last_cell = [&](const std::string& row_start) {
    const std::size_t at = results.find(row_start);
    if (at == std::string::npos) return std::string("(no row)");
    const std::size_t end = results.find('\n', at + 1);
    const std::string row = results.substr(at, end - at);
    return row.substr(row.rfind(',') + 1);
  };
  EXPECT_NE(results.find(",prompts_judged_by_one_stored_answer\n"), std::string::npos) << results;
  EXPECT_EQ(last_cell("\ngrpo,math500,"), "0") << results;
  if (sandbox) {
    EXPECT_EQ(last_cell("\ngrpo,codeforces,"), "1") << results;
    EXPECT_EQ(last_cell("\ngrpo,average,"), "1") << results;
    EXPECT_NE(read(p("qwen_run/eval/results.md")).find("codeforces: 1 of 2 prompts admit several right answers"),
              std::string::npos);
  }
  // Prompts are ChatML: every trajectory's prompt starts with <|im_start|> (151644).
  std::ifstream in(p("qwen_run/propose/trajectories.jsonl"));
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["prompt_tokens"][0], 151644);
    EXPECT_EQ(j["prompt_id"].get<std::string>().rfind("gsm8k-", 0), 0u);
    ++lines;
  }
  EXPECT_EQ(lines, 4);
  if (!sandbox) return;
  // Code samples went through the sandbox: each has a verdict reason.
  std::ifstream code(p("qwen_run/eval/samples/reference/humaneval.jsonl"));
  ASSERT_TRUE(std::getline(code, line));
  const auto sample = nlohmann::json::parse(line);
  EXPECT_EQ(sample["prompt_id"], "humaneval-HumanEval/0");
  EXPECT_FALSE(sample["reason"].get<std::string>().empty());
}

TEST_F(LlmPipelineCli, BadKeysAreRejectedByName) {
  expect_rejected(run_disa(train_args("disa", {{"lr", "-1"}}) + " --out " + p("bad1"), "CI=true"), "lr=-1");
  expect_rejected(run_disa(train_args("disa") + " --set stepz=3 --out " + p("bad2"), "CI=true"), "stepz");
  expect_rejected(run_disa("llm anchor --set trajectories=" + p("propose/trajectories.jsonl") +
                               " --set policy=ignore --out " + p("bad3"),
                           "CI=true"),
                  "policy=ignore");
  expect_rejected(run_disa("llm propose --config " + p("propose.json") + " --set reference=" + p("base") +
                               " --set samples=6 --set seed=4 --out " + p("propose"),
                           "CI=true"),
                  "seed (was 3, now 4)");
  // loss.* belongs to train (the pipeline's is train.loss.*): elsewhere it would be dropped.
  expect_rejected(run_disa("llm anchor --set trajectories=" + p("propose/trajectories.jsonl") +
                               " --set loss.bogus=7 --out " + p("bad4"),
                           "CI=true"),
                  "loss.bogus=7");
  expect_rejected(run_disa("llm pipeline --out " + p("bad5") + " --set model=" + p("base") + " --set loss.kl_coef=0.3",
                           "CI=true"),
                  "train.loss.KEY=VALUE");
  // A shard is part of the proposals: anchor and train need them all.
  expect_rejected(run_disa("llm pipeline --out " + p("bad_shard") + " --set model=" + p("base") +
                               " --set propose.shard=0/2",
                           "CI=true"),
                  "propose.shard=0/2");
  EXPECT_FALSE(std::filesystem::exists(p("bad_shard/propose")));
  // Every stage's keys are checked before the first stage runs: nothing is proposed.
  expect_rejected(run_disa("llm pipeline --out " + p("bad6") + " --set model=" + p("base") + " --set eval.kk=3", "CI=true"),
                  "kk");
  EXPECT_FALSE(std::filesystem::exists(p("bad6/propose")));
  // A model folder as a stage's --out: propose wrote its parts among the model's files.
  expect_rejected(run_disa("llm propose --set reference=" + p("base") + " --out " + p("base"), "CI=true"),
                  "--out: '" + p("base") + "' holds a model (config.json)");
  // A key that wires two stages, set for one: propose.reference proposed and anchored with
  // another model, then train refused the trajectories after every stage before it ran.
  for (const std::string key :
       {"propose.reference=" + p("base"), std::string("anchor.beta=2"), "train.anchors=" + p("anchor/anchors.jsonl")}) {
    expect_rejected(
        run_disa("llm pipeline --out " + p("bad_wired") + " --set model=" + p("base") + " --set " + key, "CI=true"),
        "pipeline: " + key + ": the pipeline sets it for every stage that reads it");
    EXPECT_FALSE(std::filesystem::exists(p("bad_wired/propose"))) << key;
  }
  expect_rejected(run_disa("llm eval --set models=m=" + p("base") + ",m=" + p("dp1_disa/policy") + " --out " + p("bad7"),
                           "CI=true"),
                  "name 'm' is given twice");
  // disa draws groups without replacement from the 6 offline trajectories per prompt.
  expect_rejected(run_disa(train_args("disa", {{"group_size", "7"}}) + " --out " + p("bad8"), "CI=true"), "group_size=7");
  EXPECT_FALSE(std::filesystem::exists(p("bad8/options.json")));  // refused before the folder was claimed
  // In the pipeline, before any stage runs.
  expect_rejected(run_disa("llm pipeline --out " + p("bad10") + " --set model=" + p("base") +
                               " --set samples=4 --set group_size=8 --set methods=disa,grpo",
                           "CI=true"),
                  "train.group_size=8 for disa");
  EXPECT_FALSE(std::filesystem::exists(p("bad10/propose")));
  // A finished in-house model of other pretraining options is not built upon.
  std::filesystem::create_directories(p("bad11/base"));
  {
    std::ofstream made(p("bad11/base/eval.json"));
    made << R"({"training": {"steps": 5}})";
  }
  expect_rejected(run_disa("llm pipeline --out " + p("bad11") + " --set pretrain_steps=30", "CI=true"),
                  "holds an in-house model pretrained with other options");
  EXPECT_FALSE(std::filesystem::exists(p("bad11/propose")));
  // beta is p*'s tilt, for disa and disa-online only; FlowRL's is loss.beta (another quantity).
  expect_rejected(run_disa(train_args("grpo") + " --set beta=2 --out " + p("bad13"), "CI=true"), "method=grpo has none");
  expect_rejected(run_disa(train_args("flowrl") + " --set beta=2 --out " + p("bad14"), "CI=true"), "set it as loss.beta");
  // A benchmark file is one split: evaluating it "held out" would evaluate the trained prompts.
  expect_rejected(run_disa("llm pipeline --out " + p("bad15") + " --set model=" + p("base") +
                               " --set task=math500 --set eval_tasks=math500,aime24",
                           "CI=true"),
                  "eval_tasks names 'math500', the problems trained on (math500)");
  EXPECT_FALSE(std::filesystem::exists(p("bad15/propose")));
  expect_rejected(run_disa("llm pipeline --out " + p("bad16") + " --set model=" + p("base") +
                               " --set task=humaneval --set eval_tasks=humaneval:rl,humanevalplus",
                           "CI=true"),
                  "eval_tasks names 'humanevalplus', the problems trained on (humaneval)");
  expect_rejected(run_disa("llm pipeline --out " + p("bad17") + " --set model=" + p("base") +
                               " --set eval_tasks=countdown,math500:rl",
                           "CI=true"),
                  "eval_tasks names 'math500:rl', but the RL prompts are countdown's ('countdown:rl')");
  // Task names, the method list and AdamW's limits are checked before pretraining starts
  // (an unknown eval task, an empty method list and lr=1e300 each began a 1500-step
  // pretraining, the last failing after it without naming lr).
  expect_rejected(run_disa("llm pipeline --out " + p("bad18") + " --set eval_tasks=countdown,nope", "CI=true"),
                  "eval_tasks=nope: unknown task");
  expect_rejected(run_disa("llm pipeline --out " + p("bad19") + " --set task=nope", "CI=true"),
                  "task=nope: unknown task");
  expect_rejected(run_disa("llm pipeline --out " + p("bad20") + " --set task=math500", "CI=true"),
                  "task=math500 needs model=FOLDER");
  expect_rejected(run_disa("llm pipeline --out " + p("bad21") + " --set methods=", "CI=true"), "names no method");
  expect_rejected(run_disa("llm pipeline --out " + p("bad22") + " --set methods=disa,grpo,disa", "CI=true"),
                  "names disa twice");
  expect_rejected(run_disa("llm pipeline --out " + p("bad23") + " --set lr=1e300", "CI=true"),
                  "lr=1e+300 must be at most");
  // A LoRA rank above a projection's smaller side (the in-house model: checked against its
  // preset before pretraining; a model folder: against its config.json).
  expect_rejected(run_disa("llm pipeline --out " + p("bad26") + " --set lora_rank=100000", "CI=true"),
                  "pipeline: lora_rank=100000: lora: rank = 100000 is above");
  expect_rejected(run_disa(train_args("grpo", {{"lora_rank", "100000"}}) + " --out " + p("bad27"), "CI=true"),
                  "train: lora_rank=100000: lora: rank = 100000 is above");
  EXPECT_FALSE(std::filesystem::exists(p("bad27/options.json")));
  for (const char* bad : {"bad18", "bad19", "bad20", "bad21", "bad22", "bad23", "bad26"}) {
    EXPECT_FALSE(std::filesystem::exists(p(std::string(bad) + "/base"))) << bad << " began pretraining";
  }
  expect_rejected(
      run_disa(train_args("grpo", {{"lr", "0.5"}}) + " --set weight_decay=3 --out " + p("bad24"), "CI=true"),
      "lr=0.5 * weight_decay 3 = 1.5 must be at most 1");
  expect_rejected(run_disa(train_args("flowrl") + " --set logz_lr=1e300 --out " + p("bad25"), "CI=true"), "logz_lr");
  // --threads as the stages' threads key: 1..256 (100000 threads ran until killed).
  expect_rejected(run_disa("llm pretrain --out " + p("bad12") + " --threads 1000", "CI=true"),
                  "--threads: must be an integer in [1, 256], got '1000'");
  EXPECT_FALSE(std::filesystem::exists(p("bad12")));
  // An integer key takes whole numbers only (stage_config_test has the parsing cases).
  expect_rejected(run_disa(train_args("disa", {{"steps", "2.5"}}) + " --out " + p("bad9"), "CI=true"), "steps=2.5");
}

}  // namespace

namespace {

// Argument checks that need no model: each is refused before anything is loaded.
class LlmStageArguments : public disa::test::CliDirTest {};

// A file as --out gave a raw filesystem error ("create_directories: File exists") without
// naming --out, in every stage and the pipeline.
TEST_F(LlmStageArguments, AFileAsOutIsNamed) {
  const std::string file = path("file");
  std::ofstream(file) << "x";
  const std::string trajectories = path("t.jsonl");
  std::ofstream(trajectories) << "";
  const std::string named = "--out: '" + file + "' is a file, not a folder";
  expect_rejected(run_disa("llm propose --set reference=" + dir_.string() + " --out " + file, "CI=true"), named);
  expect_rejected(run_disa("llm anchor --set trajectories=" + trajectories + " --out " + file, "CI=true"), named);
  expect_rejected(run_disa("llm train --set method=disa --set reference=" + dir_.string() + " --set trajectories=" +
                               trajectories + " --set anchors=" + trajectories + " --out " + file,
                           "CI=true"),
                  named);
  expect_rejected(run_disa("llm eval --set models=m=" + dir_.string() + " --out " + file, "CI=true"), named);
  expect_rejected(run_disa("llm pipeline --no-plot --out " + file, "CI=true"), named);
}

// A missing input was reported by whatever opened it first, without the key: "/x: no such
// file (give a tokenizer.json ...)", "'/x': cannot read it to fingerprint it". And a folder
// as --config was "not JSON".
TEST_F(LlmStageArguments, AMissingInputIsNamedByItsKey) {
  const std::string missing = path("missing");
  const std::string trajectories = path("t.jsonl");
  std::ofstream(trajectories) << "";
  const std::string out = " --out " + path("o");
  expect_rejected(run_disa("llm propose --set reference=" + missing + out, "CI=true"),
                  "propose: reference='" + missing + "': no such folder");
  expect_rejected(
      run_disa("llm propose --set reference=" + dir_.string() + " --set proposal=" + missing + out, "CI=true"),
      "propose: proposal='" + missing + "': no such folder");
  expect_rejected(run_disa("llm anchor --set trajectories=" + missing + out, "CI=true"),
                  "anchor: trajectories='" + missing + "': no such file");
  expect_rejected(run_disa("llm anchor --set trajectories=" + dir_.string() + out, "CI=true"),
                  "anchor: trajectories='" + dir_.string() + "' is a folder, not a file");
  expect_rejected(run_disa("llm train --set method=disa --set reference=" + dir_.string() +
                               " --set trajectories=" + trajectories + " --set anchors=" + missing + out,
                           "CI=true"),
                  "train: anchors='" + missing + "': no such file");
  expect_rejected(run_disa("llm eval --set models=m=" + dir_.string() + " --set anchors=" + missing + out, "CI=true"),
                  "eval: anchors='" + missing + "': no such file");
  expect_rejected(run_disa("llm eval --set models=m=" + missing + out, "CI=true"),
                  "eval: models='" + missing + "': no such folder");
  expect_rejected(run_disa("llm anchor --config " + dir_.string() + out, "CI=true"),
                  "anchor: --config: '" + dir_.string() + "' is a folder, not a file");
  EXPECT_FALSE(std::filesystem::exists(path("o")));
}

// An empty entry of a comma list was dropped: models=a=X,,b=Y evaluated a and b, whatever
// was meant between the commas; methods=disa,,grpo trained two methods.
TEST_F(LlmStageArguments, AnEmptyCommaListEntryIsNamed) {
  const std::string out = " --out " + path("o");
  const std::string models = "a=" + dir_.string() + ",,b=" + dir_.string();
  expect_rejected(run_disa("llm eval --set models=" + models + out, "CI=true"),
                  "eval: models='" + models + "': entry 2 is empty");
  expect_rejected(run_disa("llm eval --set models=a=" + dir_.string() + ", " + out, "CI=true"),
                  "eval: models='a=" + dir_.string() + ",': entry 2 is empty");
  expect_rejected(run_disa("llm eval --set models=a=" + dir_.string() + " --set tasks=,countdown" + out, "CI=true"),
                  "eval: tasks=',countdown': entry 1 is empty");
  EXPECT_FALSE(std::filesystem::exists(path("o")));
  // Before the in-house model is pretrained (methods=disa,,grpo began its 1500 steps).
  const std::string pipeline = "llm pipeline --no-plot --out " + path("p") + " --set ";
  expect_rejected(run_disa(pipeline + "methods=disa,,grpo", "CI=true"),
                  "pipeline: methods='disa,,grpo': entry 2 is empty");
  expect_rejected(run_disa(pipeline + "methods=,", "CI=true"), "pipeline: methods=',': entry 1 is empty");
  expect_rejected(run_disa(pipeline + "eval_tasks=countdown,,countdown:rl", "CI=true"),
                  "pipeline: eval_tasks='countdown,,countdown:rl': entry 2 is empty");
  EXPECT_FALSE(std::filesystem::exists(path("p/base")));
}

}  // namespace
