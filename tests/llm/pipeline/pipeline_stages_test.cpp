// The pipeline's stages on a tiny in-house model pretrained once for the whole suite:
// what propose writes (counts, log q vs log pi_ref, resume), the anchor against the
// estimator's formula, the trainer's first-step loss against the anchors' residuals,
// bit-identical resume, micro-batch accumulation, every method's diagnostics, eval.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "llm/model/pretrained.h"
#include "llm/model/scorer.h"
#include "llm/pipeline/anchor_stage.h"
#include "llm/pipeline/eval_stage.h"
#include "llm/pipeline/loaded_model.h"
#include "llm/pipeline/policy_trainer.h"
#include "llm/pipeline/prompt_task.h"
#include "llm/pipeline/propose.h"
#include "llm/pipeline/rollout.h"
#include "llm/pipeline/stage_files.h"
#include "llm/pipeline/trajectory_file.h"
#include "llm/tasks/countdown.h"
#include "llm/pretrain/pretrain_run.h"
#include "llm/tokenizer/char_tokenizer.h"
#include "llm/tokenizer/tokenizer.h"
#include "src/anchor.h"
#include "src/input_error.h"
#include "tests/util/errors.h"
#include "tests/util/shared_data.h"
#include "src/numerical_error.h"
#include "src/loss/diagnostics_merge.h"

namespace disa::llm::pipeline {
namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::vector<nlohmann::json> read_lines(const fs::path& p) {
  std::vector<nlohmann::json> out;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

// One tiny Countdown model, pretrained briefly, shared by every test.
class PipelineStages : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    torch::set_num_threads(1);
    root_ = fs::temp_directory_path() / ("disa_pipeline_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    pretrain::RunOptions p;
    p.out = root_ / "base";
    p.training.model_size = "tiny";
    p.training.steps = 600;  // ~5 s; held-out accuracy ~0.14, so rewards and advantages are not all zero
    p.training.batch_size = 32;
    p.run_eval = false;
    pretrain::run_pretraining(p);
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  static ProposeOptions propose_defaults(const fs::path& out) {
    ProposeOptions o;
    o.reference = root_ / "base";
    o.out = out;
    o.prompts = 6;
    o.samples = 4;
    o.max_new_tokens = 12;
    o.chunk_prompts = 2;
    o.batch_size = 7;
    return o;
  }
  // A copy of the base model at root_/NAME (weights, config, tokenizer, task), for a test
  // that changes a model or its task at its path.
  static fs::path copy_of_base(const std::string& name) {
    const fs::path folder = root_ / name;
    fs::create_directories(folder);
    for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "task.json"}) {
      fs::copy_file(root_ / "base" / f, folder / f, fs::copy_options::overwrite_existing);
    }
    return folder;
  }
  // propose + anchor into root_/NAME, once per name.
  static fs::path prepared(const std::string& name, double beta = 2.0) {
    const fs::path dir = root_ / name;
    if (!fs::exists(dir / "anchor" / "anchors.jsonl")) {
      run_propose(propose_defaults(dir / "propose"));
      AnchorOptions a;
      a.trajectories = dir / "propose" / "trajectories.jsonl";
      a.out = dir / "anchor";
      a.beta = beta;
      a.min_ess = 0;  // 4 samples per prompt: keep every anchor (the drop policy has its own test)
      a.policy = "keep";
      run_anchor(a);
    }
    return dir;
  }
  static TrainOptions train_defaults(const fs::path& data, const std::string& method, const fs::path& out) {
    TrainOptions o;
    o.method = method;
    o.reference = root_ / "base";
    o.trajectories = data / "propose" / "trajectories.jsonl";
    o.anchors = data / "anchor" / "anchors.jsonl";
    o.out = out;
    o.steps = 2;
    o.prompts_per_step = 3;
    o.group_size = 4;
    o.max_new_tokens = 12;
    o.beta = 2.0;
    o.lr = 1e-2;
    return o;
  }
  // DISA's loss at step 1 over every trajectory of `o`'s file, where the policy is the
  // reference: the mean of (log Zhat(x) + 0 - beta r)^2.
  static double mean_squared_anchor_residual(const TrainOptions& o) {
    const std::vector<Trajectory> t = read_trajectories(o.trajectories);
    const std::map<std::string, double> log_z = usable_anchors(o.anchors, o.trajectories, o.beta);
    double sum = 0;
    for (const Trajectory& r : t) sum += std::pow(log_z.at(r.prompt_id) - o.beta * r.reward, 2);
    return sum / static_cast<double>(t.size());
  }
  static fs::path root_;
  void check_micro_batches_give_one_batch(const std::string& method);
};
fs::path PipelineStages::root_;

TEST_F(PipelineStages, ProposeWritesNPerPromptWithLogQEqualToLogRefForTheReference) {
  const fs::path dir = prepared("a");
  const std::vector<Trajectory> t = read_trajectories(dir / "propose" / "trajectories.jsonl");
  ASSERT_EQ(t.size(), 24u);
  for (std::size_t i = 0; i < t.size(); ++i) {
    EXPECT_EQ(t[i].prompt_index, static_cast<std::int64_t>(i / 4));
    EXPECT_EQ(t[i].sample, static_cast<std::int64_t>(i % 4));
    EXPECT_EQ(t[i].logq, t[i].logp_ref);  // q = pi_ref at temperature 1: the sampler's own log-probs
    double sum = 0;
    for (float v : t[i].logq) sum += v;
    EXPECT_NEAR(t[i].logq_sum, sum, 1e-9);
    EXPECT_TRUE(t[i].reward == 0 || t[i].reward == 1);
    EXPECT_EQ(t[i].reward == 1, t[i].reason == "correct");
  }
}

TEST_F(PipelineStages, AProposalAtAnotherTemperatureIsScoredByTheReference) {
  ProposeOptions o = propose_defaults(root_ / "hot" / "propose");
  o.temperature = 1.7;
  o.prompts = 2;
  run_propose(o);
  const std::vector<Trajectory> t = read_trajectories(o.out / "trajectories.jsonl");
  Transformer model = load_pretrained(root_ / "base", torch::kFloat32);
  std::vector<ScoreRequest> requests;
  for (const Trajectory& r : t) requests.push_back({r.prompt_tokens, r.tokens});
  const auto at_1 = score(*model, requests, 8, 1.0);
  const auto at_hot = score(*model, requests, 8, 1.7);
  double differs = 0;
  for (std::size_t i = 0; i < t.size(); ++i) {
    for (std::size_t k = 0; k < t[i].tokens.size(); ++k) {
      EXPECT_NEAR(t[i].logp_ref[k], at_1[i][k], 2e-5);  // log pi_ref: teacher-forced at temperature 1
      EXPECT_NEAR(t[i].logq[k], at_hot[i][k], 2e-5);    // log q: the tempered distribution drawn from
      differs = std::max(differs, std::abs(static_cast<double>(t[i].logq[k] - t[i].logp_ref[k])));
    }
  }
  EXPECT_GT(differs, 1e-3);
}

TEST_F(PipelineStages, ProposeResumesByteIdenticallyAndRefusesOtherOptions) {
  const fs::path dir = prepared("a");
  const std::string before = read(dir / "propose" / "trajectories.jsonl");
  fs::remove(dir / "propose" / "parts" / "part-00001.jsonl");
  fs::remove(dir / "propose" / "trajectories.jsonl");
  ProposeOptions o = propose_defaults(dir / "propose");
  const ProposeSummary s = run_propose(o);
  EXPECT_EQ(s.parts_reused, 2);
  EXPECT_EQ(read(dir / "propose" / "trajectories.jsonl"), before);
  // Another batch size (another padding) draws the same tokens; the log-probs move only
  // in the last bits that padded matrix products round differently.
  ProposeOptions other = propose_defaults(root_ / "rebatched");
  other.batch_size = 24;
  run_propose(other);
  const std::vector<Trajectory> a = read_trajectories(dir / "propose" / "trajectories.jsonl");
  const std::vector<Trajectory> b = read_trajectories(other.out / "trajectories.jsonl");
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].tokens, b[i].tokens) << i;
    EXPECT_NEAR(a[i].logq_sum, b[i].logq_sum, 1e-5) << i;
  }
  // ... so another batch size is another run: never resumed into this folder's parts.
  ProposeOptions rebatched = propose_defaults(dir / "propose");
  rebatched.batch_size = 24;
  try {
    run_propose(rebatched);
    FAIL() << "another batch size was resumed into the folder";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("batch_size"), std::string::npos) << e.what();
  }
  o.samples = 5;
  try {
    run_propose(o);
    FAIL() << "other options were accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("samples (was 4, now 5)"), std::string::npos) << e.what();
  }
}

TEST_F(PipelineStages, ProposeRefusesAShortOrForeignPartOnResume) {
  // A part is reused only when it holds exactly its prompts' samples in order.
  const fs::path dir = prepared("a");
  const fs::path part = dir / "propose" / "parts" / "part-00001.jsonl";
  const std::string whole = read(part);
  const auto expect_refused = [&](const std::string& text, const std::string& why) {
    {
      std::ofstream out(part, std::ios::binary | std::ios::trunc);
      out << text;
    }
    try {
      run_propose(propose_defaults(dir / "propose"));
      FAIL() << "a bad part was reused: " << why;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("part-00001.jsonl"), std::string::npos) << e.what();
    }
  };
  const std::size_t first_line = whole.find('\n') + 1;
  expect_refused(whole.substr(first_line), "holds 7 trajectories, expected 8 (2 prompts x 4 samples)");
  expect_refused(read(dir / "propose" / "parts" / "part-00000.jsonl"), "line 1 is prompt");
  expect_refused("", "holds 0 trajectories");
  // Restored, it is reused and the output is what it was.
  const std::string before = read(dir / "propose" / "trajectories.jsonl");
  {
    std::ofstream out(part, std::ios::binary | std::ios::trunc);
    out << whole;
  }
  EXPECT_EQ(run_propose(propose_defaults(dir / "propose")).parts_reused, 3);
  EXPECT_EQ(read(dir / "propose" / "trajectories.jsonl"), before);
}

