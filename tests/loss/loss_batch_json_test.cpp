// The JSON form of a loss batch and of a head's result (src/loss/batch_json.h):
// shapes, the "nan"/"inf" spelling, both advantage layouts, and that every malformed
// batch is an InputError naming the JSON path (the CLI turns it into one line, exit 2).
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/input_error.h"
#include "src/json_number.h"
#include "src/loss/batch_json.h"
#include "src/loss/objective.h"

namespace disa::loss {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

json small_batch() {
  return json::parse(R"({
    "logp":     [[-1.0, -2.0, "nan"], [-0.5, "-inf", -3.0]],
    "logp_old": [[-1.1, -2.1, 0.0], [-0.4, 0.0, 0.0]],
    "logp_ref": [[-1.2, -2.2, 0.0], [-0.6, 0.0, 0.0]],
    "mask":     [[1, 1, 0], [1, 0, 0]],
    "reward":   [1, 0],
    "group":    [7, 7],
    "log_z":    [0.25, "inf"]
  })");
}

// The message of the InputError `f` throws (empty when it throws none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

std::string parse_error(const json& j) {
  return error_of([&] { batch_from_json(j); });
}

TEST(BatchJson, ReadsEveryFieldRowMajor) {
  const BatchData<double> b = batch_from_json(small_batch());
  EXPECT_EQ(b.rows, 2u);
  EXPECT_EQ(b.columns, 3u);
  ASSERT_EQ(b.logp.size(), 6u);
  EXPECT_EQ(b.logp[0], -1.0);
  EXPECT_EQ(b.logp[1], -2.0);
  EXPECT_TRUE(std::isnan(b.logp[2]));
  EXPECT_EQ(b.logp[3], -0.5);
  EXPECT_EQ(b.logp[4], -std::numeric_limits<double>::infinity());
  EXPECT_EQ(b.logp_old[3], -0.4);
  EXPECT_EQ(b.logp_ref[1], -2.2);
  EXPECT_EQ(b.mask, (std::vector<double>{1, 1, 0, 1, 0, 0}));
  EXPECT_EQ(b.reward, (std::vector<double>{1, 0}));
  EXPECT_EQ(b.group, (std::vector<std::int64_t>{7, 7}));
  EXPECT_EQ(b.log_z[0], 0.25);
  EXPECT_EQ(b.log_z[1], std::numeric_limits<double>::infinity());
  EXPECT_TRUE(b.advantages.empty());
  const LossBatch<double> v = b.view();
  EXPECT_EQ(v.rows, 2u);
  EXPECT_EQ(v.columns, 3u);
  EXPECT_TRUE(v.valid(1, 0));
  EXPECT_FALSE(v.valid(1, 1));
}

TEST(BatchJson, AbsentOrNullFieldsStayEmpty) {
  const BatchData<double> b = batch_from_json(json::parse(R"({"logp": [[-1, -2]], "mask": [[1, 1]], "log_z": null})"));
  EXPECT_EQ(b.rows, 1u);
  EXPECT_EQ(b.columns, 2u);
  EXPECT_TRUE(b.logp_old.empty());
  EXPECT_TRUE(b.logp_ref.empty());
  EXPECT_TRUE(b.reward.empty());
  EXPECT_TRUE(b.group.empty());
  EXPECT_TRUE(b.log_z.empty());
  const BatchData<double> e = batch_from_json(json::object());
  EXPECT_EQ(e.rows, 0u);
  EXPECT_EQ(e.columns, 0u);
}

TEST(BatchJson, ShapeFromWhicheverFieldComesFirst) {
  // grpo_advantage.json's cases hold only reward, group and mask; kl_penalty.json's no mask.
  const BatchData<double> a = batch_from_json(json::parse(R"({"reward": [1, 0, 1], "group": [0, 0, 1]})"));
  EXPECT_EQ(a.rows, 3u);
  EXPECT_EQ(a.columns, 0u);
  const BatchData<double> b = batch_from_json(json::parse(R"({"logp_ref": [[0, 0]], "logp": [[1, 2]]})"));
  EXPECT_EQ(b.rows, 1u);
  EXPECT_EQ(b.columns, 2u);
}

