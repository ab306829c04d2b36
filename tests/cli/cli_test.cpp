// The `disa` executable as a user meets it: subcommands, --json output, and bad
// arguments rejected with exit code 2 and one line naming the argument.
// Runs build/bin/disa (test::disa_binary()).

#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "toy_envs/families/family.h"
#include "toy_envs/flows.h"
#include "toy_envs/tree_json.h"
#include "tests/util/cli_harness.h"

namespace {

using Result = disa::test::CliResult;
using disa::test::expect_rejected;

Result run(const std::string& args, const std::string& env = "") { return disa::test::run_disa(args, env); }

class CliTest : public disa::test::CliDirTest {};

TEST_F(CliTest, HelpForEverySubcommandExitsZero) {
  for (const char* sub : {"", "tree", "tree generate", "tree info", "tree sample", "tree families", "demo"}) {
    const Result r = run(std::string(sub) + " --help");
    EXPECT_EQ(r.exit_code, 0) << sub;
    EXPECT_NE(r.output.find("Usage"), std::string::npos) << sub << ": " << r.output;
  }
}

// Cells of a markdown table row: split at '|' not escaped as "\\|".
std::size_t markdown_cells(const std::string& line) {
  std::size_t pipes = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\\') {
      ++i;
    } else if (line[i] == '|') {
      ++pipes;
    }
  }
  return pipes - 1;
}

TEST_F(CliTest, DemoReportTablesRender) {
  // Every row of a table has the header's cell count: a "KL(pi_ref||p*)" in a cell must
  // be escaped, or GitHub's markdown shows the table as text.
  // A demo killed mid-write left report.md.tmp-PID (PID dead by now): the next demo
  // sweeps it, and leaves another program's temporary in the same folder alone.
  std::filesystem::create_directories(path("demo"));
  const std::string dead = ".tmp-999999999";
  std::ofstream(path("demo/report.md" + dead)) << "half a report";
  std::ofstream(path("demo/notes.csv" + dead)) << "not the demo's";
  const Result r = run("demo --out " + path("demo"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(std::filesystem::exists(path("demo/report.md" + dead)));
  EXPECT_TRUE(std::filesystem::exists(path("demo/notes.csv" + dead)));
  std::ifstream in(path("demo/report.md"));
  std::string line;
  std::size_t tables = 0, header = 0;
  int line_no = 0;
  bool in_table = false;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.starts_with("|")) {
      in_table = false;
      continue;
    }
    if (!in_table) {
      in_table = true;
      ++tables;
      header = markdown_cells(line);
      continue;
    }
    EXPECT_EQ(markdown_cells(line), header) << "report.md line " << line_no << ": " << line;
  }
  EXPECT_GE(tables, 5u);
}