// Sharding over machines (docs/scaling.md): shards m/M write parts m, m + M, ... into their
// own folders; the run that completes the folder takes them (shards_from), samples what no
// shard has, and writes the one-machine trajectories.jsonl byte for byte.
TEST_F(PipelineStages, ShardedProposeEqualsTheOneMachineRun) {
  const fs::path dir = prepared("a");  // 6 prompts, chunk 2: parts 0, 1, 2
  const std::string whole = read(dir / "propose" / "trajectories.jsonl");
  const fs::path shards = root_ / "shards";
  ProposeOptions s0 = propose_defaults(shards / "s0"), s1 = propose_defaults(shards / "s1");
  s0.shard_count = s1.shard_count = 3;
  s1.shard_index = 1;
  const ProposeSummary first = run_propose(s0);
  EXPECT_EQ(first.trajectories, 8);  // part 0: 2 prompts x 4 samples
  EXPECT_EQ(first.prompts, 2);       // the shard's own
  EXPECT_EQ(first.parts, 1);
  EXPECT_EQ(first.parts_total, 3);
  EXPECT_EQ(run_propose(s1).trajectories, 8);
  ProposeOptions idle = propose_defaults(shards / "s5");  // shard 5 of 8 over 3 parts: none
  idle.shard_count = 8;
  idle.shard_index = 5;
  const ProposeSummary none = run_propose(idle);
  EXPECT_EQ(none.parts, 0);
  EXPECT_EQ(none.trajectories, 0);
  EXPECT_TRUE(fs::exists(shards / "s0" / "parts" / "part-00000.jsonl"));
  EXPECT_FALSE(fs::exists(shards / "s0" / "parts" / "part-00001.jsonl"));
  EXPECT_FALSE(fs::exists(shards / "s0" / "trajectories.jsonl"));  // a shard is not the whole
  EXPECT_EQ(read(shards / "s1" / "parts" / "part-00001.jsonl"), read(dir / "propose" / "parts" / "part-00001.jsonl"));
  // Shard 2/3 never ran: the completing run samples part 2 itself. It may see the models
  // at another path (the shards' machine kept them elsewhere): their content decides.
  fs::copy(root_ / "base", shards / "base_here", fs::copy_options::recursive);
  ProposeOptions merge = propose_defaults(shards / "all");
  merge.reference = shards / "base_here";
  merge.shards_from = {shards / "s0", shards / "s1"};
  const ProposeSummary m = run_propose(merge);
  EXPECT_EQ(m.parts_copied, 2);
  EXPECT_EQ(m.parts_reused, 0);
  EXPECT_EQ(read(shards / "all" / "trajectories.jsonl"), whole);
  // A shard folder is never resumed as a whole run, nor as another shard.
  const auto expect_refused = [](ProposeOptions o, const std::string& why) {
    try {
      run_propose(o);
      FAIL() << "accepted: " << why;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  };
  expect_refused(propose_defaults(shards / "s0"), "shard (was \"0/3\", now absent)");
  ProposeOptions other_shard = s0;
  other_shard.shard_index = 2;
  expect_refused(other_shard, "shard (was \"0/3\", now \"2/3\")");
  // Parts sampled with other options are not taken, naming the folder and the option.
  ProposeOptions hot = propose_defaults(shards / "hot");
  hot.temperature = 1.5;
  hot.shard_count = 3;
  run_propose(hot);
  ProposeOptions wrong = propose_defaults(shards / "wrong");
  wrong.shards_from = {shards / "hot"};
  expect_refused(wrong, "shards_from '" + (shards / "hot").string() + "' was sampled with other options (temperature");
  wrong.shards_from = {root_ / "base"};
  expect_refused(wrong, "holds no options.json");
  EXPECT_FALSE(fs::exists(shards / "wrong" / "parts"));  // refused before anything was written
  // A damaged part in a shard folder is refused like a damaged own part.
  std::ofstream(shards / "s1" / "parts" / "part-00001.jsonl", std::ios::trunc) << "";
  ProposeOptions again = propose_defaults(shards / "again");
  again.shards_from = {shards / "s1"};
  expect_refused(again, "holds 0 trajectories");
}

TEST(OfflineDraws, ReadAStreamApartFromTheSamplersRows) {
  // propose draws row r's tokens from CounterRng(seed, r) (llm/model/sampler.h, r = prompt
  // index x N + sample); an offline group used to be drawn from CounterRng(seed, (step << 24)
  // + prompt index), the same numbers at step 0 (prompt i's picks = prompt 0's sample i's
  // uniforms). No offline stream may equal any sampler row's.
  for (const std::uint64_t seed : {1ull, 2ull, 12345ull}) {
    for (std::int64_t i = 0; i < 256; ++i) {
      const CounterRng offline = offline_draw_rng(seed, 0, i), row(seed, static_cast<std::uint64_t>(i));
      for (std::uint64_t k = 0; k < 4; ++k) EXPECT_NE(offline.uniform(k), row.uniform(k)) << seed << " " << i;
    }
  }
}

TEST(OnPolicySamplingSeeds, NoTwoStepsSeedsOrProposeRunsShareAKey) {
  // The sampler reads row r of a rollout batch from CounterRng(seed, r); on-policy steps
  // used seed * 1000003 + step + 1, on which (seed 0, step 1000003) met (seed 1, step 0)
  // and (seed 0, step s - 1) met a propose run at seed s.
  EXPECT_NE(on_policy_sampling_seed(0, 1000003), on_policy_sampling_seed(1, 0));
  std::set<std::uint64_t> keys;
  for (std::uint64_t seed = 0; seed < 64; ++seed) keys.insert(seed);  // propose's keys
  for (std::uint64_t seed = 0; seed < 64; ++seed) {
    for (std::int64_t step = 0; step < 1024; ++step) {
      EXPECT_TRUE(keys.insert(on_policy_sampling_seed(seed, step)).second) << seed << " " << step;
    }
  }
}

TEST(PromptSelection, ReadsAStreamApartFromTheSamplersRows) {
  // The prompts of a step were drawn from CounterRng(seed, 0x5e1ec7000000 + step), propose's
  // key: row 0x5e1ec7000000 + step of a propose run at that seed read the same numbers.
  for (const std::uint64_t seed : {1ull, 2ull, 12345ull}) {
    for (std::int64_t step = 0; step < 64; ++step) {
      const CounterRng selection = prompt_selection_rng(seed, step);
      const CounterRng row(seed, 0x5e1ec7000000ull + static_cast<std::uint64_t>(step));
      const CounterRng first_rows(seed, static_cast<std::uint64_t>(step));
      for (std::uint64_t k = 0; k < 4; ++k) {
        EXPECT_NE(selection.uniform(k), row.uniform(k)) << seed << " " << step;
        EXPECT_NE(selection.uniform(k), first_rows.uniform(k)) << seed << " " << step;
      }
    }
  }
}

TEST(ProposeOptionsTest, TheShardKeyIsCheckedByName) {
  const auto options = [](std::vector<std::string> sets) {
    sets.push_back("reference=base");
    StageConfig c = StageConfig::load("propose", "", sets);
    return propose_options(c);
  };
  const ProposeOptions o = options({"shard=2/5"});
  EXPECT_EQ(o.shard_index, 2);
  EXPECT_EQ(o.shard_count, 5);
  EXPECT_EQ(options({"shards_from=a,b/c"}).shards_from,
            (std::vector<fs::path>{fs::current_path() / "a", fs::current_path() / "b" / "c"}));
  for (const std::string bad : {"5/5", "-1/2", "1/0", "1", "a/2", "1/2x", "/2", "1/"}) {
    try {
      options({"shard=" + bad});
      ADD_FAILURE() << "accepted shard=" << bad;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("shard='" + bad + "'"), std::string::npos) << e.what();
    }
  }
  for (const std::string bad : {"shards_from=a,,b", "shards_from=a,"}) {
    EXPECT_THROW(options({bad}), InputError) << bad;
  }
  EXPECT_THROW(options({"shard=0/2", "shards_from=a"}), InputError);
}

TEST_F(PipelineStages, TheOutputVocabularyIsTheTokenizers) {
  Transformer model = load_pretrained(root_ / "base", torch::kFloat32);
  const std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(root_ / "base");
  match_output_vocabulary(*model, *tokenizer, "base");
  EXPECT_EQ(model->output_vocabulary(), tokenizer->vocab_size());
  // A tokenizer with more ids than the model has output rows is refused, naming both.
  std::string chars;
  for (int c = 33; c < 33 + static_cast<int>(model->config().vocab_size) + 5; ++c) chars += static_cast<char>(c);
  const CharTokenizer wide(chars, {"<eos>"}, "<eos>");
  try {
    match_output_vocabulary(*model, wide, "wide");
    FAIL() << "a tokenizer wider than the model was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("model 'wide': its tokenizer has"), std::string::npos) << e.what();
  }
}

TEST_F(PipelineStages, ATrajectoryWhoseSumsDisagreeWithItsTokensIsRefused) {
  const fs::path dir = prepared("a");
  nlohmann::json line = read_lines(dir / "propose" / "trajectories.jsonl").front();
  EXPECT_NO_THROW(trajectory_from_json(line, "line 1"));
  nlohmann::json stale = line;
  stale["logq_sum"] = line["logq_sum"].get<double>() + 0.5;
  try {
    trajectory_from_json(stale, "line 1");
    FAIL() << "a stale logq_sum was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("line 1: 'logq_sum' is"), std::string::npos) << e.what();
  }
  stale = line;
  stale["logp_ref"][0] = line["logp_ref"][0].get<double>() - 1.0;
  EXPECT_THROW(trajectory_from_json(stale, "line 1"), InputError);
}

// The error of trajectory_from_json(j), or "" when it accepts j.
std::string trajectory_error(const nlohmann::json& j) {
  try {
    trajectory_from_json(j, "line 1");
    return "";
  } catch (const InputError& e) {
    return e.what();
  }
}

TEST_F(PipelineStages, TrajectoryIntegersLogProbsAndFinishAreCheckedByField) {
  const fs::path dir = prepared("a");
  const nlohmann::json line = read_lines(dir / "propose" / "trajectories.jsonl").front();
  ASSERT_EQ(trajectory_error(line), "");
  ASSERT_FALSE(line["tokens"].empty());
  const auto with = [&](const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json j = line;
    edit(j);
    return trajectory_error(j);
  };
  const auto expect_refused = [&](const std::function<void(nlohmann::json&)>& edit, const std::string& needle) {
    const std::string error = with(edit);
    EXPECT_NE(error.find(needle), std::string::npos) << "wanted '" << needle << "', got: '" << error << "'";
  };
  // Integers through a double and a cast: 0.9 would become prompt 0, 1e30 undefined
  // behaviour, 1.7 token 1, 2^31 a negative token id.
  expect_refused([](auto& j) { j["prompt_index"] = 0.9; }, "line 1: field 'prompt_index' = 0.9 must be an integer");
  expect_refused([](auto& j) { j["prompt_index"] = 1.0; }, "field 'prompt_index' = 1.0 must be an integer");
  expect_refused([](auto& j) { j["sample"] = 1e30; }, "field 'sample' = 1e+30 must be an integer");
  expect_refused([](auto& j) { j["sample"] = -1; }, "field 'sample' = -1 must be an integer in [0, ");
  expect_refused([](auto& j) { j["tokens"][0] = 1.7; },
                 "field 'tokens[0]' = 1.7 must be an integer in [0, 2147483647]");
  expect_refused([](auto& j) { j["tokens"][0] = 2147483648LL; }, "field 'tokens[0]' = 2147483648 must be an integer");
  expect_refused([](auto& j) { j["prompt_tokens"][1] = -3; }, "field 'prompt_tokens[1]' = -3 must be an integer");
  expect_refused([](auto& j) { j["prompt_index"] = "3"; }, "field 'prompt_index' = \"3\" must be an integer");
  expect_refused([](auto& j) { j["finish"] = "eof"; }, "field 'finish' = 'eof' must be eos, stop or length");
  for (const char* finish : {"eos", "stop", "length"}) {
    EXPECT_EQ(with([&](auto& j) { j["finish"] = finish; }), "") << finish;
  }
  // A probability is at most 1: a positive log-prob (its sum kept consistent, so that only
  // the sign refuses it) is refused; 0 (a token of probability 1) and rounding are not.
  const auto set_logq0 = [&](double v) {
    return [&line, v](nlohmann::json& j) {
      j["logq_sum"] = line["logq_sum"].get<double>() - line["logq"][0].get<double>() + v;
      j["logq"][0] = v;
    };
  };
  expect_refused(set_logq0(0.5), "line 1: token 0 has a positive log-prob (logq 0.5");
  EXPECT_EQ(with(set_logq0(0.0)), "");
  EXPECT_EQ(with(set_logq0(5e-7)), "");
  expect_refused(
      [&](nlohmann::json& j) {
        j["logp_ref_sum"] = line["logp_ref_sum"].get<double>() - line["logp_ref"][0].get<double>() + 1e-3;
        j["logp_ref"][0] = 1e-3;
      },
      "has a positive log-prob");
  // Read from a file, the error names the file and the line.
  const fs::path file = root_ / "bad_trajectories.jsonl";
  nlohmann::json bad = line;
  bad["sample"] = 0.9;
  std::ofstream(file) << line.dump() << "\n" << bad.dump() << "\n";
  try {
    read_trajectories(file);
    FAIL() << "a fractional sample was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(file.string() + "' line 2: field 'sample' = 0.9"), std::string::npos)
        << e.what();
  }
}