TEST(BatchJson, AdvantagesPerTokenOrPerSequence) {
  json j = small_batch();
  j["advantages"] = json::parse(R"([[0.5, 0.5, 0], [-1, 0, "nan"]])");
  const BatchData<double> per_token = batch_from_json(j);
  ASSERT_EQ(per_token.advantages.size(), 6u);
  EXPECT_EQ(per_token.advantages[3], -1.0);
  EXPECT_TRUE(std::isnan(per_token.advantages[5]));
  j["advantages"] = json::parse(R"([0.5, -1])");
  const BatchData<double> per_sequence = batch_from_json(j);
  EXPECT_EQ(per_sequence.advantages, (std::vector<double>{0.5, -1.0}));
}

TEST(BatchJson, ErrorsNameTheJsonPath) {
  json j = small_batch();
  j["logp"][1] = json::parse("[-0.5, -1]");
  EXPECT_EQ(parse_error(j), "logp[1]: row has 2 entries, expected 3");

  j = small_batch();
  j["mask"][0] = json::parse("[1, 1, 0, 0]");
  EXPECT_EQ(parse_error(j), "mask[0]: row has 4 entries, expected 3 (as logp)");

  j = small_batch();
  j["mask"].erase(1);
  EXPECT_EQ(parse_error(j), "mask: expected 2 rows (as logp), got 1");

  j = small_batch();
  j["reward"] = json::parse("[1, 0, 1]");
  EXPECT_EQ(parse_error(j), "reward: expected 2 entries (as logp), got 3");

  j = small_batch();
  j["group"][1] = 1.5;
  EXPECT_EQ(parse_error(j), "group[1]: expected an integer, got 1.5");

  j = small_batch();
  j["group"][0] = "7";
  EXPECT_EQ(parse_error(j), "group[0]: expected an integer, got \"7\"");

  j = small_batch();
  j["mask"][1][2] = 0.5;
  EXPECT_EQ(parse_error(j), "mask[1][2]: expected 0 or 1, got 0.5");

  j = small_batch();
  j["logp_ref"][0][1] = "NaN";
  EXPECT_EQ(parse_error(j), "logp_ref[0][1]: expected a number (or \"nan\", \"inf\", \"-inf\"), got \"NaN\"");

  j = small_batch();
  j["logp"][0] = -1.0;
  EXPECT_EQ(parse_error(j), "logp[0]: expected a row (a list of numbers), got -1.0");

  j = small_batch();
  j["reward"] = 1;
  EXPECT_EQ(parse_error(j), "reward: expected a list of numbers, one per sequence, got 1");

  j = small_batch();
  j["log_z"][0] = json::array({1});
  EXPECT_EQ(parse_error(j), "log_z[0]: expected a number (one per sequence), got a list");

  j = small_batch();
  j["advantages"] = json::parse(R"([[0.5, 0.5, 0], -1])");
  EXPECT_EQ(parse_error(j), "advantages[1]: expected a row (a list of numbers), got -1");

  EXPECT_NE(parse_error(json::array()).find("batch: expected a JSON object"), std::string::npos);
}

TEST(BatchJson, UnknownKeysAreRejectedByName) {
  json j = small_batch();
  j["log_p"] = j["logp"];
  const std::string e = parse_error(j);
  EXPECT_EQ(e.rfind("\"log_p\": unknown batch field (did you mean \"logp\"?)", 0), 0u) << e;
  j["extra"] = 1;
  EXPECT_EQ(parse_error(j).rfind("\"extra\", \"log_p\": unknown batch fields;", 0), 0u) << parse_error(j);
  // Keys a caller reads itself are skipped when named.
  json golden = small_batch();
  golden["loss_mat"] = golden["logp"];
  EXPECT_NE(parse_error(golden), "");
  EXPECT_EQ(batch_from_json(golden, {"loss_mat"}).rows, 2u);
}

