// `disa loss` as a user meets it: the --json result of every objective against
// compute_loss called in-process, the advantages override, --set reaching the head,
// --list, --out and stdin, and bad batches or options (exit 2, one line naming the
// field or option). Runs build/bin/disa (test::disa_binary()).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/json_number.h"
#include "src/loss/batch_json.h"
#include "src/loss/objective.h"
#include "tests/util/cli_harness.h"

namespace {

using disa::test::expect_rejected;
using nlohmann::json;
using Result = disa::test::CliResult;
namespace loss = disa::loss;

Result run(const std::string& args) { return disa::test::run_disa(args); }

// Four sequences of lengths 3, 4, 1, 4 in two groups; padding holds values a head must
// never read ("nan", "-inf"). Every token ratio lies inside 0.2 of 1 but some outside 0.05.
json test_batch() {
  return json::parse(R"({
    "logp":     [[-1.0, -2.0, -0.5, "nan"], [-0.3, -1.2, -0.9, -0.4], [-2.0, "-inf", 0, 0], [-0.7, -0.8, -0.2, -1.1]],
    "logp_old": [[-1.1, -1.9, -0.6, 0], [-0.35, -1.0, -0.95, -0.5], [-1.8, 0, 0, 0], [-0.6, -0.9, -0.25, -1.0]],
    "logp_ref": [[-1.2, -2.1, -0.4, 0], [-0.4, -1.3, -1.0, -0.3], [-2.2, 0, 0, 0], [-0.8, -0.7, -0.3, -1.2]],
    "mask":     [[1, 1, 1, 0], [1, 1, 1, 1], [1, 0, 0, 0], [1, 1, 1, 1]],
    "reward":   [1, 0, 1, 0],
    "group":    [5, 5, 9, 9],
    "log_z":    [0.1, -0.2, 0.3, 0.0]
  })");
}
constexpr std::size_t kRows = 4, kColumns = 4;

// Shortest round-trip text reads back to the same double; 1e-15 relative leaves room for
// nothing but that (exact zeros must be exact).
void expect_same(double got, double want, const std::string& what) {
  if (std::isnan(want)) {
    EXPECT_TRUE(std::isnan(got)) << what;
    return;
  }
  EXPECT_LE(std::abs(got - want), 1e-15 * std::max(std::abs(got), std::abs(want))) << what << ": " << got << " vs "
                                                                                    << want;
}

double number(const json& v, const std::string& what) {
  const auto x = disa::from_json_number(nlohmann::ordered_json(v));
  EXPECT_TRUE(x.has_value()) << what << ": not a number: " << v.dump();
  return x.value_or(std::nan(""));
}

loss::LossResult<double> in_process(const std::string& name, const std::vector<std::string>& sets, const json& batch) {
  const loss::BatchData<double> data = loss::batch_from_json(batch);
  return loss::compute_loss<double>(loss::make_objective(name, sets), data.view());
}

class LossCliTest : public disa::test::CliDirTest {
 protected:
  std::string write_batch(const json& batch, const std::string& name = "b.json") {
    const std::string p = path(name);
    std::ofstream(p) << batch.dump();
    return p;
  }

  // `disa loss ... --json` on `batch`, parsed; fails the test on a non-zero exit.
  json run_json(const std::string& objective, const json& batch, const std::string& extra = "") {
    const Result r = run("loss --objective " + objective + " --batch " + write_batch(batch) + " " + extra + " --json");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(disa::test::count_lines(r.output), 1) << r.output;
    try {
      return json::parse(r.output);
    } catch (const json::parse_error& e) {
      ADD_FAILURE() << e.what() << " in: " << r.output;
      return json::object();
    }
  }