TEST_F(PipelineStages, ARolloutCutOffAtTheTokenLimitIsNotVerified) {
  // A task that would accept anything: a completion that hit max_new_tokens still gets
  // reward 0 (reason "truncated"), since its last number may be the prefix of another;
  // one that stopped at EOS is verified.
  struct AcceptsEverything : PromptTask {
    const PromptTask& inner;
    explicit AcceptsEverything(const PromptTask& t) : inner(t) {}
    std::string name() const override { return "accepts_everything"; }
    std::vector<TaskPrompt> prompts(PromptSplit split, std::int64_t count) const override {
      return inner.prompts(split, count);
    }
    TaskVerdict verify(const TaskPrompt&, std::string_view) const override {
      return {.reward = 1, .reason = "correct", .signature = "", .strategy = ""};
    }
  };
  LoadedModel m = load_model(root_ / "base", torch::kCPU);
  const auto countdown = make_task("countdown", root_ / "base", "", *m.tokenizer);
  const AcceptsEverything task(*countdown);
  const std::vector<TaskPrompt> prompts = task.prompts(PromptSplit::kTrain, 4);
  std::size_t cut = 0, finished = 0;
  for (const std::int64_t limit : {1, 3, 32}) {
    const std::vector<Rollout> rollouts = roll_out(*m.model, *m.tokenizer, m.stop_ids, task, prompts, 4,
                                                   SamplingOptions{.max_new_tokens = limit, .seed = 5}, 8, "k");
    for (const Rollout& r : rollouts) {
      if (r.completion.finish == FinishReason::kLength) {
        ++cut;
        EXPECT_EQ(r.verdict.reward, 0) << r.response;
        EXPECT_EQ(r.verdict.reason, "truncated") << r.response;
      } else {
        ++finished;
        EXPECT_EQ(r.verdict.reward, 1) << r.response;
      }
    }
  }
  EXPECT_GT(cut, 0u);
  EXPECT_GT(finished, 0u);
  // Rollouts beyond the memory budget are refused by the caller's name for the count,
  // before any is sampled (eval's k = 10^11 was a std::bad_alloc).
  EXPECT_TRUE(disa::test::contains_all(disa::test::input_error_message([&] {
                                         roll_out(*m.model, *m.tokenizer, m.stop_ids, task, prompts, 100000000000,
                                                  SamplingOptions{.max_new_tokens = 8, .seed = 5}, 8, "k");
                                       }),
                                       {"k=100000000000", "4 prompts", "budget"}));
}

TEST_F(PipelineStages, ACountdownCountBeyondTheSplitGivesTheWholeSplit) {
  // As for a benchmark; the split's size is counted by enumeration, not found by drawing
  // until a limit (a minute for the defaults, prompts = 256 and 200).
  const std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(root_ / "base");
  const auto task = make_task("countdown", root_ / "base", "", *tokenizer);
  for (const PromptSplit split : {PromptSplit::kTrain, PromptSplit::kEval}) {
    const std::vector<TaskPrompt> all = task->prompts(split, 1000000);
    ASSERT_GT(all.size(), 8u);
    ASSERT_LT(all.size(), 1000u);
    std::set<std::string> texts;
    for (const TaskPrompt& p : all) texts.insert(p.text);
    EXPECT_EQ(texts.size(), all.size());  // distinct problems
    // The first n of the whole split are the split's first n.
    const std::vector<TaskPrompt> first = task->prompts(split, 8);
    for (std::size_t i = 0; i < first.size(); ++i) EXPECT_EQ(first[i].text, all[i].text);
    // One more than the split is the split.
    EXPECT_EQ(task->prompts(split, static_cast<std::int64_t>(all.size()) + 1).size(), all.size());
  }
  // The split's size, counted independently: every ordered tuple of numbers (not the
  // task's non-decreasing enumeration), deduplicated by its sorted key, with the task's
  // target rule, split and FNV-1a half (bit 7). An under-count would show here.
  countdown::TaskConfig config;  // the in-house model's task.json (the defaults)
  const auto made = nlohmann::json::parse(read(root_ / "base" / "task.json"))["config"];
  config.count = made["count"].get<int>();
  config.max_number = made["max_number"].get<std::int64_t>();
  config.min_target = made["min_target"].get<std::int64_t>();
  config.max_target = made["max_target"].get<std::int64_t>();
  config.min_solutions = made["min_solutions"].get<int>();
  config.eval_per_mille = made["eval_per_mille"].get<int>();
  ASSERT_LE(config.count, 4);
  std::set<std::string> halves[2];
  std::vector<std::int64_t> tuple(static_cast<std::size_t>(config.count), 1);
  while (true) {
    std::vector<std::int64_t> sorted = tuple;
    std::sort(sorted.begin(), sorted.end());
    for (const auto& [value, solutions] : countdown::solve_all(tuple)) {
      if (!value.is_integer() || value.num < config.min_target || value.num > config.max_target ||
          static_cast<int>(solutions.size()) < config.min_solutions) {
        continue;
      }
      if (countdown::split_of({tuple, value.num}, config) != countdown::Split::kEval) continue;
      std::string key = std::to_string(value.num);
      for (const std::int64_t n : sorted) key += fmt::format(",{}", n);
      std::uint64_t h = 1469598103934665603ull;
      for (const char c : key) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
      halves[(h >> 7) & 1u].insert(key);  // half 0: evaluation, half 1: RL
    }
    int i = 0;  // the next tuple, odometer order
    while (i < config.count && tuple[i] == config.max_number) tuple[i++] = 1;
    if (i == config.count) break;
    ++tuple[i];
  }
  EXPECT_EQ(task->prompts(PromptSplit::kEval, 1000000).size(), halves[0].size());
  EXPECT_EQ(task->prompts(PromptSplit::kTrain, 1000000).size(), halves[1].size());
}

TEST_F(PipelineStages, AnchorIsTheLogMeanOfTheImportanceWeights) {
  const fs::path dir = prepared("a");
  const std::vector<Trajectory> t = read_trajectories(dir / "propose" / "trajectories.jsonl");
  const std::vector<AnchorRecord> anchors = load_anchors((dir / "anchor" / "anchors.jsonl").string());
  ASSERT_EQ(anchors.size(), 6u);
  for (std::size_t p = 0; p < 6; ++p) {
    // q = pi_ref: log w = beta r, so log Zhat = log mean exp(beta r).
    double mean = 0;
    for (std::size_t j = 0; j < 4; ++j) mean += std::exp(2.0 * t[p * 4 + j].reward) / 4.0;
    EXPECT_EQ(anchors[p].prompt, t[p * 4].prompt_id);
    EXPECT_NEAR(anchors[p].log_z_hat, std::log(mean), 1e-12);
    EXPECT_DOUBLE_EQ(anchors[p].beta, 2.0);
    bool no_reward = true;
    for (std::size_t j = 0; j < 4; ++j) no_reward = no_reward && t[p * 4 + j].reward <= 0;
    const auto& f = anchors[p].flags;
    EXPECT_EQ(std::count(f.begin(), f.end(), kNoRewardObserved), no_reward ? 1 : 0) << p;
    EXPECT_EQ(std::count(f.begin(), f.end(), "policy:kept_unreliable"), no_reward ? 1 : 0) << p;
  }
  const nlohmann::json record = nlohmann::json::parse(read(dir / "anchor" / "anchor.json"));
  EXPECT_EQ(record["anchors_fingerprint"], file_fingerprint(dir / "anchor" / "anchors.jsonl"));
  // Anchors are taken only with the anchor.json that names their trajectories: copied
  // alone (they could be another seed's), they are refused.
  const fs::path alone = root_ / "anchors_alone";
  fs::create_directories(alone);
  fs::copy_file(dir / "anchor" / "anchors.jsonl", alone / "anchors.jsonl", fs::copy_options::overwrite_existing);
  try {
    usable_anchors(alone / "anchors.jsonl", dir / "propose" / "trajectories.jsonl", 2.0);
    FAIL() << "anchors without anchor.json were used";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("have no anchor.json beside them"), std::string::npos) << e.what();
  }
  EXPECT_EQ(usable_anchors(dir / "anchor" / "anchors.jsonl", dir / "propose" / "trajectories.jsonl", 2.0).size(),
            kept_anchors(anchors).size());
}

TEST_F(PipelineStages, PathsInOptionsAreOneSpellingSoAnyResumes) {
  // A pipeline resumed as --out ./P after --out P was refused ("trajectories (was "P/...",
  // now "./P/...")"), and anchors.jsonl recorded the path as typed.
  const fs::path dir = prepared("a");
  const fs::path trajectories = dir / "propose" / "trajectories.jsonl";
  const fs::path out = root_ / "spelling_anchor";
  std::string first_anchors;
  for (const fs::path spelled : {trajectories, dir / "." / "propose" / ".." / "propose" / "trajectories.jsonl",
                                 fs::relative(trajectories, fs::current_path())}) {
    StageConfig c = StageConfig::load("anchor", "", {"trajectories=" + spelled.string(), "beta=2", "min_ess=0"});
    AnchorOptions a = anchor_options(c);
    c.finish();
    EXPECT_EQ(a.trajectories, fs::weakly_canonical(trajectories)) << spelled;
    a.out = out;
    EXPECT_NO_THROW(run_anchor(a)) << spelled;
    if (first_anchors.empty()) first_anchors = read(out / "anchors.jsonl");
    EXPECT_EQ(read(out / "anchors.jsonl"), first_anchors) << spelled;
  }
  EXPECT_EQ(canonical_stage_path(""), fs::path());
}

TEST_F(PipelineStages, APromptNoSampleSolvedIsDropped) {
  // log Zhat = 0 with a CI of zero width says nothing of the reward's variation.
  const fs::path dir = prepared("a");
  const std::vector<Trajectory> t = read_trajectories(dir / "propose" / "trajectories.jsonl");
  AnchorOptions a;
  a.trajectories = dir / "propose" / "trajectories.jsonl";
  a.out = root_ / "one_reward_anchor";
  a.beta = 2.0;
  a.min_ess = 0;  // only the reward rule drops
  const AnchorSummary s = run_anchor(a);
  const std::map<std::string, double> usable = usable_anchors(a.out / "anchors.jsonl", a.trajectories, 2.0);
  std::int64_t no_reward_prompts = 0;
  for (std::size_t p = 0; p < 6; ++p) {
    bool no_reward = true;
    for (std::size_t j = 0; j < 4; ++j) no_reward = no_reward && t[p * 4 + j].reward <= 0;
    no_reward_prompts += no_reward;
    EXPECT_EQ(usable.count(t[p * 4].prompt_id), no_reward ? 0u : 1u) << p;
  }
  EXPECT_EQ(s.dropped, no_reward_prompts);
  EXPECT_EQ(s.unreliable, no_reward_prompts);
  // The summary says why (q = pi_ref: two-valued weights, no k_hat to flag).
  EXPECT_EQ(s.unreliable_reasons, (std::map<std::string, std::int64_t>{{"no_reward_observed", no_reward_prompts}}));
  EXPECT_EQ(describe_unreliable(s),
            fmt::format("{} unreliable (no_reward_observed {})", no_reward_prompts, no_reward_prompts));
  EXPECT_EQ(read_json_file(a.out / "anchor.json")["unreliable_reasons"]["no_reward_observed"], no_reward_prompts);
  // The test is only a test if both kinds occur (the tiny model solves some prompts).
  EXPECT_GT(no_reward_prompts, 0);
  EXPECT_LT(no_reward_prompts, 6);
}

