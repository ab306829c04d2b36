// Tests the loss heads (src/loss/) against the golden vectors of the public reference
// implementations: ../shared/golden/*.json (its README.md; LOSSES.md sections 2-7).
//
// Against: every case of every golden file, each output compared value by value with the
// README's tolerance; where a reference returns nan (agg_loss over an all-masked batch)
// our head reports an InputError instead, and the test asserts that error and its cause.
// Also: GRPO advantages computed from reward/group equal the `advantages` the references
// were given (so the heads need no override in real use), the float instantiation agrees
// with the double one, and the hand examples of LOSSES.md sections 2, 3 and 6.
//
// The golden directory is ../shared/golden relative to the working directory (ctest runs
// in the project root), or $DISA_SHARED_DIR/golden. A clone without it skips these tests.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/input_error.h"
#include "src/json_number.h"
#include "src/numerical_error.h"
#include "src/loss/aggregation.h"
#include "src/loss/batch_json.h"
#include "src/loss/grpo_advantage.h"
#include "src/loss/kl_penalty.h"
#include "src/loss/loss_batch.h"
#include "src/loss/loss_result.h"
#include "src/loss/objective.h"
#include "src/loss/ppo_clip.h"
#include "tests/util/errors.h"

namespace disa::loss {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::contains_all;
using test::input_error_message;

// ---------------------------------------------------------------------------------------
// Tolerances: every comparison in this file uses one of these. A value passes when
// |got - want| <= max(abs, rel * |want|).
struct Tolerance {
  double rel;
  double abs;
};

struct Tolerances {
  // golden/README.md "Tolerance": |got - want| <= 1e-9 * max(1, |want|) for every finite
  // value, with the references' epsilons (masked mean + 1e-8, GRPO std + 1e-6) reproduced.
  // The closed forms reproduce the vectors to ~2e-15, so this only absorbs summation order
  // (measured: the heads use at most 1.4e-6 of it; each test prints its margin).
  static constexpr Tolerance golden{1e-9, 1e-9};

  // Float path, compared with the double head run on the *same* (float-rounded) inputs, so
  // both read identical numbers and input rounding (6e-8 relative per input) cancels out.
  // The heads accumulate in double (loss_result.h), so a float gradient is the double one
  // rounded once to float: error <= 2^-24 |want| (round to nearest), or < FLT_MIN where it
  // leaves the normal range. We allow two roundings (2^-23) in case an output passes through
  // one float intermediate; a head doing its arithmetic in float would exceed it wherever
  // terms cancel (FlowRL's residual subtracts terms ~50 times its size). Measured: at most
  // 0.49 of it, i.e. exactly one rounding.
  static constexpr Tolerance float_gradient{0x1p-23, std::numeric_limits<float>::min()};
  // loss and diagnostics are doubles computed by the same double arithmetic from the same
  // values: equal up to a different summation order (a few ulps, far below 1e-12); a float
  // intermediate would show as ~1e-7.
  static constexpr Tolerance float_double_scalar{1e-12, 1e-300};

  // Exact closed forms of the hand examples (e.g. exp(0.5)): one or two roundings.
  static constexpr Tolerance closed_form{1e-14, 1e-15};
};

// LOSSES.md prints its examples to a fixed number of decimals (1.648721, 0.1065307): the
// printed value is within half a unit of its last digit of the exact one.
Tolerance printed(int decimals) { return {0.0, 0.5 * std::pow(10.0, -decimals)}; }

// Case counts from golden/README.md's table: a truncated or regenerated file fails loudly.
const std::map<std::string, std::size_t>& expected_case_counts() {
  static const std::map<std::string, std::size_t> counts = {
      {"grpo_advantage.json", 10},         {"ppo_clip_loss.json", 18},
      {"gspo_loss.json", 6},               {"kl_penalty.json", 6},
      {"agg_loss.json", 6},                {"flowrl_paper_decbc57.json", 5},
      {"flowrl_clamp10_f11af2d.json", 5},  {"flowrl_cispo_4bf4bd3.json", 5}};
  return counts;
}

// The loss files run through compute_loss (the float path and the advantage checks use them).
const std::vector<std::string>& loss_files() {
  static const std::vector<std::string> files = {"ppo_clip_loss.json", "gspo_loss.json",
                                                 "flowrl_paper_decbc57.json", "flowrl_clamp10_f11af2d.json",
                                                 "flowrl_cispo_4bf4bd3.json"};
  return files;
}

// ---------------------------------------------------------------------------------------
// Locating and loading the golden files.

constexpr const char* kNoGolden =
    "the golden vectors live in ../shared/golden (relative to the project root, or "
    "$DISA_SHARED_DIR/golden); a user's clone has none";

// nullopt when absent. An explicitly set DISA_SHARED_DIR that lacks golden/ is a failure,
// not a skip: a mistyped path must not pass silently.
std::optional<fs::path> golden_dir() {
  if (const char* shared = std::getenv("DISA_SHARED_DIR"); shared && *shared) {
    const fs::path dir = fs::path(shared) / "golden";
    if (!fs::is_directory(dir)) {
      ADD_FAILURE() << "DISA_SHARED_DIR=" << shared << " has no golden/ directory";
      return std::nullopt;
    }
    return dir;
  }
  const fs::path dir = fs::path("..") / "shared" / "golden";
  if (!fs::is_directory(dir)) return std::nullopt;
  return dir;
}

#define DISA_REQUIRE_GOLDEN_DIR(var)           \
  const std::optional<fs::path> var = golden_dir(); \
  if (!var) GTEST_SKIP() << kNoGolden

// Parsed once per process: several tests read the same file.
const json& golden_file(const fs::path& dir, const std::string& name) {
  static std::map<std::string, json> cache;
  if (auto it = cache.find(name); it != cache.end()) return it->second;
  std::ifstream in(dir / name);
  if (!in) throw std::runtime_error("cannot open golden file " + (dir / name).string());
  json document = json::parse(in);
  if (!document.contains("cases") || !document["cases"].is_array()) {
    throw std::runtime_error(name + ": no \"cases\" array");
  }
  return cache.emplace(name, std::move(document)).first->second;
}

// A golden number: a JSON number or "nan"/"inf"/"-inf" (src/json_number.h).
double number(const json& value, std::string_view what) {
  const std::optional<double> x = from_json_number(nlohmann::ordered_json(value));
  if (!x) throw std::runtime_error(std::string(what) + ": not a number: " + value.dump());
  return *x;
}

// A B-vector or a B x T matrix, flattened row-major (the layout of LossBatch).
struct Flat {
  std::size_t rows = 0;
  std::size_t columns = 0;  // 0 for a vector
  std::vector<double> values;
};

Flat flatten(const json& value, std::string_view what) {
  Flat out;
  if (!value.is_array()) throw std::runtime_error(std::string(what) + ": not an array");
  out.rows = value.size();
  for (std::size_t i = 0; i < value.size(); ++i) {
    const json& row = value[i];
    if (row.is_array()) {
      if (i == 0) out.columns = row.size();
      if (row.size() != out.columns) throw std::runtime_error(std::string(what) + ": ragged matrix");
      for (const json& x : row) out.values.push_back(number(x, what));
    } else {
      if (out.columns != 0) throw std::runtime_error(std::string(what) + ": mixed vector/matrix");
      out.values.push_back(number(row, what));
    }
  }
  return out;
}

// The batch of a case: its `inputs` object is our batch schema (batch_json.h) plus
// agg_loss's `loss_mat`, which is not a batch field and is read separately.
BatchData<double> batch_of(const json& inputs) {
  json batch = inputs;
  batch.erase("loss_mat");
  return batch_from_json(batch);
}

// "key=value" with the shortest round-tripping decimal, so the head sees the exact double.
std::string setting(std::string_view key, double value) {
  char buffer[64];
  const auto end = std::to_chars(buffer, buffer + sizeof buffer, value).ptr;
  return std::string(key) + "=" + std::string(buffer, end);
}
std::string setting(std::string_view key, std::string_view value) {
  return std::string(key) + "=" + std::string(value);
}

// ---------------------------------------------------------------------------------------
// Value-by-value comparison that names file, case, field and index on failure, and counts.

class Compare {
 public:
  explicit Compare(std::string file) : file_(std::move(file)) {}
  void set_case(const std::string& name) { case_ = name; }
  std::size_t compared() const { return compared_; }
  std::size_t cases() const { return cases_; }
  double worst_fraction_of_tolerance() const { return worst_; }
  void case_done() { ++cases_; }