  // Every number of `j` equals the in-process result.
  void expect_matches(const json& j, const std::string& name, const std::vector<std::string>& sets, const json& batch) {
    SCOPED_TRACE(name);
    const loss::Objective objective = loss::make_objective(name, sets);
    const loss::LossResult<double> want = in_process(name, sets, batch);
    EXPECT_EQ(j.at("objective"), name);
    for (const auto& [key, value] : loss::option_list(objective)) EXPECT_EQ(j.at("options").at(key), value) << key;
    EXPECT_EQ(j.at("options").size(), loss::option_list(objective).size());
    expect_same(number(j.at("loss"), "loss"), want.loss, "loss");
    const json& grad = j.at("grad_logp");
    ASSERT_EQ(grad.size(), kRows);
    for (std::size_t i = 0; i < kRows; ++i) {
      ASSERT_EQ(grad[i].size(), kColumns) << "grad_logp[" << i << "]";
      for (std::size_t t = 0; t < kColumns; ++t) {
        const std::string what = "grad_logp[" + std::to_string(i) + "][" + std::to_string(t) + "]";
        expect_same(number(grad[i][t], what), want.grad_logp[i * kColumns + t], what);
      }
    }
    EXPECT_EQ(j.contains("grad_log_z"), loss::has_log_z_gradient(objective));
    if (j.contains("grad_log_z")) {
      ASSERT_EQ(j["grad_log_z"].size(), kRows);
      for (std::size_t i = 0; i < kRows; ++i) expect_same(number(j["grad_log_z"][i], "grad_log_z"), want.grad_log_z[i], "grad_log_z");
    }
    for (const auto& [key, values] : want.diagnostics.per_sequence) {
      ASSERT_TRUE(j.contains(key)) << key;
      ASSERT_EQ(j[key].size(), values.size()) << key;
      for (std::size_t i = 0; i < values.size(); ++i) expect_same(number(j[key][i], key), values[i], key);
    }
    for (const auto& [key, value] : want.diagnostics.scalars) {
      ASSERT_TRUE(j.contains(key)) << key;
      expect_same(number(j[key], key), value, key);
    }
    // Nothing else: the fixed keys plus the diagnostics.
    EXPECT_EQ(j.size(), 4 + j.contains("grad_log_z") + want.diagnostics.per_sequence.size() +
                            want.diagnostics.scalars.size());
  }
};