TEST_F(PipelineStages, PsisDoesNotKeepAPromptNoSampleSolved) {
  // A proposal at temperature 4 (log q != log pi_ref) gives varied weights, so PSIS fits a
  // tail, but three-token answers are all wrong: smoothing cannot supply the missing reward.
  ProposeOptions o = propose_defaults(root_ / "hot_short" / "propose");
  o.temperature = 4.0;
  o.prompts = 2;
  o.samples = 128;
  o.max_new_tokens = 3;
  run_propose(o);
  AnchorOptions a;
  a.trajectories = o.out / "trajectories.jsonl";
  a.out = root_ / "hot_short" / "anchor";
  a.policy = "psis";
  a.min_ess = 0;
  run_anchor(a);
  const std::vector<AnchorRecord> anchors = load_anchors((a.out / "anchors.jsonl").string());
  ASSERT_EQ(anchors.size(), 2u);
  int smoothable = 0;
  for (const AnchorRecord& r : anchors) {
    const auto& f = r.flags;
    EXPECT_EQ(std::count(f.begin(), f.end(), kNoRewardObserved), 1) << r.prompt;
    EXPECT_EQ(std::count(f.begin(), f.end(), "policy:dropped"), 1) << r.prompt;
    EXPECT_EQ(std::count(f.begin(), f.end(), "policy:psis"), 0) << r.prompt;
    smoothable += std::isfinite(r.log_z_psis);
  }
  EXPECT_GT(smoothable, 0);  // the psis branch was open: PSIS had a value to offer
}

TEST_F(PipelineStages, TheDropPolicyRemovesUnreliablePromptsFromTraining) {
  const fs::path dir = prepared("a");
  AnchorOptions a;
  a.trajectories = dir / "propose" / "trajectories.jsonl";
  a.out = root_ / "strict_anchor";
  a.min_ess = 4;  // = N: only equal weights reach it, and equal rewards are unreliable anyway (above N is refused)
  const AnchorSummary s = run_anchor(a);
  EXPECT_EQ(s.dropped, 6);
  EXPECT_TRUE(std::isnan(s.mean_log_z_hat));  // the mean of the kept anchors: there are none
  EXPECT_TRUE(usable_anchors(a.out / "anchors.jsonl", a.trajectories, 1.0).empty());
  TrainOptions o = train_defaults(dir, "disa", root_ / "strict_train");
  o.anchors = a.out / "anchors.jsonl";
  EXPECT_THROW(run_train(o), InputError);
}

TEST_F(PipelineStages, AnchorsOfAnotherBetaOrOtherTrajectoriesAreRefusedByName) {
  const fs::path dir = prepared("a");  // anchored at beta 2
  // disa at beta 1 (or loss.beta=1) on log Zhat at beta 2 would train toward the wrong p*.
  for (const std::vector<std::string>& loss : {std::vector<std::string>{}, std::vector<std::string>{"beta=1"}}) {
    TrainOptions o = train_defaults(dir, "disa", root_ / "beta_mismatch");
    if (loss.empty()) o.beta = 1.0;
    o.loss_settings = loss;
    try {
      run_train(o);
      FAIL() << "anchors at beta 2 were accepted for a head at beta 1";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("has beta=2 but the loss head trains at beta=1"), std::string::npos)
          << e.what();
    }
  }
  // grpo reads only which prompts survived: any beta will do.
  TrainOptions g = train_defaults(dir, "grpo", root_ / "beta_grpo");
  g.beta = 1.0;
  g.steps = 1;
  EXPECT_NO_THROW(run_train(g));
  // Anchors estimated from other trajectories (another proposal set) belong to another run.
  ProposeOptions p = propose_defaults(root_ / "other_propose");
  p.seed = 99;
  run_propose(p);
  TrainOptions o = train_defaults(dir, "disa", root_ / "other_trajectories");
  o.trajectories = p.out / "trajectories.jsonl";
  try {
    run_train(o);
    FAIL() << "anchors of other trajectories were accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("were estimated from trajectories with fingerprint " +
                                         file_fingerprint(dir / "propose" / "trajectories.jsonl")),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find(file_fingerprint(o.trajectories)), std::string::npos) << e.what();
  }
  // disa-online's rollouts must be capped where the anchors' proposals were (12 tokens).
  TrainOptions online = train_defaults(dir, "disa-online", root_ / "other_cap");
  online.max_new_tokens = 20;
  try {
    run_train(online);
    FAIL() << "disa-online with another length cap than the anchors' was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("max_new_tokens=20 but the anchors' trajectories were proposed with "
                                         "max_new_tokens=12"),
              std::string::npos)
        << e.what();
  }
  // ... and it must be able to tell: trajectories without their propose.json are refused.
  const fs::path bare = root_ / "bare_trajectories";
  fs::create_directories(bare);
  fs::copy_file(dir / "propose" / "trajectories.jsonl", bare / "trajectories.jsonl", fs::copy_options::overwrite_existing);
  TrainOptions unknown_cap = train_defaults(dir, "disa-online", root_ / "unknown_cap");
  unknown_cap.trajectories = bare / "trajectories.jsonl";
  try {
    run_train(unknown_cap);
    FAIL() << "disa-online without propose.json was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("needs the propose.json beside"), std::string::npos) << e.what();
  }
}

TEST_F(PipelineStages, AnchorRefusesARepeatedSampleOrAPromptIdOfTwoPrompts) {
  const fs::path dir = prepared("a");
  const std::vector<nlohmann::json> lines = read_lines(dir / "propose" / "trajectories.jsonl");
  ASSERT_GE(lines.size(), 8u);
  const auto anchor_of = [&](const std::string& name, const std::vector<nlohmann::json>& records) {
    fs::create_directories(root_ / name);
    {
      std::ofstream out(root_ / name / "trajectories.jsonl");
      for (const nlohmann::json& j : records) out << j.dump() << "\n";
    }
    AnchorOptions a;
    a.trajectories = root_ / name / "trajectories.jsonl";
    a.out = root_ / name / "anchor";
    a.min_ess = 0;
    try {
      run_anchor(a);
      return std::string();
    } catch (const InputError& e) {
      return std::string(e.what());
    }
  };
  EXPECT_EQ(anchor_of("splice_none", lines), "");
  // A sample given twice would count as two draws: a narrower CI and a higher ESS.
  std::vector<nlohmann::json> twice = lines;
  twice.insert(twice.begin() + 2, lines[1]);
  std::string error = anchor_of("splice_twice", twice);
  EXPECT_NE(error.find("prompt '" + lines[1]["prompt_id"].get<std::string>() +
                       "' sample 1 appears twice (trajectories 2 and 3"),
            std::string::npos)
      << error;
  // One prompt id, two prompts: records spliced from two runs.
  std::vector<nlohmann::json> index = lines;
  index[1]["prompt_index"] = index[1]["prompt_index"].get<std::int64_t>() + 100;
  error = anchor_of("splice_index", index);
  EXPECT_NE(error.find("has another prompt_index at trajectory 2 than at trajectory 1"), std::string::npos) << error;
  std::vector<nlohmann::json> tokens = lines;
  tokens[3]["prompt_tokens"].push_back(tokens[3]["prompt_tokens"][0]);
  error = anchor_of("splice_tokens", tokens);
  EXPECT_NE(error.find("has another prompt_tokens at trajectory 4 than at trajectory 1"), std::string::npos) << error;
}

TEST_F(PipelineStages, AnAnchorsFileOtherThanItsAnchorJsonNamesIsRefused) {
  // anchor.json ties anchors to trajectories only if it is known to describe the very
  // anchors.jsonl beside it: an edited one, or another run's beside a copied anchor.json,
  // is refused by train and by eval, naming both fingerprints.
  const fs::path dir = prepared("a");
  const fs::path copy = root_ / "edited_anchor";
  fs::create_directories(copy);
  for (const char* f : {"anchors.jsonl", "anchor.json"}) {
    fs::copy_file(dir / "anchor" / f, copy / f, fs::copy_options::overwrite_existing);
  }
  const fs::path trajectories = dir / "propose" / "trajectories.jsonl";
  EXPECT_EQ(usable_anchors(copy / "anchors.jsonl", trajectories, 2.0).size(),
            usable_anchors(dir / "anchor" / "anchors.jsonl", trajectories, 2.0).size());
  std::vector<AnchorRecord> records = load_anchors((copy / "anchors.jsonl").string());
  records[0].log_z_hat += 1.0;  // still a valid anchor file, but not the one estimated
  save_anchors(records, (copy / "anchors.jsonl").string());
  const std::string recorded = file_fingerprint(dir / "anchor" / "anchors.jsonl");
  const std::string actual = file_fingerprint(copy / "anchors.jsonl");
  ASSERT_NE(recorded, actual);
  const auto expect_refused = [&](const std::function<void()>& run) {
    try {
      run();
      ADD_FAILURE() << "an edited anchors.jsonl was used";
    } catch (const InputError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("anchors '" + (copy / "anchors.jsonl").string() + "' have fingerprint " + actual),
                std::string::npos)
          << what;
      EXPECT_NE(what.find("records anchors_fingerprint " + recorded), std::string::npos) << what;
    }
  };
  expect_refused([&] { usable_anchors(copy / "anchors.jsonl", trajectories, 2.0); });
  expect_refused([&] {
    TrainOptions o = train_defaults(dir, "disa", root_ / "edited_anchor_train");
    o.anchors = copy / "anchors.jsonl";
    run_train(o);
  });
  expect_refused([&] {
    EvalOptions e;
    e.models = {{"reference", root_ / "base"}};
    e.tasks = {"countdown:rl"};
    e.anchors = copy / "anchors.jsonl";
    e.out = root_ / "edited_anchor_eval";
    e.k = 1;
    e.max_new_tokens = 4;
    run_eval(e);
  });
}

TEST_F(PipelineStages, ATruncatedProposalFlagsEveryAnchorAndIsNotSmoothed) {
  // top_p < 1 gives q = 0 where pi_ref > 0: Zhat misses that mass, which no diagnostic of
  // the samples shows; propose.json beside the trajectories says so, and every anchor is
  // flagged (unreliable: dropped unless kept, and PSIS smoothing does not restore it).
  ProposeOptions p = propose_defaults(root_ / "truncated" / "propose");
  p.prompts = 2;
  p.top_p = 0.9;
  p.allow_truncated_proposal = true;
  run_propose(p);
  const auto anchors_of = [&](const fs::path& trajectories, const std::string& policy) {
    AnchorOptions a;
    a.trajectories = trajectories;
    a.out = trajectories.parent_path().parent_path() / ("anchor_" + policy);
    a.policy = policy;
    a.min_ess = 0;
    a.beta = 2.0;
    const AnchorSummary s = run_anchor(a);
    EXPECT_EQ(s.unreliable, s.prompts) << policy;
    return load_anchors((a.out / "anchors.jsonl").string());
  };
  const auto count = [](const AnchorRecord& r, const std::string& flag) {
    return std::count(r.flags.begin(), r.flags.end(), flag);
  };
  for (const std::string policy : {"keep", "drop", "psis"}) {
    const std::vector<AnchorRecord> anchors = anchors_of(p.out / "trajectories.jsonl", policy);
    ASSERT_EQ(anchors.size(), 2u);
    for (const AnchorRecord& r : anchors) {
      EXPECT_EQ(count(r, kProposalMissesTargetMass), 1) << policy << " " << r.prompt;
      EXPECT_EQ(count(r, policy == "keep" ? "policy:kept_unreliable" : "policy:dropped"), 1) << policy;
      EXPECT_EQ(count(r, "policy:psis"), 0) << policy;
    }
  }
  // Trajectories without their propose.json are taken as before: nothing says top_p.
  const fs::path bare = root_ / "truncated_bare" / "propose";
  fs::create_directories(bare);
  fs::copy_file(p.out / "trajectories.jsonl", bare / "trajectories.jsonl", fs::copy_options::overwrite_existing);
  for (const AnchorRecord& r : anchors_of(bare / "trajectories.jsonl", "keep")) {
    EXPECT_EQ(count(r, kProposalMissesTargetMass), 0) << r.prompt;
  }
  // anchor.json records how the proposal was read; a folder anchored from the same bytes
  // read as untruncated is not taken for this run.
  EXPECT_EQ(read_json_file(root_ / "truncated" / "anchor_keep" / "anchor.json")["options"]["proposal_truncated"], true);
  EXPECT_EQ(read_json_file(root_ / "truncated_bare" / "anchor_keep" / "anchor.json")["options"]["proposal_truncated"],
            false);
  fs::copy_file(p.out / "propose.json", bare / "propose.json", fs::copy_options::overwrite_existing);
  try {
    anchors_of(bare / "trajectories.jsonl", "keep");
    FAIL() << "a folder anchored as untruncated was taken for a truncated proposal";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("holds a run with other options (proposal_truncated"), std::string::npos)
        << e.what();
  }
  // An untruncated proposal's anchors are not flagged.
  for (const AnchorRecord& r : load_anchors((prepared("a") / "anchor" / "anchors.jsonl").string())) {
    EXPECT_EQ(count(r, kProposalMissesTargetMass), 0) << r.prompt;
  }
  // A propose.json that does not say top_p is refused, naming it.
  std::ofstream(bare / "propose.json") << R"({"stage": "propose", "options": {"top_p": "0.9"}})";
  try {
    anchors_of(bare / "trajectories.jsonl", "drop");
    FAIL() << "a propose.json without a numeric top_p was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find((bare / "propose.json").string() + "': options.top_p = \"0.9\""),
              std::string::npos)
        << e.what();
  }
}

