// disa llm pretrain end to end (src/cli/llm_pretrain_command.cpp): a tiny run writes a
// folder that `disa llm sample` opens, eval.json has the reported fields, and bad
// arguments are rejected naming them. Runs build/bin/disa (test::disa_binary()).
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/util/cli_harness.h"

namespace {

using disa::test::expect_rejected;
using disa::test::run_disa;

class LlmPretrainCli : public disa::test::CliDirTest {};

TEST_F(LlmPretrainCli, TinyRunWritesALoadableModelAndEval) {
  const auto r = run_disa("llm pretrain --out " + path("m") +
                              " --model-size tiny --steps 8 --batch-size 8 --threads 1 --eval-problems 4 --eval-samples 4",
                          "CI=true");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("accuracy: temperature 1"), std::string::npos) << r.output;
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "task.json", "metrics.csv", "eval.json",
                        "checkpoint.pt"}) {
    EXPECT_TRUE(std::filesystem::exists(path("m/") + f)) << f;
  }
  nlohmann::json eval;
  std::ifstream(path("m/eval.json")) >> eval;
  EXPECT_EQ(eval["eval"]["problems"], 4);
  EXPECT_TRUE(eval["eval"].contains("accuracy_greedy"));
  EXPECT_TRUE(eval["eval"]["pass_at_k"].contains("4"));
  std::ofstream(path("p.jsonl")) << "\"3 5 7>22:\"\n";
  const auto s = run_disa("llm sample --model " + path("m") + " --prompts " + path("p.jsonl") + " --out " +
                          path("s.jsonl") + " --max-new-tokens 8");
  EXPECT_EQ(s.exit_code, 0) << s.output;
  // Again into the same folder without --resume: refused, naming the option.
  expect_rejected(run_disa("llm pretrain --out " + path("m") + " --model-size tiny --steps 8 --batch-size 8", "CI=true"),
                  "--resume");
}

// Two runs into one folder both wrote checkpoint.pt and metrics.csv; the
// checkpoint.pt.tmp-PID a kill -9 left mid-save stayed forever; a file as --out gave a raw
// filesystem error. Now: one live run per folder, the litter swept, --out named.
TEST_F(LlmPretrainCli, TheOutFolderIsLockedSweptAndChecked) {
  const std::string out = path("m");
  const std::string args = " --model-size tiny --steps 2 --batch-size 2 --threads 1 --no-eval";
  std::filesystem::create_directories(out);
  const int fd = ::open((out + "/.lock").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);  // as another live run would hold it
  expect_rejected(run_disa("llm pretrain --out " + out + args, "CI=true"), "is in use by another running process");
  ::close(fd);
  EXPECT_FALSE(std::filesystem::exists(out + "/checkpoint.pt"));

  const std::string stale = out + "/checkpoint.pt.tmp-999999999";
  const std::string not_ours = out + "/notes.csv.tmp-999999999";
  std::ofstream(stale) << "half a checkpoint";
  std::ofstream(not_ours) << "another program's";
  const auto r = run_disa("llm pretrain --out " + out + args, "CI=true");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(std::filesystem::exists(stale));
  EXPECT_TRUE(std::filesystem::exists(not_ours));

  const std::string file = path("file");
  std::ofstream(file) << "x";
  expect_rejected(run_disa("llm pretrain --out " + file + args, "CI=true"),
                  "--out: '" + file + "' is a file, not a folder");
}

TEST_F(LlmPretrainCli, BadArgumentsAreNamed) {
  const std::string base = "llm pretrain --out " + path("x");
  expect_rejected(run_disa(base + " --model-size huge"), "--model-size = 'huge'");
  expect_rejected(run_disa(base + " --steps 0"), "--steps = 0");
  expect_rejected(run_disa(base + " --batch-size -3"), "--batch-size = -3");
  expect_rejected(run_disa(base + " --threads 0"), "--threads: must be an integer in [1, 256], got '0'");
  expect_rejected(run_disa(base + " --device tpu"), "--device = 'tpu'");
  expect_rejected(run_disa(base + " --lr 1e300"), "--lr = 1e+300 must be at most");
  // Pretraining decays every matrix by lr * 0.01 a step: past 1 that flips the weights' sign.
  expect_rejected(run_disa(base + " --lr 150"), "--lr = 150 * weight_decay 0.01 = 1.5 must be at most 1");
  expect_rejected(run_disa(base + " --numbers 9"), "(--numbers) = 9");
  expect_rejected(run_disa(base + " --steps 5 --eval-problems 0 --model-size tiny --batch-size 2"), "--eval-problems = 0");
}

}  // namespace