TEST_F(LossCliTest, HelpExitsZero) {
  const Result r = run("loss --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("--objective"), std::string::npos) << r.output;
}

TEST_F(LossCliTest, EveryObjectiveRoundTripsItsJson) {
  for (const std::string& name : loss::objective_names()) {
    expect_matches(run_json(name, test_batch()), name, {}, test_batch());
  }
}

TEST_F(LossCliTest, SummaryNamesLossGradientAndDiagnostics) {
  const Result r = run("loss --objective grpo --batch " + write_batch(test_batch()));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const loss::LossResult<double> want = in_process("grpo", {}, test_batch());
  char loss_text[64];
  std::snprintf(loss_text, sizeof loss_text, "%.6g", want.loss);
  EXPECT_NE(r.output.find(std::string("loss         ") + loss_text), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("grad_logp"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("pg_clipfrac"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("4 sequences x 4 positions, 12 valid tokens"), std::string::npos) << r.output;
}

TEST_F(LossCliTest, AdvantagesOverridePerSequenceAndPerToken) {
  const std::vector<double> a = {0.3, -1.2, 0.8, 0.1};
  json per_sequence = test_batch();
  per_sequence["advantages"] = a;
  json per_token = test_batch();
  json rows = json::array();
  for (std::size_t i = 0; i < kRows; ++i) {
    json row = json::array();
    for (std::size_t t = 0; t < kColumns; ++t) row.push_back(a[i] * per_token["mask"][i][t].get<double>());
    rows.push_back(row);
  }
  per_token["advantages"] = rows;
  for (const std::string name : {"grpo", "gspo", "flowrl"}) {
    SCOPED_TRACE(name);
    const json s = run_json(name, per_sequence);
    const json t = run_json(name, per_token);
    const json computed = run_json(name, test_batch());
    expect_matches(s, name, {}, per_sequence);
    expect_matches(t, name, {}, per_token);
    // The same advantages either way; not the ones computed from reward and group.
    EXPECT_NEAR(s["loss"].get<double>(), t["loss"].get<double>(), 1e-12 * std::abs(t["loss"].get<double>()));
    EXPECT_NE(s["loss"].get<double>(), computed["loss"].get<double>());
    // A per-sequence source is reported back as given.
    ASSERT_TRUE(s.contains("advantages"));
    for (std::size_t i = 0; i < kRows; ++i) EXPECT_EQ(s["advantages"][i].get<double>(), a[i]);
  }
}

TEST_F(LossCliTest, SetOptionsReachTheHead) {
  const json wide = run_json("grpo", test_batch());
  const json narrow = run_json("grpo", test_batch(), "--set clip_ratio=0.05");
  expect_matches(narrow, "grpo", {"clip_ratio=0.05"}, test_batch());
  EXPECT_EQ(wide["pg_clipfrac"].get<double>(), 0.0);
  EXPECT_GT(narrow["pg_clipfrac"].get<double>(), 0.0);
  EXPECT_EQ(narrow["options"]["clip_ratio_low"], "0.05");
  EXPECT_EQ(narrow["options"]["clip_ratio_high"], "0.05");

  const std::string seq_mean = "--set loss_agg_mode=seq-mean-token-mean --set kl_coef=0.1";
  const json composed = run_json("grpo", test_batch(), seq_mean);
  expect_matches(composed, "grpo", {"loss_agg_mode=seq-mean-token-mean", "kl_coef=0.1"}, test_batch());
  EXPECT_NE(composed["loss"].get<double>(), wide["loss"].get<double>());

  // Several options after one --set, as CLI11 allows.
  const json both = run_json("flowrl", test_batch(), "--set weight_clip=cispo clip_ratio_high=0.1");
  expect_matches(both, "flowrl", {"weight_clip=cispo", "clip_ratio_high=0.1"}, test_batch());
}

TEST_F(LossCliTest, OutWritesTheSameJsonAtomically) {
  const std::string batch = write_batch(test_batch());
  const std::string out = path("out/result.json");
  const Result r = run("loss --objective tb --batch " + batch + " --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("wrote " + out), std::string::npos) << r.output;
  std::ifstream in(out);
  std::stringstream text;
  text << in.rdbuf();
  const Result stdout_json = run("loss --objective tb --batch " + batch + " --json");
  EXPECT_EQ(text.str(), stdout_json.output);
  for (const auto& entry : std::filesystem::directory_iterator(path("out"))) {
    EXPECT_EQ(entry.path().filename(), "result.json") << "left behind: " << entry.path();
  }
}

// --out naming the --batch file replaced the batch with the result, exit 0.
TEST_F(LossCliTest, AnOutThatIsTheBatchIsRefusedAndTheBatchKept) {
  const std::string batch = write_batch(test_batch());
  std::ifstream before(batch);
  const std::string text((std::istreambuf_iterator<char>(before)), {});
  expect_rejected(run("loss --objective tb --batch " + batch + " --out " + batch),
                  "--out: '" + batch + "' is the same file as --batch '" + batch + "'");
  std::ifstream after(batch);
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(after)), {}), text);
}

TEST_F(LossCliTest, BatchFromStandardInput) {
  const std::string batch = write_batch(test_batch());
  const Result from_file = run("loss --objective kl --batch " + batch + " --json");
  const Result from_stdin = run("loss --objective kl --batch - --json < " + batch);
  ASSERT_EQ(from_stdin.exit_code, 0) << from_stdin.output;
  EXPECT_EQ(from_stdin.output, from_file.output);
}

TEST_F(LossCliTest, ListShowsEveryObjectiveWithItsOptions) {
  const Result text = run("loss --list");
  ASSERT_EQ(text.exit_code, 0) << text.output;
  for (const std::string& name : loss::objective_names()) {
    EXPECT_NE(("\n" + text.output).find("\n" + name + "  "), std::string::npos) << name << " in: " << text.output;
  }
  EXPECT_NE(text.output.find("disa  alias of tb"), std::string::npos) << text.output;

  const Result r = run("loss --list --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json j = json::parse(r.output);
  ASSERT_EQ(j["objectives"].size(), loss::objective_names().size());
  for (const json& o : j["objectives"]) {
    const std::string name = o["name"].get<std::string>();
    const loss::Objective objective = loss::make_objective(name);
    for (const auto& [key, value] : loss::option_list(objective)) EXPECT_EQ(o["options"][key], value) << name << " " << key;
    EXPECT_EQ(o["log_z_gradient"].get<bool>(), loss::has_log_z_gradient(objective)) << name;
  }

  const Result resolved = run("loss --list --objective grpo --set clip_ratio_high=0.28 --json");
  ASSERT_EQ(resolved.exit_code, 0) << resolved.output;
  const json g = json::parse(resolved.output)["objectives"];
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0]["options"]["clip_ratio_high"], "0.28");
  EXPECT_EQ(g[0]["options"]["clip_ratio_low"], "0.2");

  // flowrl lists the bounds its weight_clip reads, and only those: the others are refused.
  const Result cispo = run("loss --list --objective flowrl --set weight_clip=cispo --json");
  ASSERT_EQ(cispo.exit_code, 0) << cispo.output;
  const json f = json::parse(cispo.output)["objectives"][0]["options"];
  EXPECT_EQ(f["clip_ratio_low"], "0.2");
  EXPECT_EQ(f["clip_ratio_high"], "0.28");
  EXPECT_FALSE(f.contains("clip_ratio")) << f.dump();
  EXPECT_FALSE(f.contains("weight_clamp_max")) << f.dump();
}