TEST_F(PipelineStages, TheModelFingerprintCoversTheTokenizer) {
  // A tokenizer changed at the same path must be a new run: its parts and samples were
  // tokenized another way.
  const fs::path folder = copy_of_base("changing_tokenizer");
  std::string last = model_fingerprint(folder);
  const auto changed = [&] {
    const std::string now = model_fingerprint(folder);
    const bool differs = now != last;
    last = now;
    return differs;
  };
  // The same tokenizer in other bytes (re-indented): not necessarily another tokenization,
  // but nothing short of comparing them could tell.
  const nlohmann::json tokenizer = nlohmann::json::parse(read(folder / "tokenizer.json"));
  std::ofstream(folder / "tokenizer.json") << tokenizer.dump(1);
  EXPECT_TRUE(changed());
  std::ofstream(folder / "tokenizer_config.json") << R"({"model_max_length": 64})";
  EXPECT_TRUE(changed());
  for (const char* name : {"chat_template.jinja", "vocab.json", "merges.txt"}) {
    std::ofstream(folder / name) << "x";
    EXPECT_TRUE(changed()) << name;
  }
  // generation_config.json is not hashed: the stop ids read from it are recorded as such.
  std::ofstream(folder / "generation_config.json") << "{}";
  EXPECT_FALSE(changed());
  // Eval of the model, then a tokenizer changed at its path: refused, not resumed.
  fs::remove(folder / "chat_template.jinja");
  fs::remove(folder / "vocab.json");
  fs::remove(folder / "merges.txt");
  fs::remove(folder / "tokenizer_config.json");
  EvalOptions e;
  e.models = {{"m", folder}};
  e.out = root_ / "eval_changing_tokenizer";
  e.prompts = 2;
  e.k = 1;
  e.max_new_tokens = 4;
  run_eval(e);
  std::ofstream(folder / "tokenizer.json") << tokenizer.dump(2);
  try {
    run_eval(e);
    FAIL() << "samples of the old tokenizer were reused";
  } catch (const InputError& err) {
    EXPECT_NE(std::string(err.what()).find("model_fingerprints.m"), std::string::npos) << err.what();
  }
}

TEST_F(PipelineStages, EvalRefusesATaskTwiceAModelNameThatIsNoFolderNameAndSamplesOfAnotherDevice) {
  EvalOptions e;
  e.models = {{"reference", root_ / "base"}};
  e.out = root_ / "eval_names";
  e.prompts = 2;
  e.k = 1;
  e.max_new_tokens = 4;
  const auto error_of = [](const std::function<void()>& run) {
    try {
      run();
      return std::string();
    } catch (const InputError& err) {
      return std::string(err.what());
    }
  };
  // A task twice would be counted twice in the average.
  EvalOptions twice = e;
  twice.tasks = {"countdown", "countdown"};
  std::string error = error_of([&] { run_eval(twice); });
  EXPECT_NE(error.find("eval: tasks: 'countdown' is given twice"), std::string::npos) << error;
  const std::string folder = (root_ / "base").string();
  error = error_of([&] {
    StageConfig c = StageConfig::load("eval", "", {"models=m=" + folder, "tasks=countdown,countdown:rl,countdown"});
    eval_options(c);
  });
  EXPECT_NE(error.find("'countdown' is given twice"), std::string::npos) << error;
  // A name is a folder: it must not reach outside OUT/samples, nor be empty or hidden.
  for (const std::string name : {"a/b", "..", ".", ".hidden", "", "a,b", "a b"}) {
    EvalOptions bad = e;
    bad.models = {{name, root_ / "base"}};
    error = error_of([&] { run_eval(bad); });
    EXPECT_NE(error.find("eval: models: name '" + name + "' must be letters, digits, '_', '-' and '.' (not first)"),
              std::string::npos)
        << error;
  }
  EXPECT_FALSE(fs::exists(root_ / "eval_names"));  // refused before anything was written
  error = error_of([&] {
    StageConfig c = StageConfig::load("eval", "", {"models=../up=" + folder});
    eval_options(c);
  });
  EXPECT_NE(error.find("name '../up' must be letters"), std::string::npos) << error;
  EvalOptions fine = e;
  fine.models = {{"Model_1.5-b", root_ / "base"}};
  EXPECT_NO_THROW(run_eval(fine));
  // The device is recorded like propose's: samples drawn on another device are another
  // run's. (Only CPU here, so the other device's folder is made by editing its record.)
  EXPECT_EQ(read_json_file(e.out / "options.json")["options"]["device"], "cpu");
  nlohmann::json record = read_json_file(e.out / "options.json");
  record["options"]["device"] = "cuda";
  std::ofstream(e.out / "options.json") << record.dump(2);
  error = error_of([&] { run_eval(fine); });
  EXPECT_NE(error.find("device (was \"cuda\", now \"cpu\")"), std::string::npos) << error;
}

TEST_F(PipelineStages, DisaFirstStepLossIsTheMeanSquaredAnchorResidual) {
  // At step 1 the policy is the reference, so each residual is log Zhat(x) + 0 - beta r.
  const fs::path dir = prepared("a");
  TrainOptions o = train_defaults(dir, "disa", root_ / "disa_first");
  o.steps = 1;
  o.prompts_per_step = 6;  // every prompt, every trajectory
  run_train(o);
  const double expected = mean_squared_anchor_residual(o);
  const auto lines = read_lines(o.out / "steps.jsonl");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NEAR(lines[0]["loss"].get<double>(), expected, 1e-4 * (1 + expected));
  EXPECT_EQ(lines[0]["samples"].get<int>(), 24);
  EXPECT_TRUE(fs::exists(o.out / "policy" / "model.safetensors"));
  EXPECT_TRUE(fs::exists(o.out / "policy" / "task.json"));
}

// Under bf16 autocast (bf16_on_cpu: the CUDA run's numerics on the CPU) the policy's
// log-probs carry bf16's rounding. The old and the reference log-probs set against them
// were float32 (the sampler's, propose's): the rounding became the ratio (GSPO's 3e-4
// clip) and DISA's residual. They now come from the same autocast forward.
TEST_F(PipelineStages, UnderBf16AutocastTheRatioAndTheResidualComeFromOneForward) {
  const fs::path dir = prepared("a");
  for (const std::string method : {"grpo", "gspo"}) {
    TrainOptions o = train_defaults(dir, method, root_ / ("bf16_" + method));
    o.steps = 1;
    o.lora_rank = 4;
    o.bf16_on_cpu = true;
    run_train(o);
    EXPECT_EQ(read_json_file(o.out / "options.json")["options"]["autocast"], "bf16") << method;
    const auto lines = read_lines(o.out / "steps.jsonl");
    ASSERT_EQ(lines.size(), 1u) << method;
    // Step 1: the rollouts' policy is the policy, so every ratio is 1, exactly.
    EXPECT_EQ(lines[0]["ppo_kl"].get<double>(), 0.0) << method;
    EXPECT_EQ(lines[0]["pg_clipfrac"].get<double>(), 0.0) << method;
  }
  // disa from q = pi_ref: at step 1 the policy is the reference (LoRA's B = 0), so each
  // residual is log Zhat(x) + 0 - beta r, as in float32 (DisaFirstStepLossIsTheMeanSquaredAnchorResidual).
  TrainOptions o = train_defaults(dir, "disa", root_ / "bf16_disa");
  o.steps = 1;
  o.prompts_per_step = 6;  // every prompt, every trajectory
  o.lora_rank = 4;
  o.bf16_on_cpu = true;
  run_train(o);
  const double expected = mean_squared_anchor_residual(o);
  const auto lines = read_lines(o.out / "steps.jsonl");
  ASSERT_EQ(lines.size(), 1u);
  // float32 rounding of log Zhat (the adapter's) and of the sum: far below bf16's ~4e-3 a token.
  EXPECT_NEAR(lines[0]["loss"].get<double>(), expected, 1e-5 * (1 + expected));
  // With the importance weight pi/q, a row proposed by q = pi_ref takes the reference's
  // autocast log-probs as its log q: at step 1 every weight is 1, exactly (1.0000011 with
  // propose's float32 log q).
  o.out = root_ / "bf16_disa_importance";
  o.loss_settings = {"weight=importance"};
  run_train(o);
  const auto weighted = read_lines(o.out / "steps.jsonl");
  ASSERT_EQ(weighted.size(), 1u);
  EXPECT_EQ(weighted[0]["weight_max"].get<double>(), 1.0);
}

// disa's rows carry the proposal's log pi_ref and its anchors are log Z under that pi_ref:
// trained from another reference they moved toward the first model's p*, silently. A copy
// of the same model (same files) is the same reference; the on-policy methods read the
// trajectories for their prompts only.
TEST_F(PipelineStages, DisaRefusesAReferenceOtherThanTheProposals) {
  const fs::path dir = prepared("a");
  const fs::path same = copy_of_base("same_reference");
  TrainOptions o = train_defaults(dir, "disa", root_ / "reference_copy");
  o.reference = same;
  o.steps = 1;
  EXPECT_NO_THROW(run_train(o));
  const fs::path other = copy_of_base("other_reference");
  nlohmann::json config = read_json_file(other / "config.json");
  config["rope_theta"] = config.value("rope_theta", 10000.0) * 2;  // another model at the same shape
  std::ofstream(other / "config.json") << config.dump();
  for (const std::string method : {"disa", "disa-online"}) {
    TrainOptions t = train_defaults(dir, method, root_ / ("other_reference_" + method));
    t.reference = other;
    EXPECT_TRUE(disa::test::contains_all(
        disa::test::input_error_message([&] { run_train(t); }),
        {"is not the model the trajectories were proposed with", "reference_fingerprint", other.string()}))
        << method;
    EXPECT_FALSE(fs::exists(t.out / "options.json")) << method;  // refused before the folder is claimed
  }
  TrainOptions grpo = train_defaults(dir, "grpo", root_ / "other_reference_grpo");
  grpo.reference = other;
  grpo.steps = 1;
  EXPECT_NO_THROW(run_train(grpo));
}

