// `disa train` as a user meets it: a run killed between checkpoints and resumed ends
// with the same metrics.csv bytes as an uninterrupted run (sampled and exact methods);
// bad settings are refused with exit 2 and one line naming the key; step 0 is the
// reference policy's exact KL, and disa-online lowers KL(pi || p*).
// Runs build/bin/disa (test::disa_binary()).

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/util/cli_harness.h"
#include "toy_envs/divergences.h"
#include "toy_envs/families/family.h"
#include "toy_envs/flows.h"

namespace {

using Result = disa::test::CliResult;
using disa::test::expect_rejected;

Result run(const std::string& args, const std::string& env = "") { return disa::test::run_disa(args, env); }

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// metrics.csv as a header and rows of cells (no quoting: cells are numbers and names).
struct Csv {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  double at(std::size_t row, const std::string& column) const {
    for (std::size_t i = 0; i < header.size(); ++i) {
      if (header[i] == column) return std::stod(rows.at(row).at(i));
    }
    ADD_FAILURE() << "no column " << column;
    return std::nan("");
  }
};

Csv read_csv(const std::string& path) {
  std::ifstream in(path);
  Csv csv;
  std::string line;
  bool first = true;
  while (std::getline(in, line)) {
    std::vector<std::string> cells(1);
    for (char c : line) {
      if (c == ',') {
        cells.emplace_back();
      } else {
        cells.back() += c;
      }
    }
    if (first) {
      csv.header = cells;
      first = false;
    } else {
      csv.rows.push_back(cells);
    }
  }
  return csv;
}

// A small tree: 3^3 = 27 leaves, so a step costs microseconds.
const std::string kPrompts = "--family random --family-set horizon=3 --seed 3";

class TrainCliTest : public disa::test::CliDirTest {
 protected:
  // Uninterrupted to 20 steps, against a run SIGKILLed after step `kill_at` (checkpoints
  // every 5; at a checkpoint step the kill falls between metrics.csv and checkpoint.json)
  // and resumed: metrics.csv must match byte for byte.
  void expect_resume_identical(const std::string& method_sets, int kill_at, std::size_t rows_on_disk) {
    const std::string common = "train " + kPrompts + " " + method_sets + " --set steps=20 ";
    const std::string whole_dir = path("whole" + std::to_string(++runs_)), killed_dir = path("killed" + std::to_string(runs_));
    const Result whole = run(common + "--out " + whole_dir);
    ASSERT_EQ(whole.exit_code, 0) << whole.output;

    const Result killed =
        run(common + "--checkpoint-every 5 --out " + killed_dir, "DISA_TRAIN_KILL_AFTER_STEP=" + std::to_string(kill_at));
    EXPECT_NE(killed.exit_code, 0) << killed.output;
    ASSERT_TRUE(std::filesystem::exists(killed_dir + "/checkpoint.json"));
    EXPECT_EQ(read_csv(killed_dir + "/metrics.csv").rows.size(), rows_on_disk);

    const Result resumed = run(common + "--checkpoint-every 5 --resume --out " + killed_dir);
    ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
    // From the checkpoint, not from scratch (which would give the same bytes too).
    const int checkpoint = kill_at / 5 * 5 - (kill_at % 5 == 0 ? 5 : 0);
    EXPECT_NE(resumed.output.find("steps " + std::to_string(checkpoint) + "..20 (resumed)"), std::string::npos)
        << resumed.output;
    EXPECT_EQ(read_csv(whole_dir + "/metrics.csv").rows.size(), 21u);
    EXPECT_EQ(read_text(killed_dir + "/metrics.csv"), read_text(whole_dir + "/metrics.csv")) << method_sets;
  }
  int runs_ = 0;
};

TEST_F(TrainCliTest, HelpExitsZero) {
  const Result r = run("train --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("--checkpoint-every"), std::string::npos) << r.output;
}

// Killed after step 12: metrics.csv and checkpoint.json both at step 10.
TEST_F(TrainCliTest, SampledGrpoResumesAfterKillBitIdentically) {
  expect_resume_identical("--set method=grpo --set mode=sampled --set group_size=4", 12, 11);
}

TEST_F(TrainCliTest, ExactDisaOnlineResumesAfterKillBitIdentically) {
  expect_resume_identical("--set method=disa-online --set mode=exact", 12, 11);
}

// Killed at step 10 after metrics.csv (steps 0..10) but before checkpoint.json (step 5):
// the resume drops rows 6..10 and computes them again.
TEST_F(TrainCliTest, KillBetweenMetricsAndCheckpointResumesBitIdentically) {
  expect_resume_identical("--set method=grpo --set mode=sampled --set group_size=4", 10, 11);
  expect_resume_identical("--set method=flowrl --set mode=sampled --set log_z_init_error=0.5", 10, 11);
}

// The same from outside, with no hook: SIGKILL from the test as soon as the first
// checkpoint exists, wherever the run then is (400 steps, a checkpoint every 5, ~0.4 s).
TEST_F(TrainCliTest, ExternalKillThenResumeIsBitIdentical) {
  const std::string common = "train --family random --family-set horizon=4 --seed 3 --set method=grpo "
                             "--set mode=sampled --set steps=400 ";
  ASSERT_EQ(run(common + "--out " + path("whole")).exit_code, 0);
  const std::string command =
      "exec " + disa::test::disa_binary() + " " + common + "--checkpoint-every 5 --out " +
      path("killed") + " >/dev/null 2>&1";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!std::filesystem::exists(path("killed/checkpoint.json")) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  // A run that finished first makes this a plain resume check; say so rather than fail.
  if (!WIFSIGNALED(status)) std::printf("note: the run finished before the kill landed\n");
  ASSERT_TRUE(std::filesystem::exists(path("killed/checkpoint.json")));
  const Result resumed = run(common + "--checkpoint-every 5 --resume --out " + path("killed"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(read_text(path("killed/metrics.csv")), read_text(path("whole/metrics.csv")));
}

TEST_F(TrainCliTest, ResumeExtendsAFinishedRun) {
  // steps is outside the checkpoint's fingerprint: 10 steps, then 10 more, equals 20 at once.
  const std::string common = "train " + kPrompts + " --set method=disa-online --set mode=sampled ";
  ASSERT_EQ(run(common + "--set steps=20 --out " + path("whole")).exit_code, 0);
  ASSERT_EQ(run(common + "--set steps=10 --checkpoint-every 5 --out " + path("parts")).exit_code, 0);
  const Result more = run(common + "--set steps=20 --checkpoint-every 5 --resume --out " + path("parts"));
  ASSERT_EQ(more.exit_code, 0) << more.output;
  EXPECT_EQ(read_text(path("parts/metrics.csv")), read_text(path("whole/metrics.csv")));
  // Going back is refused, and a changed setting is another run.
  expect_rejected(run(common + "--set steps=5 --checkpoint-every 5 --resume --out " + path("parts")), "--resume");
  expect_rejected(run(common + "--set steps=30 --set beta=2 --checkpoint-every 5 --resume --out " + path("parts")),
                  "holds a run with other settings (settings/beta (was \"1\", now \"2\"))");
}

TEST_F(TrainCliTest, BadSettingsNameTheKey) {
  const std::string base = "train " + kPrompts + " --out " + path("o") + " ";
  expect_rejected(run(base + "--set no_such_key=1"), "no_such_key");
  expect_rejected(run(base + "--set steps=-1"), "steps");
  // beta = 0 would divide PACED's log Z by 0 (nan in every row of metrics.csv).
  expect_rejected(run(base + "--set beta=0"), "beta: must be > 0");
  expect_rejected(run(base + "--checkpoint-every 0"), "--checkpoint-every: must be an integer >= 1, got '0'");
  expect_rejected(run(base + "--set mode=foo"), "mode");
  expect_rejected(run(base + "--set method=foo"), "method");
  expect_rejected(run(base + "--set method=grpo --set mode=exact"), "mode");
  expect_rejected(run(base + "--set learning_rate=0"), "learning_rate");
  expect_rejected(run(base + "--set steps"), "steps");
}

// The fault-injection variable was read with std::stoll once the run had begun: "abc"
// failed as "stoll" (exit 1) after config.json was written, and "5x" passed as 5.
TEST_F(TrainCliTest, ABadKillAfterStepIsRefusedNamingTheVariableFirst) {
  for (const std::string value : {"abc", "5x", "-1", "99999999999999999999"}) {
    expect_rejected(
        run("train " + kPrompts + " --set steps=5 --out " + path("o"), "DISA_TRAIN_KILL_AFTER_STEP=" + value),
        "DISA_TRAIN_KILL_AFTER_STEP='" + value + "'");
    EXPECT_FALSE(std::filesystem::exists(path("o"))) << value;
  }
}

TEST_F(TrainCliTest, BadArgumentsNameTheArgument) {
  expect_rejected(run("train --out " + path("o")), "--family");
  expect_rejected(run("train " + kPrompts + " --tree x.json --out " + path("o")), "--tree");
  expect_rejected(run("train --family random --family-set horizon --out " + path("o")), "--family-set");
  expect_rejected(run("train --tree x.json --family-set horizon=3 --out " + path("o")), "--family-set");
  expect_rejected(run("train --tree x.json --seed 4 --out " + path("o")), "--seed");
  expect_rejected(run("train --tree " + path("missing.json") + " --out " + path("o")), "missing.json");
  expect_rejected(run("train --family no_such_family --out " + path("o")), "no_such_family");
  expect_rejected(run("train " + kPrompts + " --checkpoint-every 0 --out " + path("o")), "--checkpoint-every");
  expect_rejected(run("train " + kPrompts + " --checkpoint-every 5 --resume --out " + path("o")), "--resume");
  // A name that is not UTF-8 cannot go into config.json: refused up front (was a JSON
  // type_error, exit 1, after the folder was set up).
  const std::string bad_name = path("t\xff.json");
  ASSERT_EQ(run("tree generate --family random --set horizon=3 --seed 1 --out " + path("t.json")).exit_code, 0);
  std::filesystem::copy_file(path("t.json"), bad_name);
  expect_rejected(run("train --tree " + bad_name + " --set steps=1 --out " + path("o")),
                  "--tree: must be valid UTF-8");
  EXPECT_FALSE(std::filesystem::exists(path("o")));
}

TEST_F(TrainCliTest, StepZeroIsTheReferenceAndDisaOnlineLowersTheKl) {
  const Result r = run("train " + kPrompts + " --set method=disa-online --set mode=exact --set beta=2 --set steps=30 "
                       "--out " + path("o"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const Csv csv = read_csv(path("o/metrics.csv"));
  ASSERT_EQ(csv.rows.size(), 31u);
  for (std::size_t i = 0; i < csv.rows.size(); ++i) {
    ASSERT_EQ(csv.rows[i].size(), csv.header.size()) << "row " << i;
    EXPECT_EQ(csv.at(i, "step"), static_cast<double>(i));
    EXPECT_EQ(csv.rows[i].end()[-2], "disa-online");
    EXPECT_EQ(csv.rows[i].back(), "exact");
  }
  // Step 0 is pi_ref: its KL and accuracy from the library directly.
  const disa::Tree tree = disa::make_trees("random", {{"horizon", "3"}}, 3)[0];
  const disa::TabularPolicy ref = disa::reference_policy(tree);
  const disa::TabularPolicy target = disa::target_policy(tree, ref, 2.0);
  EXPECT_NEAR(csv.at(0, "kl_policy_target"), disa::kl_divergence(ref, target), 1e-12);
  EXPECT_NEAR(csv.at(0, "kl_target_policy"), disa::kl_divergence(target, ref), 1e-12);
  EXPECT_NEAR(csv.at(0, "accuracy"), disa::accuracy(tree, ref), 1e-12);
  // The exact on-policy TB gradient is 2 grad KL(pi || p*) (THEORY.md item 8): it must fall.
  const double kl0 = csv.at(0, "kl_policy_target"), kl30 = csv.at(30, "kl_policy_target");
  EXPECT_GT(kl0, 0.05);
  EXPECT_LT(kl30, 0.5 * kl0) << "KL(pi||p*) " << kl0 << " -> " << kl30;
  EXPECT_GT(csv.at(30, "accuracy"), csv.at(0, "accuracy"));
}

TEST_F(TrainCliTest, TreeSetFileAndConfigJson) {
  const std::string set = path("prompts.json");
  ASSERT_EQ(run("tree generate --family multi_prompt --seed 2 --out " + set).exit_code, 0);
  const Result r = run("train --tree " + set + " --set steps=3 --set seed=9 --out " + path("o"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json j = nlohmann::json::parse(read_text(path("o/config.json")));
  EXPECT_EQ(j["tree"], set);
  EXPECT_EQ(j["prompts"].get<int>(), 8);
  EXPECT_EQ(j["settings"]["steps"], "3");
  EXPECT_EQ(j["settings"]["seed"], "9");
  EXPECT_EQ(read_csv(path("o/metrics.csv")).rows.size(), 4u);
}

TEST_F(TrainCliTest, AFolderHoldingAnotherRunIsRefusedAndKept) {
  // Without --resume a folder's earlier run is replaced only by a rerun of the same
  // settings (identical results); any other setting is refused, naming it, and nothing
  // of the earlier run is lost.
  const std::string base = "train " + kPrompts + " --out " + path("o") + " ";
  ASSERT_EQ(run(base + "--set steps=10 --checkpoint-every 5").exit_code, 0);
  ASSERT_TRUE(std::filesystem::exists(path("o/checkpoint.json")));
  const std::string metrics = read_text(path("o/metrics.csv")), checkpoint = read_text(path("o/checkpoint.json"));
  expect_rejected(run(base + "--set steps=3"), "holds a run with other settings (settings/steps (was \"10\", now \"3\"))");
  expect_rejected(run(base + "--set steps=10 --set beta=2"), "settings/beta");
  expect_rejected(run("train --family random --family-set horizon=3 --seed 4 --set steps=10 --out " + path("o")),
                  "family_seed (was 3, now 4)");
  EXPECT_EQ(read_text(path("o/metrics.csv")), metrics);
  EXPECT_EQ(read_text(path("o/checkpoint.json")), checkpoint);
  // The same settings (checkpoint_every aside) rerun from scratch: the stale checkpoint goes.
  ASSERT_EQ(run(base + "--set steps=10").exit_code, 0);
  EXPECT_FALSE(std::filesystem::exists(path("o/checkpoint.json")));
  EXPECT_EQ(read_text(path("o/metrics.csv")), metrics);
  // Resuming a run of these settings that has no checkpoint runs it again from step 0.
  const Result again = run(base + "--set steps=10 --checkpoint-every 5 --resume");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("(resumed: no checkpoint yet, so from step 0)"), std::string::npos) << again.output;
  EXPECT_EQ(read_text(path("o/metrics.csv")), metrics);
  // A config.json that holds a key twice (edited by hand) is not guessed at: refused, naming it.
  const std::string config = read_text(path("o/config.json"));
  ASSERT_EQ(config.front(), '{');
  std::ofstream(path("o/config.json")) << "{\"settings\": {}, " << config.substr(1);
  expect_rejected(run(base + "--set steps=10"), "key \"settings\" is given twice in one object");
  EXPECT_EQ(read_text(path("o/metrics.csv")), metrics);
}

// Killed at step 3 with checkpoints every 7: the folder holds config.json and no
// checkpoint. The resume starts again from step 0 and ends with the bytes of an
// uninterrupted run (it used to be refused: "--resume: no checkpoint at ...").
TEST_F(TrainCliTest, AKillBeforeTheFirstCheckpointResumesFromStepZero) {
  const std::string common = "train " + kPrompts + " --set method=disa-online --set mode=sampled --set steps=20 ";
  ASSERT_EQ(run(common + "--out " + path("whole")).exit_code, 0);
  const Result killed = run(common + "--checkpoint-every 7 --out " + path("killed"), "DISA_TRAIN_KILL_AFTER_STEP=3");
  EXPECT_NE(killed.exit_code, 0) << killed.output;
  ASSERT_TRUE(std::filesystem::exists(path("killed/config.json")));
  ASSERT_FALSE(std::filesystem::exists(path("killed/checkpoint.json")));
  const Result resumed = run(common + "--checkpoint-every 7 --resume --out " + path("killed"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("steps 0..20 (resumed: no checkpoint yet, so from step 0)"), std::string::npos)
      << resumed.output;
  EXPECT_EQ(read_text(path("killed/metrics.csv")), read_text(path("whole/metrics.csv")));
}

// The NAME.tmp-PID files a run killed mid-write leaves (src/atomic_file.h) are removed
// when the run is taken up again (under the folder's lock); files of the live process
// and names of another form are not touched.
TEST_F(TrainCliTest, TemporariesOfAKilledRunAreRemovedOnResume) {
  const std::string common = "train " + kPrompts + " --set steps=10 --checkpoint-every 5 ";
  const Result killed = run(common + "--out " + path("o"), "DISA_TRAIN_KILL_AFTER_STEP=7");
  EXPECT_NE(killed.exit_code, 0) << killed.output;
  const std::string dead = ".tmp-999999999";  // above the kernel's pid_max: no live process
  for (const std::string& name : {"checkpoint.json" + dead, "metrics.csv" + dead, std::string("notes.tmp-draft")}) {
    std::ofstream(path("o/" + name)) << "x";
  }
  std::filesystem::create_directories(path("o/sub"));
  std::ofstream(path("o/sub/x" + dead)) << "x";  // train writes in --out only: not swept below it
  const Result resumed = run(common + "--resume --out " + path("o"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_FALSE(std::filesystem::exists(path("o/checkpoint.json" + dead)));
  EXPECT_FALSE(std::filesystem::exists(path("o/metrics.csv" + dead)));
  EXPECT_TRUE(std::filesystem::exists(path("o/notes.tmp-draft")));
  EXPECT_TRUE(std::filesystem::exists(path("o/sub/x" + dead)));
}

// A folder named checkpoint.json in --out: --resume said "malformed checkpoint" (a JSON
// parse error), a run without it failed to remove the folder (exit 1, a filesystem error).
TEST_F(TrainCliTest, ACheckpointThatIsAFolderIsNamed) {
  const std::string common = "train " + kPrompts + " --set steps=10 --checkpoint-every 5 --out " + path("o") + " ";
  ASSERT_EQ(run(common).exit_code, 0);
  const std::string checkpoint = path("o/checkpoint.json");
  std::filesystem::remove(checkpoint);
  std::filesystem::create_directories(checkpoint);
  std::ofstream(checkpoint + "/x") << "x";
  expect_rejected(run(common + "--resume"), "--resume: '" + checkpoint + "' is a folder, not a checkpoint file");
  expect_rejected(run(common), "--out: '" + checkpoint + "' is a folder, not a checkpoint file");
  EXPECT_TRUE(std::filesystem::exists(checkpoint + "/x"));  // left as it was
}

// The strategy labels are part of the checkpoint's fingerprint: they change no step but
// are what strategy_entropy and strategies_above measure, so a resume onto relabelled
// trees would switch those columns' meaning mid-file.
TEST_F(TrainCliTest, ResumeOntoRelabelledStrategiesIsRefused) {
  const std::string tree = path("t.json");
  ASSERT_EQ(run("tree generate --family strategies --set horizon=3 --seed 7 --out " + tree).exit_code, 0);
  const std::string common = "train --tree " + tree + " --checkpoint-every 5 --out " + path("o") + " ";
  ASSERT_EQ(run(common + "--set steps=10").exit_code, 0);
  nlohmann::json j = nlohmann::json::parse(read_text(tree));
  int relabelled = 0;
  for (auto& leaf : j["leaves"]) {
    if (leaf.contains("strategy")) leaf["strategy"] = leaf["strategy"].get<int>() == 0 ? 1 : 0, ++relabelled;
  }
  ASSERT_GT(relabelled, 0);
  std::ofstream(tree) << j.dump();
  expect_rejected(run(common + "--set steps=20 --resume"), "belongs to another run");
}

// Sizes that cannot fit in memory are refused naming the key (they were std::bad_alloc,
// exit 1); integers are parsed exactly and a refusal states the range.
TEST_F(TrainCliTest, HugeSizesAndInexactIntegersAreRefusedNamingTheKey) {
  const std::string base = "train --family strategies --out " + path("o") + " ";
  expect_rejected(run(base + "--set mode=sampled --set group_size=1e12"), "train: group_size=1000000000000: a batch");
  expect_rejected(run(base + "--set method=disa-offline --set offline_samples=1e13"),
                  "train: offline_samples=10000000000000: a batch");
  expect_rejected(run(base + "--set seed=8999999999999999.5"),
                  "train: seed=8999999999999999.5: must be an integer in [0, 9223372036854775807]");
  expect_rejected(run(base + "--set seed=9223372036854775808"), "must be an integer in [0, 9223372036854775807]");
  // 2^53 + 1 is itself, not 2^53.
  const Result r = run("train " + kPrompts + " --set steps=1 --set seed=9007199254740993 --out " + path("s"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(read_text(path("s/config.json")))["settings"]["seed"], "9007199254740993");
}

// --out is checked before the run: a file, or a path under a file, is named.
TEST_F(TrainCliTest, AnOutThatIsNoFolderIsNamed) {
  std::ofstream(path("file.json")) << "{}";
  expect_rejected(run("train " + kPrompts + " --set steps=1 --out " + path("file.json")),
                  "--out: '" + path("file.json") + "' is a file, not a folder");
  expect_rejected(run("train " + kPrompts + " --set steps=1 --out " + path("file.json/sub")),
                  "--out: cannot create the folder");
}

}  // namespace
