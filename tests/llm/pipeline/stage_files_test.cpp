// Tests llm/pipeline/stage_files.h: a folder holding a run with other options is refused
// naming the key, unless it holds nothing but options.json (a run that failed before its
// first output), which the corrected options take over; and one live process per folder
// (OUT/.lock), so a takeover never races a run still working on its first output.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "llm/pipeline/stage_files.h"
#include "src/input_error.h"

namespace disa::llm::pipeline {
namespace {

namespace fs = std::filesystem;

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("disa_stage_files_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(dir);
  return dir;
}

std::string refusal(const fs::path& out, const nlohmann::ordered_json& options) {
  try {
    claim_stage_folder(out, "propose", options);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(StageFiles, AFolderWithoutOutputsIsTakenOverOneWithOutputsIsNot) {
  const fs::path out = fresh_dir("takeover");
  claim_stage_folder(out, "propose", {{"samples", 4}});
  claim_stage_folder(out, "propose", {{"samples", 4}});  // the same options resume
  // Failed before its first output: the corrected options take the folder over.
  EXPECT_EQ(refusal(out, {{"samples", 5}}), "");
  EXPECT_EQ(read_json_file(out / "options.json")["options"]["samples"], 5);
  // With an output in it, another run is refused, naming the key.
  fs::create_directories(out / "parts");
  std::ofstream(out / "parts" / "part-00000.jsonl") << "{}\n";
  EXPECT_NE(refusal(out, {{"samples", 6}}).find("holds a run with other options (samples (was 5, now 6))"),
            std::string::npos);
  EXPECT_NE(refusal(out, {{"samples", 5}, {"seed", 2}}).find("seed (was absent, now 2)"), std::string::npos);
  EXPECT_NE(refusal(out, nlohmann::ordered_json::object()).find("samples (was 5, now absent)"), std::string::npos);
  fs::remove_all(out);
}

TEST(StageFiles, TheFirstDifferenceNamesTheNestedEntryAndStaysOneShortLine) {
  const nlohmann::json old = {{"model_fingerprints", {{"disa", "aaaa"}, {"grpo", "bbbb"}}}, {"seed", 1}};
  nlohmann::json now = old;
  now["model_fingerprints"]["grpo"] = "cccc";
  EXPECT_EQ(first_difference(old, now), "model_fingerprints.grpo (was \"bbbb\", now \"cccc\")");
  // A long value (a task list, a prompt) is cut, not repeated whole in the message.
  now = old;
  now["seed"] = std::string(100000, 'x');
  const std::optional<std::string> d = first_difference(old, now);
  ASSERT_TRUE(d.has_value());
  EXPECT_LT(d->size(), 200u) << *d;
  EXPECT_NE(d->find("seed (was 1, now \"xxxx"), std::string::npos) << *d;
  EXPECT_EQ(first_difference(old, old), std::nullopt);
}

TEST(StageFiles, AFolderInUseByAnotherProcessIsRefused) {
  const fs::path out = fresh_dir("locked");
  fs::create_directories(out);
  // Another process's lock: flock locks belong to an open file description, so a second
  // open of the file here conflicts with it just as another process's would.
  const int fd = ::open((out / ".lock").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  EXPECT_NE(refusal(out, {{"samples", 4}}).find("is in use by another running process"), std::string::npos);
  EXPECT_FALSE(fs::exists(out / "options.json"));
  ::close(fd);  // that run ended
  EXPECT_EQ(refusal(out, {{"samples", 4}}), "");
  EXPECT_TRUE(fs::exists(out / "options.json"));
  fs::remove_all(out);
}

TEST(StageFiles, TemporariesAKilledRunLeftAreRemovedUnderTheLock) {
  const fs::path out = fresh_dir("litter");
  claim_stage_folder(out, "propose", {{"k", 4}});
  fs::create_directories(out / "samples" / "m" / "deeper");
  fs::create_directories(out / "inner_stage");
  const std::string dead = ".tmp-999999999", mine = ".tmp-" + std::to_string(::getpid());
  for (const fs::path& p : {out / ("results.csv" + dead), out / "samples" / "m" / ("t.jsonl" + dead),
                            out / ("eval.json" + mine), out / "inner_stage" / ".lock",
                            out / "inner_stage" / ("x.jsonl" + dead), out / "notes.tmp-draft",
                            out / "samples" / "m" / "deeper" / ("y.jsonl" + dead)}) {
    std::ofstream(p) << "x";
  }
  EXPECT_EQ(refusal(out, {{"k", 4}}), "");  // the resume cleans up
  EXPECT_FALSE(fs::exists(out / ("results.csv" + dead)));
  EXPECT_FALSE(fs::exists(out / "samples" / "m" / ("t.jsonl" + dead)));
  EXPECT_TRUE(fs::exists(out / ("eval.json" + mine)));              // this process may be writing it
  EXPECT_TRUE(fs::exists(out / "inner_stage" / ("x.jsonl" + dead)));  // another stage folder's
  EXPECT_TRUE(fs::exists(out / "notes.tmp-draft"));                 // not NAME.tmp-PID
  EXPECT_TRUE(fs::exists(out / "samples" / "m" / "deeper" / ("y.jsonl" + dead)));  // below where stages write
  fs::remove_all(out);
  // A folder that is no stage's yet (an --out given as a parent folder by mistake) is not swept.
  fs::create_directories(out);
  std::ofstream(out / ("other_program.dat" + dead)) << "x";
  EXPECT_EQ(refusal(out, {{"k", 4}}), "");
  EXPECT_TRUE(fs::exists(out / ("other_program.dat" + dead)));
  fs::remove_all(out);
  // A run killed while writing its first output left only options.json and a temporary:
  // that is no output, so other options take the folder over.
  claim_stage_folder(out, "propose", {{"k", 4}});
  std::ofstream(out / ("results.csv" + dead)) << "x";
  EXPECT_EQ(refusal(out, {{"k", 8}}), "");
  fs::remove_all(out);
}

}  // namespace
}  // namespace disa::llm::pipeline