TEST_F(PipelineStages, AKilledRunResumesBitIdentically) {
  const fs::path dir = prepared("a");
  // grpo: with PPO's mini-batches and epochs, 3 x 2 updates a step (bf16 autocast: old
  // log-probs taken before the first).
  for (const std::string method : {"disa-online", "flowrl", "grpo"}) {
    TrainOptions whole = train_defaults(dir, method, root_ / ("whole_" + method));
    whole.steps = 4;
    whole.checkpoint_every = 1;
    whole.lora_rank = 4;
    if (method == "grpo") {
      whole.mini_batches = 3;
      whole.ppo_epochs = 2;
      whole.bf16_on_cpu = true;
    }
    run_train(whole);
    TrainOptions part = whole;
    part.out = root_ / ("part_" + method);
    part.stop_after = 2;
    EXPECT_FALSE(run_train(part).finished);
    part.stop_after = 0;
    // Another batch (padding moves the last bits of rollouts and scores) is another run: a
    // review resumed with batch_size 5 and ended at weights neither batch gives.
    TrainOptions rebatched = part;
    rebatched.batch_size = part.batch_size + 1;
    try {
      run_train(rebatched);
      ADD_FAILURE() << method << ": resumed with another batch_size";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("holds a run with other options (batch_size"), std::string::npos)
          << e.what();
    }
    TrainOptions resplit = part;
    resplit.mini_batches = part.mini_batches == 1 ? 2 : 1;
    EXPECT_TRUE(disa::test::contains_all(disa::test::input_error_message([&] { run_train(resplit); }),
                                         {"holds a run with other options", "mini_batches"}))
        << method;
    EXPECT_TRUE(run_train(part).finished);
    EXPECT_EQ(read(whole.out / "policy" / "model.safetensors"), read(part.out / "policy" / "model.safetensors")) << method;
    const auto a = read_lines(whole.out / "steps.jsonl"), b = read_lines(part.out / "steps.jsonl");
    ASSERT_EQ(a.size(), 4u);
    ASSERT_EQ(b.size(), 4u);
    for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(a[i]["loss"], b[i]["loss"]) << method << " step " << i + 1;
  }
}

TEST_F(PipelineStages, FlowRlDoesNotDependOnTheGlobalGenerator) {
  // Its log Z head is drawn from the counter-based RNG: the same run after other code
  // consumed LibTorch's global generator gives the same policy.
  const fs::path dir = prepared("a");
  TrainOptions a = train_defaults(dir, "flowrl", root_ / "flowrl_a");
  run_train(a);
  (void)torch::rand({1000});
  TrainOptions b = a;
  b.out = root_ / "flowrl_b";
  run_train(b);
  EXPECT_EQ(read(a.out / "policy" / "model.safetensors"), read(b.out / "policy" / "model.safetensors"));
  EXPECT_EQ(read_lines(a.out / "steps.jsonl")[1]["log_z_phi_mean"], read_lines(b.out / "steps.jsonl")[1]["log_z_phi_mean"]);
}

// disa averages over rows; grpo's default token-mean over the step's tokens and sft's over
// its kept rows' tokens: micro-batches of other mean lengths must be weighted by their
// share of those (loss::loss_denominator), not of rows, to give the one-batch step.
TEST_F(PipelineStages, MicroBatchesGiveTheOneBatchUpdate) {
  for (const std::string method : {"disa", "grpo", "sft"}) {
    SCOPED_TRACE(method);
    check_micro_batches_give_one_batch(method);
  }
}

void PipelineStages::check_micro_batches_give_one_batch(const std::string& method) {
  const fs::path dir = prepared("a");
  TrainOptions one = train_defaults(dir, method, root_ / ("micro_one_" + method));
  one.grad_clip = 0;  // compare the raw updates
  // One step: AdamW's first is about lr sign(g), so a weight whose gradient is at rounding
  // level may step the other way in one run (sft's largest weight difference was 3.5e-4 of
  // 2e-2 at seed 7), and from step 2 on the runs sample and score slightly different
  // policies (grad norms 3.7e-5 apart at seed 7): only the first step is one computation.
  one.steps = 1;
  run_train(one);
  TrainOptions split = one;
  split.out = root_ / ("micro_split_" + method);
  split.micro_batch_prompts = 1;
  run_train(split);
  const auto a_log = read_lines(one.out / "steps.jsonl"), b_log = read_lines(split.out / "steps.jsonl");
  ASSERT_EQ(a_log.size(), b_log.size());
  // The step's gradient is the statement: its norm agrees to float rounding (the order of
  // accumulation differs). A micro-batch weighted by its share of rows, not of the loss's
  // denominator, changes it.
  EXPECT_GT(a_log[0]["grad_norm"].get<double>(), 1e-4) << "a zero gradient would agree vacuously";
  for (std::size_t i = 0; i < a_log.size(); ++i) {
    const double norm = a_log[i]["grad_norm"].get<double>();
    EXPECT_NEAR(norm, b_log[i]["grad_norm"].get<double>(), 1e-5 * norm) << "step " << i + 1;
    // grpo's token-mean loss is sum_i A_i L_i / sum L at ratio 1: it cancels to float
    // rounding of O(1) terms (advantages of unit spread) when a group's lengths agree,
    // hence the absolute 1e-6.
    EXPECT_NEAR(a_log[i]["loss"].get<double>(), b_log[i]["loss"].get<double>(),
                1e-6 + 1e-5 * std::abs(a_log[i]["loss"].get<double>()))
        << "step " << i + 1;
  }
  // The weights after that step: on average over the weights the two runs agree (see above).
  Transformer a = load_pretrained(one.out / "policy"), b = load_pretrained(split.out / "policy"),
              ref = load_pretrained(root_ / "base");
  double diff = 0, moved = 0, largest_diff = 0;
  for (std::size_t i = 0; i < a->parameters().size(); ++i) {
    diff += (a->parameters()[i] - b->parameters()[i]).abs().sum().item<double>();
    moved += (a->parameters()[i] - ref->parameters()[i]).abs().sum().item<double>();
    largest_diff = std::max(largest_diff, (a->parameters()[i] - b->parameters()[i]).abs().max().item<double>());
  }
  std::printf("micro-batches (%s): sum |one - split| = %.3g, sum |one - reference| = %.3g, max |one - split| = %.3g\n",
              method.c_str(), diff, moved, largest_diff);
  EXPECT_GT(moved, 1e-4);
  EXPECT_LT(diff, 1e-3 * moved);
  std::size_t diagnostics = 0;
  for (std::size_t i = 0; i < a_log.size(); ++i) {
    // The heads' diagnostics merged over micro-batches (loss::DiagnosticsMerge) are the
    // one batch's: counts exactly, the rest to the float32 rounding of the model's
    // log-probs in other batch shapes (1e-6 absolute: ppo_kl is ~0 on-policy).
    for (const auto& [name, value] : a_log[i].items()) {
      if (name == "loss" || !value.is_number()) continue;
      try {
        (void)loss::diagnostic_rule(name);
      } catch (const std::logic_error&) {
        continue;  // not a head's diagnostic (step, seconds, accuracy, ...)
      }
      ++diagnostics;
      ASSERT_TRUE(b_log[i].contains(name)) << name;
      EXPECT_NEAR(value.get<double>(), b_log[i][name].get<double>(), 1e-6 + 1e-5 * std::abs(value.get<double>()))
          << name << " step " << i + 1;
    }
  }
  EXPECT_GT(diagnostics, 0u);
}

// PPO's mini-batches and epochs (mini_batches, ppo_epochs): a step's rows give
// mini_batches x ppo_epochs optimiser updates. With every prompt's every trajectory in
// each step, disa's one step of 2 epochs is the two steps of one epoch each: the same two
// AdamW updates on the same rows (in another order, hence rounding only).
TEST_F(PipelineStages, PpoEpochsAreUpdatesOnTheStepsRows) {
  const fs::path dir = prepared("a");
  TrainOptions steps = train_defaults(dir, "disa", root_ / "epochs_as_steps");
  steps.prompts_per_step = 6;  // every prompt
  steps.group_size = 4;        // every trajectory of each
  steps.grad_clip = 0;
  steps.steps = 2;
  run_train(steps);
  TrainOptions epochs = steps;
  epochs.out = root_ / "epochs";
  epochs.steps = 1;
  epochs.ppo_epochs = 2;
  run_train(epochs);
  EXPECT_EQ(read_json_file(epochs.out / "options.json")["options"]["ppo_epochs"], 2);
  const auto a = read_lines(steps.out / "steps.jsonl"), b = read_lines(epochs.out / "steps.jsonl");
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0]["updates"], 1);
  EXPECT_EQ(b[0]["updates"], 2);
  // The logged loss is the mean of the step's updates'.
  const double mean = (a[0]["loss"].get<double>() + a[1]["loss"].get<double>()) / 2;
  EXPECT_NE(a[0]["loss"], a[1]["loss"]) << "the first update must move the loss for this to test anything";
  EXPECT_NEAR(b[0]["loss"].get<double>(), mean, 1e-5 * mean);
  Transformer x = load_pretrained(steps.out / "policy"), y = load_pretrained(epochs.out / "policy"),
              ref = load_pretrained(root_ / "base");
  double diff = 0, moved = 0;
  for (std::size_t i = 0; i < x->parameters().size(); ++i) {
    diff += (x->parameters()[i] - y->parameters()[i]).abs().sum().item<double>();
    moved += (x->parameters()[i] - ref->parameters()[i]).abs().sum().item<double>();
  }
  std::printf("ppo epochs: sum |steps - epochs| = %.3g, sum |steps - reference| = %.3g\n", diff, moved);
  EXPECT_GT(moved, 1e-4);
  // One update instead of two moves the weights by about half of `moved`.
  EXPECT_LT(diff, 1e-3 * moved);
}

// With one update per step every ratio is 1 and clipping changes nothing; from the second
// mini-batch on, the policy has moved away from the one that sampled (whose log-probs
// stay the old ones), so the ratio moves and a tight clip range acts. Under bf16 autocast
// (bf16_on_cpu) the old log-probs are taken before the first update: recomputed per
// update instead, every ratio would be 1 again, exactly.
TEST_F(PipelineStages, MiniBatchesMoveTheRatioSoClippingActs) {
  const fs::path dir = prepared("a");
  std::map<std::string, nlohmann::json> first_step;
  for (const std::string run : {"one", "three", "three_unmoved"}) {
    TrainOptions o = train_defaults(dir, "grpo", root_ / ("mini_batches_" + run));
    o.steps = 1;
    o.prompts_per_step = 6;
    o.mini_batches = run == "one" ? 1 : 3;
    o.micro_batch_prompts = 1;  // the old log-probs' forward must be on the updates' micro-batches
    o.bf16_on_cpu = true;
    // An AdamW step of about 1e-12 a weight: below the float32 spacing of every weight
    // but those at 0 (norm offsets, biases), far below bf16's rounding of what they feed,
    // so every ratio is that of two forwards of one policy to the last bit.
    o.lr = run == "three_unmoved" ? 1e-12 : 1e-2;
    // A k1 KL term (gradient 1 a token) moves the policy even where a group's advantages are 0.
    o.loss_settings = {"clip_ratio=0.001", "kl_coef=0.1", "kl_estimator=k1"};
    run_train(o);
    const auto lines = read_lines(o.out / "steps.jsonl");
    ASSERT_EQ(lines.size(), 1u);
    first_step[run] = lines[0];
    if (run == "three_unmoved") {
      Transformer policy = load_pretrained(o.out / "policy"), ref = load_pretrained(root_ / "base");
      double largest = 0;
      for (std::size_t i = 0; i < policy->parameters().size(); ++i) {
        largest = std::max(largest, (policy->parameters()[i] - ref->parameters()[i]).abs().max().item<double>());
      }
      std::printf("lr 1e-12, 3 updates: largest weight change %.3g\n", largest);
      ASSERT_LT(largest, 1e-11);
    }
  }
  EXPECT_EQ(first_step["one"]["updates"], 1);
  EXPECT_EQ(first_step["one"]["ppo_kl"].get<double>(), 0.0);
  EXPECT_EQ(first_step["one"]["pg_clipfrac"].get<double>(), 0.0);
  EXPECT_EQ(first_step["three"]["updates"], 3);
  EXPECT_NE(first_step["three"]["ppo_kl"].get<double>(), 0.0);
  EXPECT_GT(first_step["three"]["pg_clipfrac"].get<double>(), 0.0);
  EXPECT_EQ(first_step["three_unmoved"]["ppo_kl"].get<double>(), 0.0);
  EXPECT_EQ(first_step["three_unmoved"]["pg_clipfrac"].get<double>(), 0.0);
}