  void scalar(std::string_view field, double got, double want, Tolerance tol) {
    check(field, "", got, want, tol);
  }

  // got: B or B*T values; want: the golden B-vector or B x T matrix.
  template <class Real>
  void values(std::string_view field, std::span<const Real> got, const json& want_json, Tolerance tol) {
    const Flat want = flatten(want_json, field);
    if (got.size() != want.values.size()) {
      ADD_FAILURE() << where(field, "") << ": got " << got.size() << " values, want " << want.values.size();
      return;
    }
    for (std::size_t k = 0; k < got.size(); ++k) {
      std::string index = want.columns == 0
                              ? "[" + std::to_string(k) + "]"
                              : "[" + std::to_string(k / want.columns) + "][" + std::to_string(k % want.columns) + "]";
      check(field, index, double(got[k]), want.values[k], tol);
    }
  }
  template <class Real>
  void values(std::string_view field, const std::vector<Real>& got, const json& want_json, Tolerance tol) {
    values(field, std::span<const Real>(got), want_json, tol);
  }

  // Two computed arrays of the same layout (the float path against the double one).
  template <class Real>
  void same(std::string_view field, std::span<const Real> got, std::span<const double> want,
            std::size_t columns, Tolerance tol) {
    if (got.size() != want.size()) {
      ADD_FAILURE() << where(field, "") << ": got " << got.size() << " values, want " << want.size();
      return;
    }
    for (std::size_t k = 0; k < got.size(); ++k) {
      std::string index = columns == 0 ? "[" + std::to_string(k) + "]"
                                       : "[" + std::to_string(k / columns) + "][" + std::to_string(k % columns) + "]";
      check(field, index, double(got[k]), want[k], tol);
    }
  }

  std::string where(std::string_view field, std::string_view index) const {
    return file_ + " case " + case_ + " " + std::string(field) + std::string(index);
  }

 private:
  void check(std::string_view field, std::string_view index, double got, double want, Tolerance tol) {
    ++compared_;
    if (!std::isfinite(want)) {
      // README: non-finite values must match exactly (nan with nan, inf with inf of that sign).
      const bool same = std::isnan(want) ? std::isnan(got) : got == want;
      if (!same) ADD_FAILURE() << where(field, index) << ": got " << got << ", want " << want;
      return;
    }
    const double diff = std::abs(got - want);
    const double bound = std::max(tol.abs, tol.rel * std::abs(want));
    if (diff <= bound) worst_ = std::max(worst_, diff / bound);
    if (!(diff <= bound)) {  // also catches a nan `got`
      ADD_FAILURE() << std::setprecision(17) << where(field, index) << ": got " << got << ", want " << want
                    << ", |diff| " << diff << " > " << bound;
    }
  }