TEST_F(CliTest, GenerateThenInfoJsonAgreesWithTheLibrary) {
  const std::string tree = path("t.json");
  ASSERT_EQ(run("tree generate --family strategies --set horizon=3 --seed 7 --out " + tree).exit_code, 0);
  const Result r = run("tree info --tree " + tree + " --beta 2 --proposal tilted:lambda=0.5 --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json j = nlohmann::json::parse(r.output);
  for (const char* key : {"log_Z", "accuracy", "num_leaves", "chi2", "expected_ess_fraction"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  // The same tree through the library directly (independent of the CLI's printing).
  const disa::Tree t = disa::make_trees("strategies", {{"horizon", "3"}}, 7)[0];
  EXPECT_EQ(j["num_leaves"].get<std::int64_t>(), 64);  // 4 strategies, horizon 3: 4^3 leaves
  EXPECT_DOUBLE_EQ(j["log_Z"].get<double>(), disa::log_partition(t, 2.0));
  EXPECT_NEAR(j["expected_ess_fraction"].get<double>(), 1.0 / (1.0 + j["chi2"].get<double>()), 1e-15);
}

TEST_F(CliTest, SampleWritesTrajectoriesWhoseLogProbsAddUp) {
  const std::string tree = path("t.json"), out = path("s.jsonl");
  ASSERT_EQ(run("tree generate --family random --set eos=true --seed 3 --out " + tree).exit_code, 0);
  const Result r = run("tree sample --tree " + tree + " --policy target --beta 1 --n 50 --seed 1 --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream in(out);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    const nlohmann::json j = nlohmann::json::parse(line);
    double sum = 0.0;
    for (double lp : j["step_log_probs"]) sum += lp;
    EXPECT_NEAR(sum, j["log_prob"].get<double>(), 1e-12);
    EXPECT_EQ(j["actions"].size(), j["step_log_probs"].size());
    ++n;
  }
  EXPECT_EQ(n, 50);
  // Same seed, same trajectories.
  const std::string again = path("s2.jsonl");
  ASSERT_EQ(run("tree sample --tree " + tree + " --policy target --beta 1 --n 50 --seed 1 --out " + again).exit_code, 0);
  std::ifstream a(out), b(again);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(a), {}), std::string(std::istreambuf_iterator<char>(b), {}));
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST_F(CliTest, SamplingInChunksContinuesTheSameStream) {
  const std::string tree = path("t.json");
  ASSERT_EQ(run("tree generate --family strategies --seed 2 --out " + tree).exit_code, 0);
  const std::string base = "tree sample --tree " + tree + " --policy tilted:lambda=0.5 --beta 2 --seed 9 --format csv ";
  ASSERT_EQ(run(base + "--n 30 --out " + path("all.csv")).exit_code, 0);
  ASSERT_EQ(run(base + "--n 12 --out " + path("a.csv")).exit_code, 0);
  ASSERT_EQ(run(base + "--n 18 --first 12 --out " + path("b.csv")).exit_code, 0);
  const std::string b = read_all(path("b.csv"));
  EXPECT_EQ(read_all(path("all.csv")), read_all(path("a.csv")) + b.substr(b.find('\n') + 1));  // minus header
}

TEST_F(CliTest, BadArgumentsExitTwoNamingTheArgument) {
  const std::string tree = path("t.json");
  ASSERT_EQ(run("tree generate --family random --seed 1 --out " + tree).exit_code, 0);
  expect_rejected(run("tree generate --family nosuch --seed 1 --out " + path("x.json")), "--family");
  expect_rejected(run("tree generate --family random --set vocab=1 --seed 1 --out " + path("x.json")), "vocab");
  expect_rejected(run("tree generate --family random --set colour=3 --seed 1 --out " + path("x.json")), "colour");
  expect_rejected(run("tree generate --family random --set vocab --seed 1 --out " + path("x.json")), "--set");
  expect_rejected(run("tree generate --family random --out " + path("x.json")), "--seed");
  // CLI11 alone would wrap -3 to 2^64 - 3 and clamp an overflow to 2^64 - 1, silently.
  expect_rejected(run("tree generate --family random --seed -3 --out " + path("x.json")), "--seed: must be a non-negative integer, got '-3'");
  expect_rejected(run("tree generate --family random --seed 99999999999999999999999 --out " + path("x.json")),
                  "--seed: got '99999999999999999999999', above the largest 64-bit value");
  expect_rejected(run("check estimator --seed -1"), "--seed: must be a non-negative integer, got '-1'");
  expect_rejected(run("demo --out ''"), "--out: must name a path, got ''");
  expect_rejected(run("tree sample --tree " + tree + " --n 2 --seed 1 --first -2"), "--first: must be an integer >= 0, got '-2'");
  expect_rejected(run("tree sample --tree " + tree + " --n 2 --seed 1 --prompt -1"), "--prompt: must be a non-negative integer, got '-1'");
  // 200 prompts of 3^5 leaves: each tree fits 100 kB, the set (~4 MB) does not.
  expect_rejected(run("tree generate --family multi_prompt --set prompts=200 --set vocab=3 --set horizon=5 --seed 1 "
                      "--out " + path("set.json"),
                      "DISA_MAX_TREE_BYTES=100000"),
                  "tree set: 200 trees");
  EXPECT_FALSE(std::filesystem::exists(path("set.json")));
  expect_rejected(run("tree info --tree " + tree), "--beta");
  expect_rejected(run("tree info --tree " + tree + " --beta abc"), "--beta");
  expect_rejected(run("tree info --tree " + tree + " --beta -2"), "--beta: must be > 0");  // THEORY.md: beta > 0
  // Far above 1e6 the tilted rows cannot normalise in double: named, not "rows not normalised".
  expect_rejected(run("tree info --tree " + tree + " --beta 1e8"), "--beta: 100000000 is above 1e+06");
  expect_rejected(run("tree info --tree " + tree + " --beta 1 --proposal tilted:lambda=7"), "--proposal");
  expect_rejected(run("tree info --tree " + tree + " --beta 1 --proposal greedy"), "--proposal");
  expect_rejected(run("tree info --tree " + path("missing.json") + " --beta 1"), "missing.json");
  expect_rejected(run("tree sample --tree " + tree + " --n 0 --seed 1"), "--n");
  expect_rejected(run("tree sample --tree " + tree + " --policy target --n 5 --seed 1"), "--beta");
  expect_rejected(run("tree sample --tree " + tree + " --policy reference --beta 2 --n 5 --seed 1"),
                  "--beta: policy 'reference' does not depend on beta");
  expect_rejected(run("tree sample --tree " + tree + " --n 5 --seed 1 --format xml"), "--format");
  expect_rejected(run("tree sample --tree " + tree + " --n 100000000000000 --seed 1"), "--n");  // > memory
  // Sizes under a small budget read in B, KiB or MiB: these read "0.0 GiB, more than the 0.0 GiB budget".
  expect_rejected(run("tree sample --tree " + tree + " --n 100000 --seed 1", "DISA_MAX_TREE_BYTES=200000"),
                  "--n: 100000 trajectories of up to 4 steps need 10.7 MiB, more than the 195.3 KiB budget");
  expect_rejected(run("tree sample --tree " + tree + " --n 1 --seed 1", "DISA_MAX_TREE_BYTES=1000"),
                  "KiB to parse, more than the 1000 B budget");
  // Indices first .. first + n - 1 past INT64_MAX would print as negative numbers; INT64_MAX
  // itself is a valid last index (--first 2^63-3 --n 3 was refused, one short of it).
  expect_rejected(run("tree sample --tree " + tree + " --n 2 --seed 1 --first 9223372036854775807"),
                  "--first: 9223372036854775807 + --n 2 passes the largest trajectory index");
  expect_rejected(run("tree sample --tree " + tree + " --n 3 --seed 1 --first 9223372036854775806"),
                  "passes the largest trajectory index 9223372036854775807; use --first <= 9223372036854775805");
  const Result last = run("tree sample --tree " + tree + " --n 3 --seed 1 --first 9223372036854775805");
  EXPECT_EQ(last.exit_code, 0) << last.output;
  EXPECT_NE(last.output.find("\"index\":9223372036854775807"), std::string::npos) << last.output;
  const Result only = run("tree sample --tree " + tree + " --n 1 --seed 1 --first 9223372036854775807");
  EXPECT_EQ(only.exit_code, 0) << only.output;
  EXPECT_NE(only.output.find("\"index\":9223372036854775807"), std::string::npos) << only.output;
  // Paths that are not what the option takes, named before any work (were filesystem
  // errors, exit 1, or the error came after the first check had run).
  expect_rejected(run("tree info --tree " + dir_.string() + " --beta 1"), dir_.string() + ": is a folder, not a file");
  expect_rejected(run("check estimator --quick --out " + tree + "/sub"), "--out: cannot create the folder");
  expect_rejected(run("check training --quick --out " + tree), "--out: '" + tree + "' is a file, not a folder");
  expect_rejected(run("demo --out " + tree), "--out: '" + tree + "' is a file, not a folder");
  expect_rejected(run("tree frobnicate"), "frobnicate");
  expect_rejected(run(""), "subcommand");
}

TEST_F(CliTest, DemoAndChecksRefuseAFolderAnotherRunHolds) {
  // Two demos (or check runs) into one folder would race on the same files: the second
  // is refused before any work, naming the folder. flock locks belong to an open file
  // description, so this test's lock conflicts as another process's would.
  for (const std::string cmd : {"demo", "check estimator --quick", "check training --quick"}) {
    const std::string dir = path("held");
    std::filesystem::create_directories(dir);
    const int fd = ::open((dir + "/.lock").c_str(), O_RDWR | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
    expect_rejected(run(cmd + " --out " + dir), "is in use by another running process");
    ::close(fd);
    EXPECT_FALSE(std::filesystem::exists(dir + "/report.md")) << cmd;  // refused before the work
  }
}

// CLI11 reads integer options with strtoll(text, 0) and floating ones with strtold: "010"
// was 8, "0x10" 16, "08" "Could not convert", "0x1p1" 2, " 2" 2 and "1e-400" 0 (then
// "must be > 0, got 0"). Every number option is read as the decimal it shows, or refused
// naming the option and the text as given.
TEST_F(CliTest, NumberOptionsAreReadAsTheDecimalTheyShow) {
  const std::string tree = path("t.json");
  ASSERT_EQ(run("tree generate --family random --seed 1 --out " + tree).exit_code, 0);
  const std::string sample = "tree sample --tree " + tree + " --n 5 ";
  const Result ten = run(sample + "--seed 10");
  ASSERT_EQ(ten.exit_code, 0) << ten.output;
  EXPECT_EQ(run(sample + "--seed 010").output, ten.output);
  EXPECT_NE(run(sample + "--seed 8").output, ten.output);  // what "010" used to be
  const Result first = run(sample + "--seed 1 --first 010");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_EQ(first.output.rfind("{\"index\":10,", 0), 0u) << first.output;
  expect_rejected(run("tree sample --tree " + tree + " --n 0x10 --seed 1"), "--n: must be an integer, got '0x10'");
  expect_rejected(run(sample + "--seed 0x10"), "--seed: must be a non-negative integer, got '0x10'");
  expect_rejected(run(sample + "--seed ' 3'"), "--seed: must be a non-negative integer, got ' 3'");
  expect_rejected(run(sample + "--seed 1 --prompt 08"), "--prompt: 8 is out of range");
  expect_rejected(run(sample + "--seed 1 --first 99999999999999999999"),
                  "--first: got '99999999999999999999', outside the 64-bit range");
  expect_rejected(run("tree sample --tree " + tree + " --n 0 --seed 1"),
                  "--n: must be an integer in [1, 1099511627776], got '0'");
  const std::string info = "tree info --tree " + tree + " ";
  expect_rejected(run(info + "--beta 0x1p1"), "--beta: expected a finite decimal number, got '0x1p1'");
  expect_rejected(run(info + "--beta ' 2'"), "--beta: expected a finite decimal number, got ' 2'");
  expect_rejected(run(info + "--beta inf"), "--beta: expected a finite decimal number, got 'inf'");
  expect_rejected(run(info + "--beta ''"), "--beta: expected a finite decimal number, got ''");
  expect_rejected(run(info + "--beta 1e-400"),
                  "--beta: too small in magnitude for a double (it underflows to 0), got '1e-400'");
  expect_rejected(run(info + "--beta 1e400"), "--beta: beyond the largest finite double (about 1.8e308), got '1e400'");
  // Read exactly: the double of the text, not one rounded twice through a long double.
  for (const std::string beta : {"0.1", "2", "+.5", "1e-3", "0.30000000000000004"}) {
    const Result r = run(info + "--beta " + beta + " --json");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(nlohmann::json::parse(r.output)["beta"].get<double>(), std::stod(beta)) << beta;
  }
}

// A name that is not UTF-8 cannot be written into JSON output: it crashed the output
// after the work (nlohmann type_error 316, exit 1). Every text option is checked first.
TEST_F(CliTest, TextOptionsMustBeUtf8) {
  const std::string tree = path("t.json"), bad = path("t\xff.json");
  ASSERT_EQ(run("tree generate --family random --seed 1 --out " + tree).exit_code, 0);
  std::filesystem::copy_file(tree, bad);
  expect_rejected(run("estimate --tree " + bad + " --beta 1 --proposal reference --samples 4 --seed 1 --json"),
                  "--tree: must be valid UTF-8");
  expect_rejected(run("tree info --tree " + tree + " --beta 1 --proposal 'file:x\xfe'"),
                  "--proposal: must be valid UTF-8");
  const Result r = run("tree sample --tree " + tree + " --n 2 --seed 1 --policy 'lab\xfe'");
  expect_rejected(r, "byte 0xFE at offset 3");
  EXPECT_EQ(r.output.find('\xfe'), std::string::npos) << "the message itself stays UTF-8";
}

// Nesting 100,000 deep crashed every reader (a stack overflow in dump() or an
// ordered_json copy); now a named refusal.
TEST_F(CliTest, DeeplyNestedJsonIsRefusedNamingTheFile) {
  const std::string deep = path("deep.json");
  std::ofstream(deep) << R"({"format":"disa-tree","version":1,"vocab":2,"horizon":1,"eos":null,"nodes":)"
                      << std::string(100000, '[') << std::string(100000, ']') << R"(,"leaves":[]})";
  expect_rejected(run("tree info --tree " + deep + " --beta 1"),
                  deep + ": arrays and objects nested more than 512 levels deep");
}

// Single --out files are checked before the work: a folder or an unwritable place failed
// after all the sampling, exit 1, naming the temporary file.
TEST_F(CliTest, AnOutFileThatCannotBeWrittenIsRefusedFirst) {
  const std::string tree = path("t.json");
  ASSERT_EQ(run("tree generate --family random --seed 1 --out " + tree).exit_code, 0);
  const std::string folder = "--out: '" + dir_.string() + "' is a folder, not a file";
  expect_rejected(run("tree sample --tree " + tree + " --n 5 --seed 1 --out " + dir_.string()), folder);
  expect_rejected(run("tree generate --family random --seed 1 --out " + dir_.string()), folder);
  expect_rejected(run("tree sample --tree " + tree + " --n 5 --seed 1 --out /proc/disa_s.jsonl"),
                  "--out: cannot write in the folder '/proc'");
  expect_rejected(run("tree sample --tree " + tree + " --n 5 --seed 1 --out " + tree + "/s.jsonl"),
                  "--out: '" + tree + "' is a file, not a folder");
}

std::string file_text(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// An --out that is one of the inputs was renamed over it: `tree sample --tree t.json --out
// t.json` and `anchor --samples-file s.jsonl --out s.jsonl` exited 0 and the input was gone.
// Refused first, naming both options, however the same file is spelt.
TEST_F(CliTest, AnOutThatIsAnInputIsRefusedAndTheInputKept) {
  const std::string tree = path("t.json");
  ASSERT_EQ(run("tree generate --family random --seed 1 --out " + tree).exit_code, 0);
  const std::string samples = path("s.jsonl");
  ASSERT_EQ(run("tree sample --tree " + tree + " --n 5 --seed 1 --out " + samples).exit_code, 0);
  const std::string tree_text = file_text(tree), samples_text = file_text(samples);
  std::filesystem::create_symlink(tree, path("link.json"));
  for (const std::string& out : {tree, dir_.string() + "/./t.json", path("link.json")}) {
    expect_rejected(run("tree sample --tree " + tree + " --n 5 --seed 1 --out " + out),
                    "--out: '" + out + "' is the same file as --tree '" + tree + "'");
  }
  expect_rejected(run("tree sample --tree " + tree + " --policy file:" + samples + " --n 5 --seed 1 --out " + samples),
                  "is the same file as --policy");
  expect_rejected(run("anchor --samples-file " + samples + " --beta 2 --out " + samples),
                  "--out: '" + samples + "' is the same file as --samples-file '" + samples + "'");
  expect_rejected(run("anchor --tree " + tree + " --beta 2 --proposal reference --samples 4 --seed 1 --out " + tree),
                  "is the same file as --tree");
  EXPECT_EQ(file_text(tree), tree_text);
  EXPECT_EQ(file_text(samples), samples_text);
}

// stdout to /dev/full: `disa tree sample ... > /dev/full` exited 0 with nothing written.
// A small output fails when it is flushed at the end, a large one mid-command; both must
// exit 1 naming standard output. stderr (the message) goes to the pipe, stdout to /dev/full.
TEST_F(CliTest, AnOutputThatCannotBeWrittenToStandardOutputFails) {
  if (!std::filesystem::exists("/dev/full")) GTEST_SKIP() << "no /dev/full here";
  const std::string tree = path("t.json");
  ASSERT_EQ(run("tree generate --family random --seed 1 --out " + tree).exit_code, 0);
  for (const std::string args :
       {"tree sample --tree " + tree + " --n 5 --seed 1", "tree sample --tree " + tree + " --n 100000 --seed 1",
        "tree info --tree " + tree + " --beta 1 --json", std::string("loss --list --json")}) {
    const disa::test::CliResult r = disa::test::run_disa(args, "", "2>&1 >/dev/full");
    EXPECT_EQ(r.exit_code, 1) << args << ": " << r.output;
    EXPECT_EQ(r.output, "disa: failed: writing standard output: No space left on device\n") << args;
  }
}

// A folder as an input file read as an empty file: "holds no samples", "has no lines",
// or no output at all with exit 0. Named as a folder instead.
TEST_F(CliTest, AFolderGivenAsAnInputFileIsNamed) {
  expect_rejected(run("anchor --samples-file " + dir_.string() + " --beta 2 --out " + path("a.jsonl")),
                  "--samples-file: '" + dir_.string() + "' is a folder, not a file");
}

// beta r overflowing a double gave log_Z "inf" and NaN target quantities, exit 0.
TEST_F(CliTest, AnOverflowingTiltIsRefusedNamingTheLeaf) {
  const std::string big = path("big.json");
  std::ofstream(big) << R"({"format":"disa-tree","version":1,"vocab":2,"horizon":1,"eos":null,)"
                     << R"("nodes":[{"prefix":[],"logits":[0,0]}],"leaves":[{"path":[0],"reward":0},)"
                     << R"({"path":[1],"reward":1e308}]})";
  expect_rejected(run("tree info --tree " + big + " --beta 10 --json"),
                  "--beta: 10 times the reward 1e+308 of leaf 1 of " + big + " overflows a double");
  const Result fits = run("tree info --tree " + big + " --beta 1 --json");  // 1e308 itself is finite
  ASSERT_EQ(fits.exit_code, 0) << fits.output;
  EXPECT_DOUBLE_EQ(nlohmann::json::parse(fits.output)["log_Z"].get<double>(), 1e308);  // + log(1/2), below an ulp
  // A tilted proposal tilts by lambda beta: with lambda 2 and a reward of -1e308, log q was
  // -inf where log p* is finite, and chi2 printed "inf" with exit 0 (its true value is finite).
  const std::string low = path("low.json");
  std::ofstream(low) << R"({"format":"disa-tree","version":1,"vocab":2,"horizon":1,"eos":null,)"
                     << R"("nodes":[{"prefix":[],"logits":[0,0]}],"leaves":[{"path":[0],"reward":-1e308},)"
                     << R"({"path":[1],"reward":1}]})";
  expect_rejected(run("tree info --tree " + low + " --beta 1 --proposal tilted:lambda=2 --json"),
                  "tilted:lambda=2: lambda beta = 2 times the reward -1e+308 of leaf 0 overflows a double");
  const Result half = run("tree info --tree " + low + " --beta 1 --proposal tilted:lambda=0.5 --json");
  ASSERT_EQ(half.exit_code, 0) << half.output;
  EXPECT_TRUE(nlohmann::json::parse(half.output)["chi2"].is_number()) << half.output;
}

// A tree from a pipe or a device had no file size: "filesystem error: cannot get file
// size" with exit 1. A pipe is read whole (once); /dev/null is empty, not JSON.
TEST_F(CliTest, ATreeFromAPipeIsReadAndADeviceIsNamed) {
  const std::string tree = path("t.json");
  ASSERT_EQ(run("tree generate --family strategies --seed 1 --out " + tree).exit_code, 0);
  const Result piped = run("tree info --tree /dev/stdin --beta 1 --json", "cat " + tree + " |");
  ASSERT_EQ(piped.exit_code, 0) << piped.output;
  const Result file = run("tree info --tree " + tree + " --beta 1 --json");
  EXPECT_EQ(piped.output, file.output);
  expect_rejected(run("tree info --tree /dev/null --beta 1"), "/dev/null: not valid JSON");
  // Given empty (an unset variable), --proposal ran with no proposal, exit 0.
  expect_rejected(run("tree info --tree " + tree + " --beta 1 --proposal ''"), "--proposal: empty");
  // Every replicate's results are held: past memory, refused before the work (was bad_alloc).
  expect_rejected(run("estimate --tree " + tree +
                          " --beta 1 --proposal reference --samples 1 --replicates 1000000 "
                          "--seed 1",
                      "DISA_MAX_TREE_BYTES=1000000"),
                  "--replicates: 1000000 replicates hold about");
  // Digits only: a leading space and 10^23 (clamped to 2^63 - 1) were read.
  for (const std::string bad : {"' 100000'", "99999999999999999999999", "1e6"}) {
    expect_rejected(run("tree info --tree " + tree + " --beta 1", "DISA_MAX_TREE_BYTES=" + bad),
                    "DISA_MAX_TREE_BYTES: must be a positive integer");
  }
}

// Long sampling runs (tree sample, anchor, estimate) show a progress line on a terminal,
// as train does, and nothing when stderr is not one (all other tests). `script` gives the
// command a pseudo-terminal; CI is unset, since the line is also quiet under CI.
TEST_F(CliTest, SamplingCommandsShowProgressOnATerminal) {
  if (std::system("command -v script >/dev/null 2>&1") != 0) GTEST_SKIP() << "no `script` (util-linux) here";
  const std::string tree = path("t.json");
  ASSERT_EQ(run("tree generate --family random --seed 1 --out " + tree).exit_code, 0);
  const auto on_terminal = [&](const std::string& args) {
    const std::string inner = disa::test::disa_binary() + " " + args;
    std::string quoted = "'";
    for (const char c : inner) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    FILE* pipe = popen(("env -u CI script -qec " + quoted + "' /dev/null 2>&1").c_str(), "r");
    std::string out;
    char buf[4096];
    while (std::fgets(buf, sizeof buf, pipe)) out += buf;
    EXPECT_EQ(pclose(pipe), 0) << out;
    return out;
  };
  EXPECT_NE(on_terminal("tree sample --tree " + tree + " --n 100000 --seed 1 --out " + path("s.jsonl"))
                .find("tree sample 100% 100000 of 100000 trajectories"),
            std::string::npos);
  EXPECT_NE(on_terminal("anchor --tree " + tree + " --beta 2 --proposal reference --samples 300000 --seed 1 --out " +
                        path("a.jsonl"))
                .find("anchor 100% prompt 1/1: 300000 of 300000 samples"),
            std::string::npos);
  EXPECT_NE(on_terminal("estimate --tree " + tree + " --beta 2 --proposal reference --samples 100 --replicates 50 --seed 1")
                .find("\033[Kestimate 100% 50 replicates of N = 100"),
            std::string::npos);
  // Not a terminal: no progress line.
  const Result piped = run("tree sample --tree " + tree + " --n 100000 --seed 1 --out " + path("s.jsonl"));
  EXPECT_EQ(piped.output.find("\033[K"), std::string::npos) << piped.output;
}

TEST_F(CliTest, BadTreeFileNamesTheJsonPath) {
  const std::string bad = path("bad.json");
  std::ofstream(bad) << R"({"format":"disa-tree","version":1,"vocab":2,"horizon":1,"eos":null,)"
                     << R"("nodes":[{"prefix":[],"logits":[0,"x"]}],"leaves":[]})";
  expect_rejected(run("tree info --tree " + bad + " --beta 1"), "/nodes/0/logits/1");
}

TEST_F(CliTest, FailedGenerateLeavesNoFileBehind) {
  // Arguments are validated before anything is written, and nothing temporary is left.
  const std::string out = path("never.json");
  EXPECT_EQ(run("tree generate --family random --set vocab=0 --seed 1 --out " + out).exit_code, 2);
  EXPECT_FALSE(std::filesystem::exists(out));
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    EXPECT_EQ(entry.path().string().find(".tmp-"), std::string::npos) << entry.path();
  }
}

}  // namespace