// Each update's micro-batches are weighted by their share of the update's mini-batch's
// normaliser, not of the step's: at an lr too small to move the policy off the reference,
// disa's loss of each mini-batch is the mean squared anchor residual over its rows, and
// over two mini-batches of 12 rows each their mean is that over all 24 (half of it with
// the step's normaliser).
TEST_F(PipelineStages, EachUpdateIsNormalisedByItsMiniBatch) {
  const fs::path dir = prepared("a");
  TrainOptions o = train_defaults(dir, "disa", root_ / "mini_batch_normaliser");
  o.steps = 1;
  o.prompts_per_step = 6;  // every prompt, every trajectory
  o.mini_batches = 2;
  o.lr = 1e-12;
  run_train(o);
  const double expected = mean_squared_anchor_residual(o);
  const auto lines = read_lines(o.out / "steps.jsonl");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["updates"], 2);
  EXPECT_NEAR(lines[0]["loss"].get<double>(), expected, 1e-4 * (1 + expected));
}

// sft learns only from rewarded rows: a mini-batch without one has a normaliser of 0 and
// takes no update (AdamW would still move every weight by its momentum).
TEST_F(PipelineStages, AMiniBatchWithNothingToLearnFromTakesNoUpdate) {
  const fs::path dir = prepared("a");
  TrainOptions o = train_defaults(dir, "sft", root_ / "mini_batch_nothing_to_learn");
  o.steps = 1;
  o.prompts_per_step = 6;  // every prompt, every trajectory: one prompt a mini-batch
  o.mini_batches = 6;
  std::set<std::string> rewarded;
  for (const Trajectory& t : read_trajectories(o.trajectories)) {
    if (t.reward > 0) rewarded.insert(t.prompt_id);
  }
  ASSERT_GT(rewarded.size(), 0u);
  ASSERT_LT(rewarded.size(), 6u) << "every prompt has a rewarded row: nothing to skip";
  run_train(o);
  const auto lines = read_lines(o.out / "steps.jsonl");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["updates"], rewarded.size());
}

TEST_F(PipelineStages, MoreMiniBatchesThanPromptsAreRefusedByName) {
  const fs::path dir = prepared("a");
  StageConfig config = StageConfig::load(
      "train", "",
      {"method=grpo", "reference=" + (root_ / "base").string(),
       "trajectories=" + (dir / "propose" / "trajectories.jsonl").string(), "prompts_per_step=3", "mini_batches=4"});
  EXPECT_TRUE(disa::test::contains_all(disa::test::input_error_message([&] { train_options(config); }),
                                       {"mini_batches=4", "prompts_per_step=3"}));
  // Fewer usable prompts than prompts_per_step: refused when the step's size is known.
  TrainOptions o = train_defaults(dir, "grpo", root_ / "mini_batches_above_prompts");
  o.prompts_per_step = 8;
  o.mini_batches = 8;  // the file has 6 prompts
  EXPECT_TRUE(disa::test::contains_all(disa::test::input_error_message([&] { run_train(o); }),
                                       {"mini_batches=8", "only 6 prompts"}));
}

TEST_F(PipelineStages, EveryMethodLogsItsOwnDiagnostics) {
  const fs::path dir = prepared("a");
  const std::map<std::string, std::vector<std::string>> keys = {
      {"disa", {"residual_rms"}},         {"disa-online", {"residual_rms"}},
      {"flowrl", {"c_t", "log_z_phi_mean", "residual_rms"}},
      {"grpo", {"pg_clipfrac", "ppo_kl"}}, {"gspo", {"pg_clipfrac", "ppo_kl"}},
      {"sft", {"kept_sequences"}}};
  const std::map<std::string, double> log_z =
      usable_anchors(dir / "anchor" / "anchors.jsonl", dir / "propose" / "trajectories.jsonl", std::nullopt);
  for (const auto& [method, expected] : keys) {
    TrainOptions o = train_defaults(dir, method, root_ / ("method_" + method));
    o.lora_rank = 4;
    run_train(o);
    const auto lines = read_lines(o.out / "steps.jsonl");
    ASSERT_EQ(lines.size(), 2u) << method;
    for (const auto& line : lines) {
      EXPECT_TRUE(std::isfinite(line["loss"].get<double>())) << method;
      for (const std::string& k : expected) EXPECT_TRUE(line.contains(k)) << method << " lacks " << k;
    }
    if (method == "grpo" || method == "gspo") {
      EXPECT_NEAR(lines[0]["ppo_kl"].get<double>(), 0.0, 1e-4) << method;  // step 1: policy = sampler
    }
    if (method == "flowrl") {
      // log Z_phi starts at exactly 0, so c_1 = -mean log Zhat over the step's rows.
      EXPECT_DOUBLE_EQ(lines[0]["log_z_phi_mean"].get<double>(), 0.0);
      EXPECT_LE(lines[0]["c_t"].get<double>(), 0.0);
    }
  }
}

TEST_F(PipelineStages, EvalReportsMeanAtKFromItsSamplesAndReusesThem) {
  const fs::path dir = prepared("a");
  EvalOptions e;
  e.models = {{"reference", root_ / "base"}};
  e.out = root_ / "eval";
  e.prompts = 5;
  e.k = 4;
  e.max_new_tokens = 12;
  const std::vector<EvalRow> rows = run_eval(e);
  ASSERT_EQ(rows.size(), 1u);
  const auto samples = read_lines(e.out / "samples" / "reference" / "countdown.jsonl");
  ASSERT_EQ(samples.size(), 20u);
  double mean = 0;
  for (const auto& s : samples) mean += s["reward"].get<double>() / 20.0;
  EXPECT_NEAR(rows[0].metrics.mean_at_k, mean, 1e-12);
  EXPECT_EQ(rows[0].metrics.prompts, 5);
  const std::string csv = read(e.out / "results.csv");
  EXPECT_NE(csv.find("reference,countdown,5,4,"), std::string::npos) << csv;
  const std::vector<EvalRow> again = run_eval(e);  // from the samples files
  EXPECT_EQ(again[0].metrics.mean_at_k, rows[0].metrics.mean_at_k);
  // Samples drawn in batches of another size are another run's (padding moves the last bits).
  EvalOptions other_batch = e;
  other_batch.batch_size = e.batch_size + 1;
  try {
    run_eval(other_batch);
    FAIL() << "samples drawn in batches of " << e.batch_size << " were reused at " << other_batch.batch_size;
  } catch (const InputError& err) {
    EXPECT_NE(std::string(err.what()).find("holds a run with other options (batch_size"), std::string::npos)
        << err.what();
  }
}

TEST_F(PipelineStages, EvalOfTheRlPromptsIsTheAnchorsKeptPrompts) {
  // With anchors, TASK:rl is the prompts training used: dropped ones left out, whatever
  // `prompts` says.
  const fs::path dir = prepared("a");
  AnchorOptions a;
  a.trajectories = dir / "propose" / "trajectories.jsonl";
  a.out = root_ / "rl_eval_anchor";
  a.beta = 2.0;
  a.min_ess = 0;
  run_anchor(a);
  const std::map<std::string, double> kept = usable_anchors(a.out / "anchors.jsonl", a.trajectories, 2.0);
  ASSERT_GT(kept.size(), 0u);
  ASSERT_LT(kept.size(), 6u);  // some dropped (APromptNoSampleSolvedIsDropped)
  EvalOptions e;
  e.models = {{"reference", root_ / "base"}};
  e.tasks = {"countdown:rl"};
  e.anchors = a.out / "anchors.jsonl";
  e.out = root_ / "rl_eval";
  e.prompts = 2;  // not what decides the RL rows
  e.k = 1;
  e.max_new_tokens = 4;
  const std::vector<EvalRow> rows = run_eval(e);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].metrics.prompts, static_cast<std::int64_t>(kept.size()));
  std::set<std::string> seen;
  for (const auto& s : read_lines(e.out / "samples" / "reference" / "countdown:rl.jsonl")) {
    seen.insert(s["prompt_id"].get<std::string>());
  }
  std::set<std::string> wanted;
  for (const auto& [id, log_z] : kept) wanted.insert(id);
  EXPECT_EQ(seen, wanted);
  // The record says so: an eval folder of the first `prompts` RL prompts is another run.
  EXPECT_EQ(read_json_file(e.out / "options.json")["options"]["rl_prompts"], "the anchors' kept prompts");
}

// min_ess above N dropped every prompt by construction (ESS <= N), exit 0 and a mean
// log Zhat of nan; eval over the anchors' no kept prompt wrote nan metrics with exit 0.
TEST_F(PipelineStages, AnchorsThatKeepNoPromptAreRefusedOrNamed) {
  const fs::path dir = prepared("a");
  AnchorOptions a;
  a.trajectories = dir / "propose" / "trajectories.jsonl";
  a.out = root_ / "none_kept_anchor";
  a.beta = 2.0;
  a.min_ess = 4.5;  // 4 samples a prompt
  EXPECT_TRUE(disa::test::contains_all(disa::test::input_error_message([&] { run_anchor(a); }),
                                       {"min_ess=4.5 is above the 4 samples", "policy=drop would drop every prompt"}));
  // min_ess = N: only equal weights reach it, and equal rewards are unreliable anyway.
  a.min_ess = 4;
  const AnchorSummary summary = run_anchor(a);
  ASSERT_EQ(summary.dropped, summary.prompts);
  EvalOptions e;
  e.models = {{"reference", root_ / "base"}};
  e.tasks = {"countdown:rl"};
  e.anchors = a.out / "anchors.jsonl";
  e.out = root_ / "none_kept_eval";
  e.k = 1;
  e.max_new_tokens = 4;
  EXPECT_TRUE(disa::test::contains_all(disa::test::input_error_message([&] { run_eval(e); }),
                                       {"keep none of their 6 prompts"}));
  EXPECT_FALSE(fs::exists(e.out / "results.csv"));
}

TEST_F(PipelineStages, EvalRefusesSamplesOfAModelChangedAtItsPath) {
  // Samples are reused by model name: a model retrained at the same path must be a new
  // run (refused in this OUT), not scored from the old model's samples.
  const fs::path folder = copy_of_base("changing_model");
  EvalOptions e;
  e.models = {{"m", folder}};
  e.out = root_ / "eval_changing";
  e.prompts = 2;
  e.k = 2;
  e.max_new_tokens = 8;
  run_eval(e);
  Transformer model = load_pretrained(folder, torch::kFloat32);
  {
    torch::NoGradGuard no_grad;
    model->model->embed_tokens.mul_(1.5);
  }
  save_pretrained(*model, folder);
  try {
    run_eval(e);
    FAIL() << "the samples of the old weights were reused";
  } catch (const InputError& err) {
    EXPECT_NE(std::string(err.what()).find("model_fingerprints"), std::string::npos) << err.what();
  }
}