  std::string file_;
  std::string case_;
  std::size_t compared_ = 0;
  std::size_t cases_ = 0;
  double worst_ = 0;  // largest |diff| / bound among passing values: the margin left
};

void report(const Compare& compare, std::string_view what) {
  std::cout << "[ golden   ] " << what << ": " << compare.cases() << " cases, " << compare.compared()
            << " values compared, largest |diff| = " << compare.worst_fraction_of_tolerance()
            << " of the tolerance\n";
  ::testing::Test::RecordProperty("cases", static_cast<int>(compare.cases()));
  ::testing::Test::RecordProperty("values_compared", static_cast<int>(compare.compared()));
}

// Runs fn(case) for each case of a file, with the case named in every failure, and checks
// the file's case count against README.md.
template <class Fn>
void for_each_case(const fs::path& dir, const std::string& file, Compare& compare, Fn&& fn) {
  const json& document = golden_file(dir, file);
  EXPECT_EQ(document["cases"].size(), expected_case_counts().at(file)) << file << ": case count";
  for (const json& c : document["cases"]) {
    const std::string name = c.at("name").get<std::string>();
    SCOPED_TRACE(file + " case " + name);
    compare.set_case(name);
    // An exception (e.g. an InputError from make_objective) fails this case, named, and
    // the remaining cases still run.
    try {
      fn(c);
    } catch (const std::exception& e) {
      ADD_FAILURE() << file << " case " << name << ": unexpected exception: " << e.what();
    }
    compare.case_done();
  }
}

// ---------------------------------------------------------------------------------------
// Golden option names -> ours, one function per file. Every key a case carries is either
// mapped or named here as having no counterpart (with why); an unknown key fails the test,
// so a regenerated file with a new option cannot be silently half-reproduced.

void unknown_option(const std::string& key, const json& value) {
  ADD_FAILURE() << "golden option " << key << "=" << value.dump() << " has no mapping in this test";
}

// verl's compute_grpo_outcome_advantage(token_level_rewards, response_mask, index, epsilon,
// norm_adv_by_std_in_grpo) -> GroupAdvantageOptions. Singletons: verl's behaviour (reference).
GroupAdvantageOptions grpo_advantage_options(const json& options) {
  GroupAdvantageOptions out;
  out.singleton_groups = SingletonGroups::reference;
  for (const auto& [key, value] : options.items()) {
    if (key == "norm_adv_by_std_in_grpo") {
      out.norm_adv_by_std = value.get<bool>();
    } else if (key == "epsilon") {
      out.epsilon = value.get<double>();
    } else if (key == "reward_placement") {
      // "reward on the last valid token": sum_t token_level_rewards = r_i for a non-empty
      // row, 0 for an empty one, which is exactly the score our API takes.
    } else {
      unknown_option(key, value);
    }
  }
  return out;
}

// `advantages_from` of the loss files names verl's compute_grpo_outcome_advantage and its
// arguments; nullopt when the advantages were made otherwise (e.g. independent normals).
std::optional<GroupAdvantageOptions> advantages_from(const json& options) {
  if (!options.contains("advantages_from")) return std::nullopt;
  const std::string text = options["advantages_from"].get<std::string>();
  if (text.find("compute_grpo_outcome_advantage") == std::string::npos) return std::nullopt;
  GroupAdvantageOptions out;
  std::smatch m;
  if (std::regex_search(text, m, std::regex("norm_adv_by_std_in_grpo=(true|false)"))) {
    out.norm_adv_by_std = m[1] == "true";
  } else {
    ADD_FAILURE() << "advantages_from lacks norm_adv_by_std_in_grpo: " << text;
  }
  if (std::regex_search(text, m, std::regex("epsilon=([0-9.eE+-]+)"))) {
    out.epsilon = std::stod(m[1]);
  } else {
    ADD_FAILURE() << "advantages_from lacks epsilon: " << text;
  }
  if (text.find("reward on the last valid token") == std::string::npos) {
    ADD_FAILURE() << "advantages_from: unexpected reward placement: " << text;
  }
  return out;
}

// Options that only say how the `advantages` input was made, or verl defaults we assert.
bool advantage_or_default_key(const std::string& key, const json& value) {
  if (key == "advantages_from") return true;  // checked by GoldenAdvantages below
  if (key == "global_batch_info") {
    // verl's data-parallel token/sequence counts; {} = this batch alone, which is ours.
    EXPECT_TRUE(value.is_object() && value.empty()) << "global_batch_info " << value.dump();
    return true;
  }
  if (key == "rollout_is_weights") {
    // Optional per-token IS correction, absent (null) in every case; we have none.
    EXPECT_TRUE(value.is_null()) << "rollout_is_weights " << value.dump();
    return true;
  }
  return false;
}

// compute_policy_loss_vanilla(old_log_prob, log_prob, advantages, response_mask,
// loss_agg_mode, config) -> objective grpo with no KL term (verl adds KL outside).
std::vector<std::string> ppo_clip_settings(const json& options) {
  std::vector<std::string> out = {setting("kl_coef", 0.0)};
  for (const auto& [key, value] : options.items()) {
    if (key == "clip_ratio" || key == "clip_ratio_low" || key == "clip_ratio_high" || key == "clip_ratio_c") {
      out.push_back(setting(key, value.get<double>()));  // same names and meaning
    } else if (key == "loss_agg_mode") {
      out.push_back(setting(key, value.get<std::string>()));
    } else if (!advantage_or_default_key(key, value)) {
      unknown_option(key, value);
    }
  }
  return out;
}

// compute_policy_loss_gspo -> objective gspo. verl ignores loss_agg_mode (always
// seq-mean-token-mean), and our gspo has no such option: it is asserted, not passed.
// clip_ratio is verl's fallback used only when clip_ratio_low/high are absent; gspo reads
// it the same way (as grpo does), so all three pass under their own names.
std::vector<std::string> gspo_settings(const json& options) {
  std::vector<std::string> out;
  for (const auto& [key, value] : options.items()) {
    if (key == "clip_ratio" || key == "clip_ratio_low" || key == "clip_ratio_high") {
      out.push_back(setting(key, value.get<double>()));
    } else if (key == "loss_agg_mode" || key == "loss_agg_mode_note") {
      // Ignored by the reference; our head always aggregates seq-mean-token-mean.
    } else if (!advantage_or_default_key(key, value)) {
      unknown_option(key, value);
    }
  }
  return out;
}

// FlowRL@decbc57 compute_flowrl_objective: beta is a literal 15; clip_ratio is accepted
// and unused (a clipped weight is computed and dropped) -> weight_clip=none.
std::vector<std::string> flowrl_paper_settings(const json& options) {
  std::vector<std::string> out = {setting("weight_clip", "none")};
  for (const auto& [key, value] : options.items()) {
    if (key == "beta") {
      out.push_back(setting("beta", value.get<double>()));
    } else if (key == "clip_ratio") {
      // Does not affect the reference's loss, nor ours under weight_clip=none.
    } else if (key == "beta_note" || key == "clip_ratio_note") {
    } else if (!advantage_or_default_key(key, value)) {
      unknown_option(key, value);
    }
  }
  return out;
}

// verl recipe @f11af2d compute_flowrl: w = min(w, weight_clamp_max) -> weight_clip=max10.
std::vector<std::string> flowrl_clamp10_settings(const json& options) {
  std::vector<std::string> out = {setting("weight_clip", "max10")};
  for (const auto& [key, value] : options.items()) {
    if (key == "flowrl_beta_coef") {
      out.push_back(setting("beta", value.get<double>()));
    } else if (key == "weight_clamp_max") {
      out.push_back(setting("weight_clamp_max", value.get<double>()));
    } else if (key == "clip_ratio") {
      // Accepted by the reference, does not affect its loss.
    } else if (key == "clip_ratio_note") {
    } else if (!advantage_or_default_key(key, value)) {
      unknown_option(key, value);
    }
  }
  return out;
}

// verl recipe @4bf4bd3 compute_flowrl_objective: CISPO token mask, then
// w = clamp(w, 1 - clip_ratio_low, 1 + clip_ratio_high) -> weight_clip=cispo.
std::vector<std::string> flowrl_cispo_settings(const json& options) {
  std::vector<std::string> out = {setting("weight_clip", "cispo")};
  for (const auto& [key, value] : options.items()) {
    if (key == "flowrl_beta_coef") {
      out.push_back(setting("beta", value.get<double>()));
    } else if (key == "clip_ratio_low" || key == "clip_ratio_high") {
      out.push_back(setting(key, value.get<double>()));
    } else if (!advantage_or_default_key(key, value)) {
      unknown_option(key, value);
    }
  }
  return out;
}

// verl's kl_penalty(logprob, ref_logprob, kl_penalty) -> our estimator (names and aliases).
KlEstimator kl_estimator_of(const json& options) {
  for (const auto& [key, value] : options.items()) {
    if (key != "kl_penalty") unknown_option(key, value);
  }
  return parse_kl_estimator(options.at("kl_penalty").get<std::string>());
}

// agg_loss(loss_mat, loss_mask, loss_agg_mode, dp_size, batch_num_tokens, global_batch_size,
// loss_scale_factor): the defaults (one rank, this batch's own counts, no scale) are ours.
LossAggMode agg_mode_of(const json& options) {
  for (const auto& [key, value] : options.items()) {
    if (key == "loss_agg_mode") continue;
    if (key == "dp_size") {
      EXPECT_EQ(value.get<int>(), 1) << "dp_size";
    } else if (key == "batch_num_tokens" || key == "global_batch_size" || key == "loss_scale_factor") {
      EXPECT_TRUE(value.is_null()) << key << "=" << value.dump();
    } else {
      unknown_option(key, value);
    }
  }
  return parse_loss_agg_mode(options.at("loss_agg_mode").get<std::string>());
}

using SettingsOf = std::vector<std::string> (*)(const json&);

struct LossFile {
  std::string objective;
  SettingsOf settings;
};

const LossFile& loss_file(const std::string& file) {
  static const std::map<std::string, LossFile> files = {
      {"ppo_clip_loss.json", {"grpo", ppo_clip_settings}},
      {"gspo_loss.json", {"gspo", gspo_settings}},
      {"flowrl_paper_decbc57.json", {"flowrl", flowrl_paper_settings}},
      {"flowrl_clamp10_f11af2d.json", {"flowrl", flowrl_clamp10_settings}},
      {"flowrl_cispo_4bf4bd3.json", {"flowrl", flowrl_cispo_settings}}};
  return files.at(file);
}

// ---------------------------------------------------------------------------------------
// The loss files: objective + batch (with the recorded per-token advantages) -> outputs.

// Compares a head's result with a case's outputs; every output key is handled or named.
void compare_loss_outputs(Compare& compare, const json& outputs, const LossResult<double>& result) {
  for (const auto& [key, want] : outputs.items()) {
    if (key == "loss") {
      compare.scalar("loss", result.loss, number(want, "loss"), Tolerances::golden);
    } else if (key == "grad_logp") {
      compare.values("grad_logp", result.grad_logp, want, Tolerances::golden);
    } else if (key == "grad_log_z") {
      compare.values("grad_log_z", result.grad_log_z, want, Tolerances::golden);
    } else if (key == "pg_clipfrac" || key == "pg_clipfrac_lower" || key == "ppo_kl") {
      const auto it = result.diagnostics.scalars.find(key);
      if (it == result.diagnostics.scalars.end()) {
        ADD_FAILURE() << compare.where(key, "") << ": the head reports no such diagnostic";
      } else {
        compare.scalar(key, it->second, number(want, key), Tolerances::golden);
      }
    } else if (key == "metrics") {
      // FlowRL's own diagnostics dict: informative, not part of the loss (README).
    } else {
      ADD_FAILURE() << compare.where(key, "") << ": output not compared by this test";
    }
  }
}

// Runs one loss file. The README records no non-finite output for these files; if a
// regenerated one does (FlowRL@decbc57's weight overflow), our head reports an error
// naming the weight instead of returning inf, and that is what is asserted.
void check_loss_file(const std::string& file) {
  DISA_REQUIRE_GOLDEN_DIR(dir);
  Compare compare(file);
  const LossFile& spec = loss_file(file);
  for_each_case(*dir, file, compare, [&](const json& c) {
    const Objective objective = make_objective(spec.objective, spec.settings(c.at("options")));
    const BatchData<double> batch = batch_of(c.at("inputs"));
    if (c.value("non_finite_outputs", false)) {
      // A non-finite loss is a NumericalError naming the quantity (src/numerical_error.h).
      ASSERT_EQ(spec.objective, "flowrl") << "only FlowRL's weight overflow is expected to be non-finite";
      EXPECT_THROW(compute_loss<double>(objective, batch.view()), NumericalError);
      EXPECT_TRUE(contains_all(test::error_message([&] { compute_loss<double>(objective, batch.view()); }),
                               {"weight", "overflows"}));
      return;
    }
    const LossResult<double> result = compute_loss<double>(objective, batch.view());
    compare_loss_outputs(compare, c.at("outputs"), result);
  });
  report(compare, file);
}

TEST(GoldenPpoClipLoss, ReproducesVerlComputePolicyLossVanilla) { check_loss_file("ppo_clip_loss.json"); }
TEST(GoldenGspoLoss, ReproducesVerlComputePolicyLossGspo) { check_loss_file("gspo_loss.json"); }
TEST(GoldenFlowRl, ReproducesPaperReleaseDecbc57Unclipped) { check_loss_file("flowrl_paper_decbc57.json"); }
TEST(GoldenFlowRl, ReproducesVerlRecipeF11af2dClamp10) { check_loss_file("flowrl_clamp10_f11af2d.json"); }
TEST(GoldenFlowRl, ReproducesVerlRecipe4bf4bd3Cispo) { check_loss_file("flowrl_cispo_4bf4bd3.json"); }

// ---------------------------------------------------------------------------------------
// grpo_advantage.json: compute_grpo_outcome_advantage.

TEST(GoldenGrpoAdvantage, ReproducesVerlComputeGrpoOutcomeAdvantage) {
  DISA_REQUIRE_GOLDEN_DIR(dir);
  const std::string file = "grpo_advantage.json";
  Compare compare(file);
  for_each_case(*dir, file, compare, [&](const json& c) {
    const GroupAdvantageOptions options = grpo_advantage_options(c.at("options"));
    const BatchData<double> data = batch_of(c.at("inputs"));
    const LossBatch<double> batch = data.view();
    const std::vector<std::size_t> counts = valid_counts(batch);

    // The API's score: the row's summed token-level reward, i.e. r_i, or 0 for an empty row.
    std::vector<double> scores(batch.rows);
    for (std::size_t i = 0; i < batch.rows; ++i) scores[i] = counts[i] > 0 ? data.reward[i] : 0.0;
    const std::vector<double> per_seq = grpo_advantages(scores, data.group, options);

    // The same through TokenAdvantages, the source every head reads (no override given).
    const TokenAdvantages<double> source(batch, counts, options);
    std::vector<double> per_token(batch.tokens());
    for (std::size_t i = 0; i < batch.rows; ++i) {
      for (std::size_t t = 0; t < batch.columns; ++t) {
        per_token[i * batch.columns + t] = source.at(i, t) * data.mask[i * batch.columns + t];
      }
    }

    for (const auto& [key, want] : c.at("outputs").items()) {
      if (key == "advantage_per_seq") {
        compare.values("advantage_per_seq (grpo_advantages)", per_seq, want, Tolerances::golden);
        compare.values("advantage_per_seq (TokenAdvantages::per_sequence)", source.per_sequence(), want,
                       Tolerances::golden);
      } else if (key == "advantages") {
        compare.values("advantages (TokenAdvantages::at * mask)", per_token, want, Tolerances::golden);
      } else {
        ADD_FAILURE() << compare.where(key, "") << ": output not compared by this test";
      }
    }
  });
  report(compare, file);
}

// ---------------------------------------------------------------------------------------
// kl_penalty.json: per-token estimator value and its derivative.

TEST(GoldenKlPenalty, ReproducesVerlKlPenalty) {
  DISA_REQUIRE_GOLDEN_DIR(dir);
  const std::string file = "kl_penalty.json";
  Compare compare(file);
  for_each_case(*dir, file, compare, [&](const json& c) {
    const KlEstimator estimator = kl_estimator_of(c.at("options"));
    // No mask: verl's kl_penalty is elementwise over every position.
    const Flat logp = flatten(c.at("inputs").at("logp"), "logp");
    const Flat logp_ref = flatten(c.at("inputs").at("logp_ref"), "logp_ref");
    ASSERT_EQ(logp.values.size(), logp_ref.values.size());
    std::vector<double> kl(logp.values.size()), grad(logp.values.size());
    for (std::size_t k = 0; k < kl.size(); ++k) {
      const TokenTerm term = kl_penalty(estimator, logp.values[k], logp_ref.values[k]);
      kl[k] = term.value;
      grad[k] = term.dvalue_dlogp;
    }
    for (const auto& [key, want] : c.at("outputs").items()) {
      if (key == "kl") {
        compare.values("kl", kl, want, Tolerances::golden);
      } else if (key == "grad_logp") {
        compare.values("grad_logp", grad, want, Tolerances::golden);
      } else {
        ADD_FAILURE() << compare.where(key, "") << ": output not compared by this test";
      }
    }
  });
  report(compare, file);
}

// ---------------------------------------------------------------------------------------
// agg_loss.json: loss = sum_i c_i sum_t m L, d loss / d L[i,t] = c_i m[i,t].

TEST(GoldenAggLoss, ReproducesVerlAggLoss) {
  DISA_REQUIRE_GOLDEN_DIR(dir);
  const std::string file = "agg_loss.json";
  Compare compare(file);
  std::size_t error_cases = 0;
  for_each_case(*dir, file, compare, [&](const json& c) {
    const LossAggMode mode = agg_mode_of(c.at("options"));
    const BatchData<double> data = batch_of(c.at("inputs"));  // the mask; loss_mat read below
    const LossBatch<double> batch = data.view();
    const Flat loss_mat = flatten(c.at("inputs").at("loss_mat"), "loss_mat");
    ASSERT_EQ(loss_mat.values.size(), batch.tokens());
    const std::vector<std::size_t> counts = valid_counts(batch);

    if (c.value("non_finite_outputs", false)) {
      // The reference's only non-finite output: token-mean over a batch with no valid
      // token is 0/0 = nan (its gradient is 0). Our aggregation reports that as an
      // InputError instead of returning nan; assert the case is that one, and the error.
      ASSERT_EQ(mode, LossAggMode::token_mean);
      ASSERT_TRUE(std::isnan(number(c.at("outputs").at("loss"), "loss")));
      ASSERT_TRUE(std::all_of(counts.begin(), counts.end(), [](std::size_t n) { return n == 0; }));
      EXPECT_TRUE(contains_all(
          input_error_message([&] { aggregation_coefficients(mode, counts, batch.columns, "grpo"); }),
          {"grpo: ", "token-mean", "valid token"}));
      ++error_cases;
      return;
    }

    const std::vector<double> coefficient = aggregation_coefficients(mode, counts, batch.columns, "agg_loss");
    ASSERT_EQ(coefficient.size(), batch.rows);
    double loss = 0;
    std::vector<double> grad(batch.tokens());
    for (std::size_t i = 0; i < batch.rows; ++i) {
      for (std::size_t t = 0; t < batch.columns; ++t) {
        const std::size_t k = i * batch.columns + t;
        if (!batch.valid(i, t)) continue;  // padding values are never read
        loss += coefficient[i] * loss_mat.values[k];
        grad[k] = coefficient[i];
      }
    }
    for (const auto& [key, want] : c.at("outputs").items()) {
      if (key == "loss") {
        compare.scalar("loss", loss, number(want, "loss"), Tolerances::golden);
      } else if (key == "grad_loss_mat") {
        compare.values("grad_loss_mat", grad, want, Tolerances::golden);
      } else {
        ADD_FAILURE() << compare.where(key, "") << ": output not compared by this test";
      }
    }
  });
  report(compare, file);
  std::cout << "[ golden   ] " << file << ": " << error_cases << " case(s) asserted as an InputError instead of nan\n";
}

// ---------------------------------------------------------------------------------------
// Every golden file is reproduced by a test above: a new file fails here until it is.

TEST(GoldenFiles, EveryFileHasATest) {
  DISA_REQUIRE_GOLDEN_DIR(dir);
  std::set<std::string> present;
  for (const auto& entry : fs::directory_iterator(*dir)) {
    if (entry.path().extension() == ".json") present.insert(entry.path().filename().string());
  }
  std::set<std::string> covered;
  for (const auto& [file, count] : expected_case_counts()) covered.insert(file);
  EXPECT_EQ(present, covered) << "golden files and the files this test reproduces differ";
}

// ---------------------------------------------------------------------------------------
// (1) The advantages the references were given are verl's GRPO advantages of reward/group:
// ours computed from the same reward/group equal them, and each head run *without* the
// override (computing its own advantages) reproduces the golden outputs too.

// The cases per loss file whose advantages verl's GRPO made (options.advantages_from names
// compute_grpo_outcome_advantage), counted in the golden files: every other case is skipped
// by this test, so without these counts a file that lost its advantages_from (or a loader
// that saw no case) would pass having compared nothing. ppo_clip_loss.json's one other case
// draws independent normals per token.
const std::map<std::string, std::size_t>& expected_grpo_case_counts() {
  static const std::map<std::string, std::size_t> counts = {{"ppo_clip_loss.json", 17},
                                                            {"gspo_loss.json", 6},
                                                            {"flowrl_paper_decbc57.json", 5},
                                                            {"flowrl_clamp10_f11af2d.json", 5},
                                                            {"flowrl_cispo_4bf4bd3.json", 5}};
  return counts;
}

TEST(GoldenAdvantages, ComputedFromRewardAndGroupMatchTheGivenAdvantages) {
  DISA_REQUIRE_GOLDEN_DIR(dir);
  std::size_t skipped = 0;
  for (const std::string& file : loss_files()) {
    Compare compare(file);
    const LossFile& spec = loss_file(file);
    std::size_t compared = 0;
    for_each_case(*dir, file, compare, [&](const json& c) {
      const std::optional<GroupAdvantageOptions> options = advantages_from(c.at("options"));
      if (!options) {
        ++skipped;  // advantages not made by GRPO (e.g. independent normals per token)
        return;
      }
      ++compared;
      BatchData<double> data = batch_of(c.at("inputs"));
      const std::vector<std::size_t> counts = valid_counts(data.view());
      std::vector<double> scores(data.rows);
      for (std::size_t i = 0; i < data.rows; ++i) scores[i] = counts[i] > 0 ? data.reward[i] : 0.0;
      const std::vector<double> a = grpo_advantages(scores, data.group, *options);
      std::vector<double> per_token(data.rows * data.columns);
      for (std::size_t k = 0; k < per_token.size(); ++k) per_token[k] = a[k / data.columns] * data.mask[k];
      compare.values("advantages (ours from reward/group)", per_token, c.at("inputs").at("advantages"),
                     Tolerances::golden);

      // The head's defaults are verl's (norm_adv_by_std, epsilon 1e-6, reference singletons),
      // so no advantage option is passed: the defaults themselves are under test.
      EXPECT_TRUE(options->norm_adv_by_std && options->epsilon == 1e-6)
          << "advantages_from uses non-default GRPO options; pass them to the head";
      data.advantages.clear();
      const Objective objective = make_objective(spec.objective, spec.settings(c.at("options")));
      const LossResult<double> result = compute_loss<double>(objective, data.view());
      compare_loss_outputs(compare, c.at("outputs"), result);
    });
    report(compare, file + " (advantages from reward/group, no override)");
    EXPECT_EQ(compared, expected_grpo_case_counts().at(file))
        << file << ": cases with GRPO advantages compared (the rest would pass vacuously)";
  }
  EXPECT_EQ(skipped, 1u) << "cases without GRPO advantages (ppo_clip_loss.json's per-token normals)";
  std::cout << "[ golden   ] " << skipped << " case(s) without GRPO advantages (not applicable)\n";
}

// ---------------------------------------------------------------------------------------
// (2) The float instantiation: compute_loss<float> on the inputs rounded to float against
// compute_loss<double> on the same rounded values (Tolerances::float_* says why). For
// scale, the largest deviation of the float result from the golden value (input rounding
// included) is printed, not checked: it measures the loss's conditioning, not the head.

template <class To, class From>
std::vector<To> convert(const std::vector<From>& v) {
  return std::vector<To>(v.begin(), v.end());
}

template <class To, class From>
BatchData<To> convert(const BatchData<From>& b) {
  BatchData<To> out;
  out.rows = b.rows;
  out.columns = b.columns;
  out.logp = convert<To>(b.logp);
  out.logp_old = convert<To>(b.logp_old);
  out.logp_ref = convert<To>(b.logp_ref);
  out.mask = convert<To>(b.mask);
  out.reward = convert<To>(b.reward);
  out.log_z = convert<To>(b.log_z);
  out.advantages = convert<To>(b.advantages);
  out.group = b.group;
  return out;
}

TEST(GoldenFloat, FloatHeadsAgreeWithDoubleHeads) {
  DISA_REQUIRE_GOLDEN_DIR(dir);
  for (const std::string& file : loss_files()) {
    Compare compare(file + " [float vs double]");
    const LossFile& spec = loss_file(file);
    double worst_vs_golden = 0;  // informative
    for_each_case(*dir, file, compare, [&](const json& c) {
      if (c.value("non_finite_outputs", false)) return;  // an error in either precision
      const Objective objective = make_objective(spec.objective, spec.settings(c.at("options")));
      const BatchData<float> single = convert<float>(batch_of(c.at("inputs")));
      const BatchData<double> rounded = convert<double>(single);  // exactly the float values
      const LossResult<float> got = compute_loss<float>(objective, single.view());
      const LossResult<double> want = compute_loss<double>(objective, rounded.view());

      compare.scalar("loss", got.loss, want.loss, Tolerances::float_double_scalar);
      compare.same<float>("grad_logp", got.grad_logp, want.grad_logp, rounded.columns, Tolerances::float_gradient);
      compare.same<float>("grad_log_z", got.grad_log_z, want.grad_log_z, 0, Tolerances::float_gradient);
      for (const auto& [key, value] : want.diagnostics.scalars) {
        const auto it = got.diagnostics.scalars.find(key);
        if (it == got.diagnostics.scalars.end()) {
          ADD_FAILURE() << compare.where(key, "") << ": missing in the float result";
        } else {
          compare.scalar(key, it->second, value, Tolerances::float_double_scalar);
        }
      }
      for (const auto& [key, value] : want.diagnostics.per_sequence) {
        const auto it = got.diagnostics.per_sequence.find(key);
        if (it == got.diagnostics.per_sequence.end()) {
          ADD_FAILURE() << compare.where(key, "") << ": missing in the float result";
        } else {
          compare.same<double>(key, it->second, value, 0, Tolerances::float_double_scalar);
        }
      }

      // Informative: float result vs the golden value on the unrounded inputs.
      const auto deviation = [&](double g, const json& w) {
        const double x = number(w, "golden");
        if (std::isfinite(x)) worst_vs_golden = std::max(worst_vs_golden, std::abs(g - x) / std::max(1.0, std::abs(x)));
      };
      const json& outputs = c.at("outputs");
      deviation(got.loss, outputs.at("loss"));
      const Flat grad = flatten(outputs.at("grad_logp"), "grad_logp");
      for (std::size_t k = 0; k < std::min(grad.values.size(), got.grad_logp.size()); ++k) {
        deviation(got.grad_logp[k], grad.values[k]);
      }
    });
    report(compare, file + " [float vs double]");
    std::cout << "[ golden   ] " << file << ": float vs golden (input rounding included), largest |diff|/max(1,|want|) = "
              << worst_vs_golden << " (informative)\n";
  }
}

// ---------------------------------------------------------------------------------------
// (3) The hand examples of LOSSES.md, independent of the golden files.

// Section 2: rewards [1,0,1,1 | 0,0,0,1] give [0.499999, -1.499997, 0.499999, 0.499999 |
// -0.499999 x3, 1.499997]. Both groups have mean 3/4 or 1/4 and unbiased std 1/2.
TEST(HandExamples, GrpoAdvantageSection2) {
  const std::vector<double> scores = {1, 0, 1, 1, 0, 0, 0, 1};
  const std::vector<std::int64_t> group = {7, 7, 7, 7, 3, 3, 3, 3};  // ids need not be 0-based
  const std::vector<double> a = grpo_advantages(scores, group, GroupAdvantageOptions{});
  ASSERT_EQ(a.size(), 8u);
  const double hi = 0.25 / (0.5 + 1e-6), lo = -0.75 / (0.5 + 1e-6);
  const std::vector<double> exact = {hi, lo, hi, hi, -hi, -hi, -hi, -lo};
  const std::vector<double> printed_values = {0.499999, -1.499997, 0.499999, 0.499999,
                                              -0.499999, -0.499999, -0.499999, 1.499997};
  for (std::size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE("row " + std::to_string(i));
    EXPECT_NEAR(a[i], exact[i], std::max(Tolerances::closed_form.abs, Tolerances::closed_form.rel * std::abs(exact[i])));
    EXPECT_NEAR(a[i], printed_values[i], printed(6).abs);
  }

  // Singleton groups are not zeroed (verl): A = s / (1 + 1e-6) with 1 + 1e-6 in float32.
  const double one_plus_eps = double(1.0f + 1e-6f);
  EXPECT_EQ(one_plus_eps, 1.00000095367431640625);
  const std::vector<double> lone = grpo_advantages(std::vector<double>{1.0}, std::vector<std::int64_t>{5},
                                                   GroupAdvantageOptions{});
  ASSERT_EQ(lone.size(), 1u);
  EXPECT_NEAR(lone[0], 1.0 / one_plus_eps, Tolerances::closed_form.rel);

  // Equal rewards give exactly 0, and Dr.GRPO (no std) gives s - mean.
  const std::vector<double> flat = grpo_advantages(std::vector<double>{0.3, 0.3, 0.3},
                                                   std::vector<std::int64_t>{1, 1, 1}, GroupAdvantageOptions{});
  for (double x : flat) EXPECT_EQ(x, 0.0);
  GroupAdvantageOptions dr;
  dr.norm_adv_by_std = false;
  const std::vector<double> centred = grpo_advantages(scores, group, dr);
  EXPECT_NEAR(centred[1], -0.75, Tolerances::closed_form.abs);
  EXPECT_NEAR(centred[7], 0.75, Tolerances::closed_form.abs);
}

// Section 3: eps 0.2/0.28, c = 3, one token (d = logp - logp_old, A; value, gradient):
// (0.5, 1) -1.28, 0; (0.5, -1) 1.648721, 1.648721; (1.5, -1) 3.0, 0; (-0.5, 1) -0.606531,
// -0.606531; (-0.5, -1) 0.8, 0. Checked on ppo_clipped_token and on the grpo objective
// over a one-token batch (token-mean over one token: loss = value, gradient = derivative).
TEST(HandExamples, PpoClipSection3) {
  struct Example {
    double d, advantage;
    double value, grad;                  // exact closed forms
    double printed_value, printed_grad;  // as LOSSES.md prints them (6 decimals)
    bool clipped, dual_clipped;
  };
  const double e = std::exp(0.5), inv_e = std::exp(-0.5);
  const Example examples[] = {
      {0.5, 1, -1.28, 0, -1.28, 0, true, false},        // ratio 1.65 > 1.28: clipped, no gradient
      {0.5, -1, e, e, 1.648721, 1.648721, false, false},  // A < 0: the unclipped l1 is the max
      {1.5, -1, 3.0, 0, 3.0, 0, false, true},           // e^1.5 = 4.48 > c = 3: dual clip
      {-0.5, 1, -inv_e, -inv_e, -0.606531, -0.606531, false, false},
      {-0.5, -1, 0.8, 0, 0.8, 0, true, false},           // ratio 0.61 < 0.8: clipped at 1 - 0.2
  };
  const PpoClipRange clip{0.2, 0.28, 3.0};
  const Objective objective =
      make_objective("grpo", {"clip_ratio_low=0.2", "clip_ratio_high=0.28", "clip_ratio_c=3",
                              "loss_agg_mode=token-mean", "kl_coef=0"});
  for (const Example& x : examples) {
    SCOPED_TRACE("d=" + std::to_string(x.d) + " A=" + std::to_string(x.advantage));
    const double logp_old = -1.25, logp = logp_old + x.d;
    const ClippedToken token = ppo_clipped_token(logp, logp_old, x.advantage, clip);
    const Tolerance tol = Tolerances::closed_form;
    EXPECT_NEAR(token.value, x.value, std::max(tol.abs, tol.rel * std::abs(x.value)));
    EXPECT_NEAR(token.dvalue_dlogp, x.grad, std::max(tol.abs, tol.rel * std::abs(x.grad)));
    EXPECT_NEAR(token.value, x.printed_value, printed(6).abs);
    EXPECT_NEAR(token.dvalue_dlogp, x.printed_grad, printed(6).abs);
    EXPECT_EQ(token.clipped, x.clipped);
    EXPECT_EQ(token.dual_clipped, x.dual_clipped);

    BatchData<double> batch;
    batch.rows = 1;
    batch.columns = 1;
    batch.logp = {logp};
    batch.logp_old = {logp_old};
    batch.logp_ref = {logp};
    batch.mask = {1};
    batch.advantages = {x.advantage};
    const LossResult<double> result = compute_loss<double>(objective, batch.view());
    EXPECT_NEAR(result.loss, x.value, std::max(tol.abs, tol.rel * std::abs(x.value)));
    ASSERT_EQ(result.grad_logp.size(), 1u);
    EXPECT_NEAR(result.grad_logp[0], x.grad, std::max(tol.abs, tol.rel * std::abs(x.grad)));
    // One token: the masked-mean fractions are 0 or 1 / (1 + 1e-8).
    EXPECT_NEAR(result.diagnostics.scalars.at("pg_clipfrac"), x.clipped ? 1 / (1 + 1e-8) : 0.0, tol.abs);
    EXPECT_NEAR(result.diagnostics.scalars.at("pg_clipfrac_lower"), x.dual_clipped ? 1 / (1 + 1e-8) : 0.0, tol.abs);
  }
}

// Section 6: at lp = -1, ref = -1.5 (u = 0.5): k1 0.5, k2 0.125, k3 0.1065307, abs 0.5;
// derivatives 1, 0.5, 1 - e^{-0.5}, 1. verl's aliases name the same estimators.
TEST(HandExamples, KlSection6) {
  struct Example {
    const char* name;
    double value, grad;
    double printed_value;
    int decimals;
  };
  const double k3 = std::exp(-0.5) + 0.5 - 1.0;
  const Example examples[] = {
      {"k1", 0.5, 1.0, 0.5, 3},        {"kl", 0.5, 1.0, 0.5, 3},
      {"k2", 0.125, 0.5, 0.125, 3},    {"mse", 0.125, 0.5, 0.125, 3},
      {"k3", k3, 1.0 - std::exp(-0.5), 0.1065307, 7},
      {"low_var_kl", k3, 1.0 - std::exp(-0.5), 0.1065307, 7},
      {"abs", 0.5, 1.0, 0.5, 3},
  };
  const Tolerance tol = Tolerances::closed_form;
  for (const Example& x : examples) {
    SCOPED_TRACE(x.name);
    const TokenTerm term = kl_penalty(parse_kl_estimator(x.name), -1.0, -1.5);
    EXPECT_NEAR(term.value, x.value, std::max(tol.abs, tol.rel * std::abs(x.value)));
    EXPECT_NEAR(term.dvalue_dlogp, x.grad, std::max(tol.abs, tol.rel * std::abs(x.grad)));
    EXPECT_NEAR(term.value, x.printed_value, printed(x.decimals).abs);
  }
  // Swapped (u = -0.5): k1 and abs change sign of value/derivative, k3 = e^{0.5} - 1.5.
  EXPECT_EQ(kl_penalty(KlEstimator::abs, -1.5, -1.0).dvalue_dlogp, -1.0);
  EXPECT_NEAR(kl_penalty(KlEstimator::k3, -1.5, -1.0).value, std::exp(0.5) - 1.5, tol.rel);
  // Unknown names are rejected naming the field.
  EXPECT_TRUE(contains_all(input_error_message([] { parse_kl_estimator("k3+"); }), {"kl_estimator", "k3+"}));
}

}  // namespace
}  // namespace disa::loss
