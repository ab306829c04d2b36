// A key given twice is refused wherever the CLI reads one: in a JSON input (a batch, a
// tree, a samples file) and in a KEY=VALUE option list (tree generate --set,
// train --family-set). Each used to take the last silently. Runs build/bin/disa.
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/util/cli_harness.h"

namespace {

using disa::test::expect_rejected;
using Result = disa::test::CliResult;

Result run(const std::string& args) { return disa::test::run_disa(args); }

class DuplicateKeysCliTest : public disa::test::CliDirTest {
 protected:
  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(path(name)) << text;
    return path(name);
  }
};

TEST_F(DuplicateKeysCliTest, LossBatchFileAndStandardInput) {
  // Read as log_z = [100] the trajectory-balance loss was 100^2 = 10000, not 0.5^2.
  const std::string fields = R"("logp": [[-1]], "logp_ref": [[-1]], "mask": [[1]], "reward": [0], "log_z": [0.5])";
  const std::string once = write("once.json", "{" + fields + "}");
  const Result ok = run("loss --objective tb --batch " + once + " --set beta=1 --json");
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_EQ(nlohmann::json::parse(ok.output)["loss"], 0.25);
  const std::string twice = write("twice.json", "{" + fields + R"(, "log_z": [100]})");
  expect_rejected(run("loss --objective tb --batch " + twice + " --set beta=1"),
                  twice + ": /log_z: key \"log_z\" is given twice in one object");
  expect_rejected(run("loss --objective tb --batch - --set beta=1 < " + twice),
                  "--batch -: standard input: /log_z: key \"log_z\" is given twice in one object");
}

TEST_F(DuplicateKeysCliTest, TreeFile) {
  const std::string head = R"({"format": "disa-tree", "version": 1, "vocab": 2, "horizon": 1, "eos": null,
    "nodes": [{"prefix": [], "logits": [0, 0]}], "leaves": [)";
  const std::string once = write("once.json", head + R"({"path": [0], "reward": 1}, {"path": [1], "reward": 0}]})");
  ASSERT_EQ(run("tree info --tree " + once + " --beta 1").exit_code, 0);
  const std::string twice =
      write("twice.json", head + R"({"path": [0], "reward": 0, "reward": 1}, {"path": [1], "reward": 0}]})");
  expect_rejected(run("tree info --tree " + twice + " --beta 1"),
                  twice + ": /leaves/0/reward: key \"reward\" is given twice in one object");
}

TEST_F(DuplicateKeysCliTest, AnchorSamplesFile) {
  const std::string line = R"({"log_prob": -1, "log_ref": -2, "reward": 1})";
  const std::string bad = R"({"log_prob": -1, "log_ref": -2, "reward": 1, "reward": 0})";
  const std::string samples = write("s.jsonl", line + "\n" + bad + "\n" + line + "\n");
  expect_rejected(run("anchor --samples-file " + samples + " --beta 1 --out " + path("a.jsonl")),
                  samples + ":2: /reward: key \"reward\" is given twice in one object");
}

TEST_F(DuplicateKeysCliTest, OptionListsRefuseARepeatedKey) {
  // As train --set and loss --set already did.
  expect_rejected(run("tree generate --family random --set vocab=3 --set vocab=5 --seed 1 --out " + path("t.json")),
                  "--set: option 'vocab' is given twice");
  expect_rejected(run("tree generate --family random --set vocab=3 --set vocab=3 --seed 1 --out " + path("t.json")),
                  "--set: option 'vocab' is given twice");
  expect_rejected(run("train --family random --family-set horizon=2 --family-set horizon=3 --seed 3 --set steps=1 "
                      "--out " + path("o")),
                  "--family-set: option 'horizon' is given twice");
  expect_rejected(run("train --family random --family-set horizon=2 --seed 3 --set steps=1 --set steps=2 --out " +
                      path("o")),
                  "train: option 'steps' is given twice");
}

}  // namespace