TEST_F(PipelineStages, EvalRefusesSamplesOfOtherPromptsUnderTheSameIds) {
  // Samples are reused by (model, task) name and the prompt ids are positions
  // ("countdown-eval-3"): a task.json whose seed changed makes other problems under the
  // same ids, which must be a new run, not scored from the old prompts' samples.
  const fs::path folder = copy_of_base("changing_task");
  EvalOptions e;
  e.models = {{"m", folder}};
  e.out = root_ / "eval_changing_task";
  e.prompts = 2;
  e.k = 1;
  e.max_new_tokens = 4;
  run_eval(e);
  nlohmann::json task = nlohmann::json::parse(read(folder / "task.json"));
  task["seed"] = task["seed"].get<std::int64_t>() + 1;
  std::ofstream(folder / "task.json") << task.dump(2);
  try {
    run_eval(e);
    FAIL() << "the samples of the old prompts were reused";
  } catch (const InputError& err) {
    EXPECT_NE(std::string(err.what()).find("prompts_fingerprints"), std::string::npos) << err.what();
  }
}

TEST_F(PipelineStages, RolloutsStopAtGenerationConfigEosIdsAndAChangedStopSetIsANewRun) {
  // HF generate() stops at generation_config.json's eos_token_id (Qwen2.5/Qwen3 instruct:
  // <|im_end|> and <|endoftext|>); so do the stages' rollouts, and since that file is
  // outside the weights' fingerprint, the stop set is recorded in the options.
  const fs::path folder = copy_of_base("gen_stop_model");
  fs::remove(folder / "generation_config.json");
  const std::int32_t eos = load_model(folder, torch::kCPU).eos;
  EXPECT_EQ(load_model(folder, torch::kCPU).stop_ids, std::vector<std::int32_t>{eos});
  ProposeOptions o = propose_defaults(root_ / "gen_stop" / "propose");
  o.reference = folder;
  o.prompts = 2;
  run_propose(o);
  EvalOptions e;
  e.models = {{"m", folder}};
  e.out = root_ / "gen_stop" / "eval";
  e.prompts = 2;
  e.k = 1;
  e.max_new_tokens = 4;
  run_eval(e);
  const std::vector<Trajectory> before = read_trajectories(o.out / "trajectories.jsonl");
  std::size_t row = 0;
  while (row < before.size() && before[row].tokens.size() < 2) ++row;
  ASSERT_LT(row, before.size()) << "no trajectory longer than one token";
  const std::int32_t extra = before[row].tokens[0];
  ASSERT_NE(extra, eos);
  std::ofstream(folder / "generation_config.json") << nlohmann::json{{"eos_token_id", extra}}.dump();
  const std::vector<std::int32_t> both = {std::min(eos, extra), std::max(eos, extra)};
  EXPECT_EQ(load_model(folder, torch::kCPU).stop_ids, both);
  EXPECT_EQ(stop_token_ids_of(folder), both);

  // The old folders are other runs now, refused by name rather than resumed.
  for (const auto& run : std::vector<std::function<void()>>{[&] { run_propose(o); }, [&] { run_eval(e); }}) {
    try {
      run();
      ADD_FAILURE() << "rollouts of the old stop set were reused";
    } catch (const InputError& err) {
      EXPECT_NE(std::string(err.what()).find("stop_token_ids"), std::string::npos) << err.what();
    }
  }
  // A fresh run stops at the new id: row `row` draws the same first token, and ends there.
  ProposeOptions fresh = o;
  fresh.out = root_ / "gen_stop" / "propose_again";
  run_propose(fresh);
  const std::vector<Trajectory> after = read_trajectories(fresh.out / "trajectories.jsonl");
  ASSERT_EQ(after.size(), before.size());
  EXPECT_EQ(after[row].tokens, std::vector<std::int32_t>{extra});
  EXPECT_EQ(after[row].finish, "eos");
  EXPECT_EQ(after[row].response, "");  // the stop token is cut from the response
  for (const Trajectory& t : after) {
    for (std::size_t k = 0; k + 1 < t.tokens.size(); ++k) EXPECT_NE(t.tokens[k], extra);
  }
  EXPECT_EQ(read_json_file(fresh.out / "options.json")["options"]["stop_token_ids"], nlohmann::json(both));

  // Online training records the stop set too, and its policy stops where its reference does.
  TrainOptions t = train_defaults(prepared("a"), "disa-online", root_ / "gen_stop" / "train");
  t.reference = folder;
  t.steps = 1;
  run_train(t);
  EXPECT_EQ(read_json_file(t.out / "options.json")["options"]["stop_token_ids"], nlohmann::json(both));
  EXPECT_EQ(stop_token_ids_of(t.out / "policy"), both);

  // A generation_config.json naming an id beyond the vocabulary is refused by name.
  std::ofstream(folder / "generation_config.json") << R"({"eos_token_id": [1, 100000]})";
  try {
    load_model(folder, torch::kCPU);
    FAIL() << "an eos_token_id beyond vocab_size was accepted";
  } catch (const InputError& err) {
    EXPECT_NE(std::string(err.what()).find("generation_config.json: field 'eos_token_id' = [1,100000]"),
              std::string::npos)
        << err.what();
  }
}

TEST_F(PipelineStages, AnUpdateThatBreaksThePolicyStopsBeforeAnythingIsSaved) {
  // lr 1e30: AdamW moves the LoRA factors to +-1e30 (finite), whose product overflows the
  // logits. Step 1 is also the last, so no later step's NaN check would see it.
  const fs::path dir = prepared("a");
  TrainOptions o = train_defaults(dir, "disa", root_ / "diverged");
  o.steps = 1;
  o.lr = 1e30;
  o.lora_rank = 4;
  try {
    run_train(o);
    FAIL() << "a policy with non-finite logits was saved";
  } catch (const NumericalError& e) {
    EXPECT_NE(std::string(e.what()).find("step 1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("not finite"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(o.out / "checkpoint.pt"));
  EXPECT_FALSE(fs::exists(o.out / "policy" / "model.safetensors"));
  EXPECT_FALSE(fs::exists(o.out / "train.json"));
  // With a second step, that step's forward pass meets the NaN first: a numerical
  // failure of training (the CLI's exit 1), not an InputError from the loss head (exit 2).
  TrainOptions two = train_defaults(dir, "disa", root_ / "diverged2");
  two.steps = 2;
  two.lr = 1e30;
  two.lora_rank = 4;
  two.checkpoint_every = 2;
  try {
    run_train(two);
    FAIL() << "training went on from a broken policy";
  } catch (const NumericalError& e) {
    EXPECT_NE(std::string(e.what()).find("step 2: the policy's log-probs are not finite"), std::string::npos)
        << e.what();
  }
}

TEST_F(PipelineStages, ProposeRefusesNonFiniteReferenceLogprobsBeforeWritingAPart) {
  // A reference whose logits are NaN: its final norm is FLT_MAX, finite (so loading, which
  // refuses NaN weights, passes it) but overflowing every hidden state to +-inf, and the
  // head's sums of +inf and -inf are NaN. q is the sound base model, so sampling succeeds
  // and the teacher-forced log pi_ref is what breaks.
  const fs::path broken = root_ / "nan_reference";
  fs::create_directories(broken);
  for (const char* f : {"tokenizer.json", "task.json"}) fs::copy_file(root_ / "base" / f, broken / f);
  Transformer model = load_pretrained(root_ / "base", torch::kFloat32);
  {
    torch::NoGradGuard no_grad;
    model->named_parameters()["model.norm.weight"].fill_(std::numeric_limits<float>::max());
  }
  save_pretrained(*model, broken);
  ProposeOptions o = propose_defaults(root_ / "nan_propose");
  o.reference = broken;
  o.proposal = root_ / "base";
  try {
    run_propose(o);
    FAIL() << "NaN log pi_ref was accepted";
  } catch (const NumericalError& e) {
    // The scorer stops on it (request 0, the first sample's first token).
    EXPECT_NE(std::string(e.what()).find("score: request 0 token 0: log-probability nan is not finite"),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(o.out / "parts" / "part-00000.jsonl"));  // no part for resumes to trust
}

TEST_F(PipelineStages, ConfigErrorsNameTheKey) {
  auto reject = [](const std::string& stage, std::vector<std::string> sets, const std::string& needle) {
    try {
      StageConfig c = StageConfig::load(stage, "", sets);
      if (stage == "train") train_options(c);
      if (stage == "propose") propose_options(c);
      c.finish();
      ADD_FAILURE() << "accepted: " << needle;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  const std::string base = "reference=" + (root_ / "base").string();
  reject("train", {base, "trajectories=t", "method=disa"}, "needs anchors");
  reject("train", {base, "trajectories=t", "anchors=a", "lr=-1"}, "lr=-1");
  reject("train", {base, "trajectories=t", "anchors=a", "method=ppo"}, "method=ppo");
  reject("train", {base, "trajectories=t", "anchors=a", "loss.no_such_option=1"}, "no_such_option");
  reject("train", {base, "trajectories=t", "anchors=a", "stepz=3"}, "stepz");
  // disa's beta is its head's loss.beta: given both ways, loss.beta won silently.
  reject("train", {base, "trajectories=t", "anchors=a", "method=disa", "beta=2", "loss.beta=3"},
         "beta=2 and loss.beta=3 are the same tilt");
  reject("train", {base, "method=grpo", "trajectories=t", "bf16=false", "bf16_on_cpu=true"},
         "bf16_on_cpu=true needs bf16=true");
  reject("propose", {base, "samples=2.5"}, "samples=2.5");
  reject("propose", {base, "top_p=0.9"}, "allow_truncated_proposal");
}

TEST(CodePromptTasks, PromptsWithSeveralRightAnswersAreTheOnesTheirStatementsSaySo) {
  // The eval counts these prompts (results.csv's prompts_judged_by_one_stored_answer): a
  // right answer other than the stored one scores 0 on them. The counts are the statement
  // readings of llm/verify (tests/llm/verify/code_benchmarks_test.cpp), reached through the
  // pipeline's task.
  const auto data = disa::test::shared_data_dir("codeforces");
  if (!data) GTEST_SKIP() << "needs ../shared/data (tokenizer and benchmarks) or $DISA_SHARED_DIR; a user's clone has none";
  const std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(*data / "tokenizer" / "qwen3");
  for (const auto& [spec, expected] : std::vector<std::pair<std::string, std::int64_t>>{
           {"codeforces", 59}, {"livecodebench", 5}, {"humaneval", 0}}) {
    const auto task = make_task(spec, "", *data, *tokenizer);
    const std::vector<TaskPrompt> prompts = task->prompts(PromptSplit::kEval, 0);
    std::int64_t flagged = 0;
    for (const TaskPrompt& p : prompts) {
      if (!task->judged_by_one_stored_answer(p)) continue;
      ++flagged;
      // "print any of them", ...; or an interactive problem (a stored transcript)
      EXPECT_TRUE(p.text.find("any") != std::string::npos || p.text.find("interactive") != std::string::npos)
          << spec << " " << p.id;
    }
    EXPECT_EQ(flagged, expected) << spec;
  }
  // A prompt that is not the task's is refused by its index, not read out of bounds.
  const auto codeforces = make_task("codeforces", "", *data, *tokenizer);
  EXPECT_THROW(codeforces->judged_by_one_stored_answer(TaskPrompt{.index = 408, .id = "", .text = "", .tokens = {}}),
               disa::InputError);
}

}  // namespace
}  // namespace disa::llm::pipeline