TEST_F(LossCliTest, BadBatchesNameTheField) {
  const auto rejected = [&](const json& batch, const std::string& objective, const std::string& names) {
    SCOPED_TRACE(names);
    expect_rejected(run("loss --objective " + objective + " --batch " + write_batch(batch)), names);
  };
  json b = test_batch();
  b["logp"][2].erase(3);
  rejected(b, "grpo", "logp[2]: row has 3 entries, expected 4");

  b = test_batch();
  b["log_p"] = b["logp"];
  rejected(b, "grpo", "\"log_p\": unknown batch field");

  b = test_batch();
  b["mask"][1][2] = 0.5;
  rejected(b, "grpo", "mask[1][2]");

  b = test_batch();
  b["logp"][1][1] = "nan";  // a valid token
  rejected(b, "grpo", "logp[1][1]");

  b = test_batch();
  b["logp_old"][3][0] = "inf";
  rejected(b, "gspo", "logp_old[3][0]");

  b = test_batch();
  b["group"][2] = 1.5;
  rejected(b, "grpo", "group[2]: expected an integer, got 1.5");

  b = test_batch();
  b["reward"].erase(0);
  rejected(b, "grpo", "reward: expected 4 entries (as logp), got 3");

  b = test_batch();
  b.erase("log_z");
  rejected(b, "tb", "log_z");

  b = test_batch();
  b["advantages"] = json::array({0.5, 0.5});
  rejected(b, "grpo", "advantages");

  // A batch with no valid token: the mean has no denominator; the error names the head
  // (gspo has no loss_agg_mode option, so the message must not read as one).
  b = test_batch();
  for (auto& row : b["mask"]) {
    for (auto& m : row) m = 0;
  }
  rejected(b, "gspo", "gspo: the mask has no valid token");
  rejected(b, "kl", "kl: the mask has no valid token");

  // A penalty with a negative coefficient is a reward: refused, as grpo's kl_coef is.
  expect_rejected(run("loss --objective kl --set kl_coef=-1 --batch " + write_batch(test_batch())), "kl_coef=-1");

  std::ofstream(path("python.json")) << R"({"logp": [[NaN]], "mask": [[1]]})";
  expect_rejected(run("loss --objective kl --batch " + path("python.json")), "\"nan\"");
  expect_rejected(run("loss --objective kl --batch " + path("missing.json")), "missing.json: cannot open");
  // A number no double holds is a bad file too (nlohmann's out_of_range, not parse_error):
  // named with the file, as from standard input, not an exit 1 naming nothing.
  std::ofstream(path("huge.json")) << R"({"logp": [[-1e400]], "mask": [[1]], "log_z": [0], "reward": [1]})";
  expect_rejected(run("loss --objective tb --batch " + path("huge.json")), "huge.json: not valid JSON (number overflow");
}

// The reference would return inf here; the head refuses, naming the row (exit 1: not the
// input's form but a number the computation cannot represent).
TEST_F(LossCliTest, OverflowingWeightIsANumericalFailure) {
  json b = test_batch();
  b["logp"][0][0] = 800.0;
  const Result r = run("loss --objective flowrl --batch " + write_batch(b));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(disa::test::count_lines(r.output), 1) << r.output;
  EXPECT_NE(r.output.find("row 0"), std::string::npos) << r.output;
  EXPECT_EQ(run("loss --objective flowrl --batch " + write_batch(b) + " --set weight_clip=max10").exit_code, 0);
}

TEST_F(LossCliTest, BadArgumentsNameTheOption) {
  const std::string batch = write_batch(test_batch());
  expect_rejected(run("loss --objective grpox --batch " + batch), "grpox");
  expect_rejected(run("loss --objective grpo --batch " + batch + " --set clip_ration=0.1"), "clip_ration");
  expect_rejected(run("loss --objective grpo --batch " + batch + " --set clip_ratio=abc"), "clip_ratio");
  expect_rejected(run("loss --objective grpo --batch " + batch + " --set loss_agg_mode=mean"), "loss_agg_mode");
  expect_rejected(run("loss --objective grpo --batch " + batch + " --set clip_ratio"), "clip_ratio");
  // A flowrl bound its weight_clip does not read: refused, not run with cispo's 0.2/0.28.
  expect_rejected(run("loss --objective flowrl --batch " + batch + " --set weight_clip=cispo --set clip_ratio=0.1"),
                  "flowrl: clip_ratio=0.1: not read by weight_clip=cispo (it uses clip_ratio_low/clip_ratio_high)");
  expect_rejected(run("loss --batch " + batch), "--objective");
  expect_rejected(run("loss --objective grpo"), "--batch");
  expect_rejected(run("loss --list --batch " + batch), "--batch");
  expect_rejected(run("loss --list --set beta=2"), "--set");
  expect_rejected(run("loss --objective tb --batch " + batch + " --bogus"), "--bogus");
  // strtod took hexadecimal and leading space: beta=0x1p1 ran with beta 2.
  expect_rejected(run("loss --objective tb --batch " + batch + " --set beta=0x1p1"),
                  "tb: beta=0x1p1: expected a finite decimal number");
  expect_rejected(run("loss --objective tb --batch " + batch + " --set 'beta= 2'"),
                  "tb: beta= 2: expected a finite decimal number");
  // --out that cannot be written: refused before the loss runs (was exit 1 after it,
  // naming the temporary).
  expect_rejected(run("loss --objective tb --batch " + batch + " --out " + dir_.string()),
                  "--out: '" + dir_.string() + "' is a folder, not a file");
  expect_rejected(run("loss --list --out /proc/disa_loss.json"), "--out: cannot write in the folder '/proc'");
}

}  // namespace