TEST(BatchJson, LoadBatchNamesTheFile) {
  const fs::path dir = fs::temp_directory_path() / ("disa_batch_json_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return (dir / name).string();
  };
  const std::string good = write("good.json", small_batch().dump());
  EXPECT_EQ(load_batch(good).rows, 2u);
  const std::string ragged = write("ragged.json", R"({"logp": [[1, 2], [3]]})");
  EXPECT_EQ(error_of([&] { load_batch(ragged); }), ragged + ": logp[1]: row has 1 entries, expected 2");
  // Python's json.dump writes bare NaN, which is not JSON: the message says how to spell it.
  const std::string python = write("python.json", R"({"logp": [[NaN]]})");
  const std::string e = error_of([&] { load_batch(python); });
  EXPECT_EQ(e.rfind(python + ": not valid JSON (", 0), 0u) << e;
  EXPECT_NE(e.find("\"nan\""), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  // Two log_z keys: the last (100) used to be read silently, a loss of 9801 for 0.25.
  const std::string twice = write("twice.json", R"({"logp": [[-1]], "mask": [[1]], "log_z": [0.5], "log_z": [100]})");
  EXPECT_EQ(error_of([&] { load_batch(twice); }), twice + ": /log_z: key \"log_z\" is given twice in one object");
  const std::string missing = (dir / "missing.json").string();
  EXPECT_EQ(error_of([&] { load_batch(missing); }), missing + ": cannot open");
  EXPECT_NE(error_of([&] { load_batch(dir.string()); }).find("is a directory"), std::string::npos);
  fs::remove_all(dir);
}

TEST(BatchJson, ResultJsonLayoutAndNonFiniteSpelling) {
  const BatchData<double> b = batch_from_json(small_batch());
  const Objective objective = make_objective("tb", {"beta=2"});
  LossResult<double> r;
  r.loss = 0.1;
  r.grad_logp = {1, 2, 0, 3, 0, 0};
  r.grad_log_z = {0.5, std::numeric_limits<double>::quiet_NaN()};
  r.diagnostics.scalars["residual_rms"] = std::numeric_limits<double>::infinity();
  r.diagnostics.per_sequence["residual"] = {0.25, -0.5};
  const nlohmann::ordered_json j = result_to_json(objective, b.view(), r);
  std::vector<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"objective", "options", "loss", "grad_logp", "grad_log_z", "residual",
                                            "residual_rms"}));
  EXPECT_EQ(j["objective"], "tb");
  for (const auto& [key, value] : option_list(objective)) EXPECT_EQ(j["options"][key], value) << key;
  EXPECT_EQ(j["loss"], 0.1);
  EXPECT_EQ(j["grad_logp"], nlohmann::ordered_json::parse("[[1.0, 2.0, 0.0], [3.0, 0.0, 0.0]]"));
  EXPECT_EQ(j["grad_log_z"][1], "nan");
  EXPECT_EQ(j["residual_rms"], "inf");
  EXPECT_EQ(j["residual"][1], -0.5);
  // The text reads back to the same doubles.
  const double third = 1.0 / 3.0;
  r.loss = third;
  const json back = json::parse(result_to_json(objective, b.view(), r).dump());
  EXPECT_EQ(back["loss"].get<double>(), third);

  r.grad_logp.pop_back();
  EXPECT_THROW(result_to_json(objective, b.view(), r), std::logic_error);
}

// Every golden case's inputs are a batch in this schema (plus agg_loss's loss_mat).
TEST(BatchJson, ReadsEveryGoldenInput) {
  fs::path dir = "../shared/golden";
  if (const char* shared = std::getenv("DISA_SHARED_DIR"); shared && *shared) {
    dir = fs::path(shared) / "golden";
    // Set explicitly, a path without golden/ is a mistake, not a clone without the data.
    ASSERT_TRUE(fs::is_directory(dir)) << "DISA_SHARED_DIR=" << shared << " has no golden/ directory";
  }
  if (!fs::is_directory(dir)) GTEST_SKIP() << "no golden vectors at " << dir << " (a user's clone has none)";
  int cases = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    std::ifstream in(entry.path());
    const json file = json::parse(in);
    for (const json& c : file.at("cases")) {
      SCOPED_TRACE(entry.path().filename().string() + " " + c.at("name").get<std::string>());
      const json& inputs = c.at("inputs");
      const BatchData<double> b = batch_from_json(inputs, {"loss_mat"});
      for (const char* field : {"logp", "logp_old", "logp_ref", "mask"}) {
        if (inputs.contains(field)) {
          EXPECT_EQ(inputs[field].size(), b.rows) << field;
        }
      }
      if (inputs.contains("logp")) {
        EXPECT_EQ(b.logp.size(), b.rows * b.columns);
      }
      ++cases;
    }
  }
  EXPECT_GT(cases, 0);
}

}  // namespace
}  // namespace disa::loss
