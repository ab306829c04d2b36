// `disa estimate` and `disa anchor` as a user meets them: --json keys and values
// against the library, the zero-variance proposal, bad arguments (exit 2, one
// line naming the argument), and anchor files that load_anchors reads back.
// Runs build/bin/disa (test::disa_binary()).

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/anchor.h"
#include "toy_envs/divergences.h"
#include "toy_envs/families/family.h"
#include "toy_envs/flows.h"
#include "toy_envs/leaf_distribution.h"
#include "toy_envs/proposals.h"
#include "toy_envs/tree_json.h"
#include "tests/util/cli_harness.h"

namespace {

using Result = disa::test::CliResult;
using disa::test::expect_rejected;

Result run(const std::string& args, const std::string& env = "") { return disa::test::run_disa(args, env); }

class EstimateCliTest : public disa::test::CliDirTest {};

// The exact quantities of a proposal on a tree at beta, from the library's tree code (not
// the CLI under test): chi2(p* || q) and, when the log-weights take two values (a tilted
// proposal on binary rewards), the exact mean and variance of log Zhat_N - log Z: with K ~
// Binomial(N, q(high)) high weights, log Zhat_N - log Z = log((K w_hi + (N - K) w_lo) / N),
// w = p* / q, summed over K.
struct Exact {
  double log_z = 0, chi2 = 0;
  bool two_point = false;
  double bias = NAN, var = NAN;  // of log Zhat_N - log Z
};
Exact exact_of(const disa::Tree& tree, double beta, const std::string& proposal, int n) {
  Exact e;
  const disa::TabularPolicy ref = disa::reference_policy(tree);
  const disa::TabularPolicy target = disa::target_policy(tree, ref, beta);
  const disa::TabularPolicy q = disa::make_policy(tree, beta, disa::parse_policy_spec(proposal, "test"));
  e.log_z = disa::log_partition(tree, beta);
  e.chi2 = disa::chi_square_divergence(target, q).value;
  const std::vector<double> log_target = disa::leaf_log_probs(target), log_q = disa::leaf_log_probs(q);
  std::vector<double> lw(log_q.size());
  for (std::size_t y = 0; y < lw.size(); ++y) lw[y] = log_target[y] - log_q[y];
  const double lo = *std::min_element(lw.begin(), lw.end()), hi = *std::max_element(lw.begin(), lw.end());
  double q_hi = 0;
  for (std::size_t y = 0; y < lw.size(); ++y) {
    if (std::fabs(lw[y] - hi) < 1e-9) {
      q_hi += std::exp(log_q[y]);
    } else if (std::fabs(lw[y] - lo) >= 1e-9) {
      return e;
    }
  }
  e.two_point = true;
  double m1 = 0, m2 = 0;
  const double N = n;
  for (int k = 0; k <= n; ++k) {
    const double pk = std::exp(std::lgamma(N + 1) - std::lgamma(k + 1.0) - std::lgamma(N - k + 1) + k * std::log(q_hi) +
                               (N - k) * std::log1p(-q_hi));
    const double x = std::log((k * std::exp(hi) + (N - k) * std::exp(lo)) / N);
    m1 += pk * x;
    m2 += pk * x * x;
  }
  e.bias = m1;
  e.var = m2 - m1 * m1;
  return e;
}

TEST_F(EstimateCliTest, HelpExitsZero) {
  for (const char* sub : {"estimate", "anchor", "check", "check estimator"}) {
    const Result r = run(std::string(sub) + " --help");
    EXPECT_EQ(r.exit_code, 0) << sub;
    EXPECT_NE(r.output.find("Usage"), std::string::npos) << sub << ": " << r.output;
  }
}

TEST_F(EstimateCliTest, JsonHasTheKeysAndTheExactLogZ) {
  const std::string tree = path("t.json");
  ASSERT_EQ(run("tree generate --family strategies --set horizon=3 --seed 7 --out " + tree).exit_code, 0);
  const Result r = run("estimate --tree " + tree +
                       " --beta 2 --proposal tilted:lambda=0.5 --samples 64 --replicates 50 --seed 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json j = nlohmann::json::parse(r.output);
  for (const char* key : {"log_Z_exact", "log_Zhat_mean", "log_Zhat_var", "bias", "predicted_bias", "predicted_var",
                          "chi2", "ess_fraction_mean", "k_hat_mean", "bias_ci_low", "bias_ci_high",
                          "delta_ci_coverage"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  // The same tree through the library directly.
  const disa::Tree t = disa::make_trees("strategies", {{"horizon", "3"}}, 7)[0];
  EXPECT_DOUBLE_EQ(j["log_Z_exact"].get<double>(), disa::log_partition(t, 2.0));
  // The printed predictions follow from the printed chi2 (THEORY.md items 2-3).
  const double chi2 = j["chi2"].get<double>();
  EXPECT_NEAR(j["predicted_bias"].get<double>(), -chi2 / (2 * 64), 1e-15);
  EXPECT_NEAR(j["predicted_var"].get<double>(), chi2 / 64, 1e-15);
  EXPECT_NEAR(j["bias"].get<double>(), j["log_Zhat_mean"].get<double>() - j["log_Z_exact"].get<double>(), 1e-12);
  EXPECT_LE(j["bias_ci_low"].get<double>(), j["bias"].get<double>());
  EXPECT_GE(j["bias_ci_high"].get<double>(), j["bias"].get<double>());
  EXPECT_EQ(j["replicates"].get<int>(), 50);
  // A tilted proposal on binary rewards has a two-valued weight, so the exact law of
  // log Zhat_N is printed. It is recomputed here from the tree (exact_of), and the printed
  // chi2 and law must be it. The measured bias, a mean of R = 50 replicates, lies within 4
  // sd of the exact bias, sd = sqrt(Var_exact(log Zhat_64) / R) from the exact law (not the
  // CLI's own se): two-sided false alarm 6.3e-5 in the normal approximation of the mean.
  const Exact exact = exact_of(t, 2.0, "tilted:lambda=0.5", 64);
  ASSERT_TRUE(exact.two_point);
  EXPECT_NEAR(chi2, exact.chi2, 1e-12 * (1 + exact.chi2));
  ASSERT_TRUE(j.contains("bias_exact") && j.contains("log_Zhat_var_exact") && j.contains("ess_fraction_exact"));
  EXPECT_NEAR(j["bias_exact"].get<double>(), exact.bias, 1e-12);
  EXPECT_NEAR(j["log_Zhat_var_exact"].get<double>(), exact.var, 1e-12);
  EXPECT_NEAR(j["bias"].get<double>(), exact.bias, 4.0 * std::sqrt(exact.var / 50));
  EXPECT_GT(j["log_Zhat_var_exact"].get<double>(), 0.0);
}

TEST_F(EstimateCliTest, TargetProposalIsExactInEveryReplicate) {
  // q = p*: every weight equals Z, so log Zhat = log Z up to round-off (item 5, lambda = 1).
  const std::string tree = path("t.json");
  ASSERT_EQ(run("tree generate --family random --set eos=true --seed 3 --out " + tree).exit_code, 0);
  const Result r = run("estimate --tree " + tree + " --beta 3 --proposal target --samples 32 --replicates 40 --seed 5 "
                       "--json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json j = nlohmann::json::parse(r.output);
  EXPECT_LT(j["log_Zhat_var"].get<double>(), 1e-24);
  EXPECT_LT(std::fabs(j["bias"].get<double>()), 1e-12);
  EXPECT_LT(std::fabs(j["chi2"].get<double>()), 1e-12);
  EXPECT_NEAR(j["ess_fraction_mean"].get<double>(), 1.0, 1e-12);
}

TEST_F(EstimateCliTest, SameSeedSameOutput) {
  const std::string tree = path("t.json");
  ASSERT_EQ(run("tree generate --family random --seed 2 --out " + tree).exit_code, 0);
  const std::string args = "estimate --tree " + tree + " --beta 1 --proposal reference --samples 16 --seed 4 --json";
  const Result a = run(args, "OMP_NUM_THREADS=2"), b = run(args, "OMP_NUM_THREADS=1");
  ASSERT_EQ(a.exit_code, 0) << a.output;
  EXPECT_EQ(a.output, b.output);  // identical for any thread count
}

TEST_F(EstimateCliTest, ControlVariateKeepsTheBiasOfAProposalWithAHole) {
  // q = pi_ref with one action of the node below action 0 removed: E[Zhat/Z] = 1 - p*(hole)
  // (item 6), so the control variate must be Zhat/Z - E[Zhat/Z], not Zhat/Z - 1, or it
  // shifts the bias estimate by p*(hole).
  const std::string tree_path = path("t.json"), hole = path("hole.json");
  ASSERT_EQ(run("tree generate --family random --seed 3 --out " + tree_path).exit_code, 0);
  const disa::Tree tree = disa::load_trees(tree_path)[0];
  disa::TabularPolicy q = disa::reference_policy(tree);
  ASSERT_GE(q.log_prob.size(), 2u * static_cast<std::size_t>(q.shape.vocab()));
  q.node(1)[0] = -INFINITY;  // node 1: the prefix [0]
  disa::save_policy(q, hole);
  const Result r = run("estimate --tree " + tree_path + " --beta 2 --proposal file:" + hole +
                       " --samples 64 --replicates 2000 --seed 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json j = nlohmann::json::parse(r.output);
  const double hole_mass = j["proposal_missing_target_mass"].get<double>();
  ASSERT_GT(hole_mass, 0.01);
  EXPECT_NEAR(j["Zhat_over_Z_mean_exact"].get<double>(), 1.0 - hole_mass, 1e-12);
  // Both estimate E[log Zhat - log Z]; their difference is within noise (4 of the plain
  // estimate's standard errors plus the control variate's: a false alarm below 1e-4).
  const double bias = j["bias"].get<double>(), cv = j["bias_control_variate"].get<double>();
  const double tolerance = 4.0 * (j["bias_se"].get<double>() + j["bias_control_variate_se"].get<double>());
  EXPECT_LT(std::fabs(cv - bias), tolerance) << "bias " << bias << ", with the control variate " << cv
                                             << ", hole mass " << hole_mass;
  EXPECT_EQ(j["chi2"], "inf");
  EXPECT_EQ(j["bias_ratio"], "nan");  // no first-order prediction to compare with
  EXPECT_EQ(j["var_ratio"], "nan");

  // q = p*: chi2 = 0 predicts no bias and no variance; no ratio to it (it was inf and nan).
  const Result exact = run("estimate --tree " + tree_path + " --beta 2 --proposal tilted:lambda=1 --samples 16 "
                           "--replicates 50 --seed 1 --json");
  ASSERT_EQ(exact.exit_code, 0) << exact.output;
  const nlohmann::json e = nlohmann::json::parse(exact.output);
  EXPECT_NEAR(e["chi2"].get<double>(), 0.0, 1e-12);
  EXPECT_EQ(e["bias_ratio"], "nan");
  EXPECT_EQ(e["var_ratio"], "nan");
}

TEST_F(EstimateCliTest, AnchorFromATreeFlagsAProposalWithAHole) {
  // Item 6: the samples cannot show a hole, the tree can. The anchor is flagged
  // unreliable and the missing p* mass is printed.
  const std::string tree_path = path("t.json"), hole = path("hole.json"), out = path("a.jsonl");
  ASSERT_EQ(run("tree generate --family random --seed 3 --out " + tree_path).exit_code, 0);
  const disa::Tree tree = disa::load_trees(tree_path)[0];
  disa::TabularPolicy q = disa::reference_policy(tree);
  q.node(1)[0] = -INFINITY;  // node 1: the prefix [0]
  disa::save_policy(q, hole);
  const Result r = run("anchor --tree " + tree_path + " --beta 2 --proposal file:" + hole +
                       " --samples 512 --seed 1 --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("prompt 0: the proposal has zero probability where p* has mass"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("1 unreliable"), std::string::npos) << r.output;
  const std::vector<disa::AnchorRecord> anchors = disa::load_anchors(out);
  ASSERT_EQ(anchors.size(), 1u);
  EXPECT_NE(std::find(anchors[0].flags.begin(), anchors[0].flags.end(), "proposal_misses_target_mass"),
            anchors[0].flags.end());
  // The reference itself has no hole: no such flag.
  const Result ok = run("anchor --tree " + tree_path + " --beta 2 --proposal reference --samples 512 --seed 1 --out " +
                        path("b.jsonl"));
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_EQ(ok.output.find("zero probability"), std::string::npos) << ok.output;
  const std::vector<disa::AnchorRecord> clean = disa::load_anchors(path("b.jsonl"));
  ASSERT_EQ(clean.size(), 1u);
  for (const auto& f : clean[0].flags) EXPECT_NE(f, "proposal_misses_target_mass");
}

TEST_F(EstimateCliTest, BadArgumentsExitTwoNamingTheArgument) {
  const std::string tree = path("t.json");
  ASSERT_EQ(run("tree generate --family random --seed 1 --out " + tree).exit_code, 0);
  const std::string base = "estimate --tree " + tree + " --seed 1 ";
  expect_rejected(run(base + "--beta 1 --proposal reference --samples 0"), "--samples");
  expect_rejected(run(base + "--beta 1 --proposal reference --samples 8 --replicates 1"), "--replicates");
  expect_rejected(run(base + "--beta abc --proposal reference --samples 8"), "--beta");
  expect_rejected(run(base + "--beta nan --proposal reference --samples 8"), "--beta");
  expect_rejected(run(base + "--beta 0 --proposal reference --samples 8"), "--beta: must be > 0");
  expect_rejected(run("anchor --tree " + tree + " --beta -3 --proposal reference --samples 8 --seed 1 --out " +
                      path("a.jsonl")),
                  "--beta: must be > 0");
  expect_rejected(run(base + "--beta 1 --proposal greedy --samples 8"), "--proposal");
  expect_rejected(run(base + "--beta 1 --samples 8"), "--proposal");
  expect_rejected(run(base + "--beta 1 --proposal reference --samples 8 --prompt 3"), "--prompt");
  expect_rejected(run("estimate --beta 1 --proposal reference --samples 8 --seed 1"), "--tree");
  expect_rejected(run("anchor --beta 1 --out " + path("a.jsonl")), "--samples-file");
  expect_rejected(run("anchor --tree " + tree + " --beta 1 --proposal reference --seed 1 --out " + path("a.jsonl")),
                  "--samples");
  expect_rejected(run("anchor --tree " + tree + " --beta 1 --samples 8 --seed 1 --out " + path("a.jsonl")),
                  "--proposal");
  expect_rejected(run("check estimator --seed x"), "--seed");
  // A number JSON cannot hold is named with its file and line (exit 2, not a bare exit 1).
  {
    std::ofstream samples(path("overflow.jsonl"));
    samples << R"({"log_prob": -1, "log_ref": -1, "reward": 1})" << '\n'
            << R"({"log_prob": -1, "log_ref": 1e400, "reward": 1})" << '\n';
  }
  expect_rejected(run("anchor --samples-file " + path("overflow.jsonl") + " --beta 1 --out " + path("a.jsonl")),
                  "overflow.jsonl:2: not JSON");
  EXPECT_FALSE(std::filesystem::exists(path("a.jsonl")));
}

// As in the LLM pipeline: a prompt none of whose samples was rewarded is flagged
// no_reward_observed and counted unreliable (its log Zhat = 0 with CI [0, 0] under
// q = pi_ref says nothing of Z); one rewarded sample clears it.
TEST_F(EstimateCliTest, AnchorFlagsAPromptWithNoRewardedSample) {
  {
    std::ofstream samples(path("s.jsonl"));
    for (int i = 0; i < 8; ++i) samples << R"({"prompt": "none", "log_prob": -1, "log_ref": -1, "reward": 0})" << '\n';
    for (int i = 0; i < 8; ++i) {
      samples << R"({"prompt": "one", "log_prob": -1, "log_ref": -1, "reward": )" << (i == 3 ? 1 : 0) << "}\n";
    }
  }
  const Result r = run("anchor --samples-file " + path("s.jsonl") + " --beta 3 --out " + path("a.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("1 unreliable"), std::string::npos) << r.output;
  const std::vector<disa::AnchorRecord> anchors = disa::load_anchors(path("a.jsonl"));
  ASSERT_EQ(anchors.size(), 2u);
  const auto has = [](const disa::AnchorRecord& a, const std::string& f) {
    return std::find(a.flags.begin(), a.flags.end(), f) != a.flags.end();
  };
  EXPECT_TRUE(has(anchors[0], "no_reward_observed"));
  EXPECT_TRUE(has(anchors[0], "weights_constant"));
  EXPECT_EQ(anchors[0].ci_low, anchors[0].ci_high);  // why the flag: a CI of width 0
  EXPECT_FALSE(has(anchors[1], "no_reward_observed"));
  EXPECT_FALSE(has(anchors[1], "weights_constant"));
}

TEST_F(EstimateCliTest, AnchorFromATreeSetHasOneRecordPerPrompt) {
  const std::string set = path("set.json"), anchors = path("anchors.jsonl");
  ASSERT_EQ(run("tree generate --family multi_prompt --set prompts=5 --seed 2 --out " + set).exit_code, 0);
  const Result r = run("anchor --tree " + set + " --beta 2 --proposal tilted:lambda=0.5 --samples 128 --seed 3 --out " +
                       anchors);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::vector<disa::AnchorRecord> loaded = disa::load_anchors(anchors);
  ASSERT_EQ(loaded.size(), 5u);
  const std::vector<disa::Tree> trees = disa::load_trees(set);
  for (std::size_t p = 0; p < loaded.size(); ++p) {
    EXPECT_EQ(loaded[p].prompt, std::to_string(p));
    EXPECT_EQ(loaded[p].n, 128);
    EXPECT_EQ(loaded[p].proposal, "tilted:lambda=0.5");
    EXPECT_EQ(loaded[p].beta, 2.0);
    EXPECT_EQ(loaded[p].seed, 3u);
    // 128 samples with chi2 < 1 (tilted, lambda = 0.5), chi2 computed from the tree: log
    // Zhat_N - log Z has mean ~ -chi2 / 2N and variance ~ chi2 / N (THEORY.md items 2-3;
    // exact when the weights take two values, as here), so it lies within |bias| + 5 sd
    // (0.44 nats at most for chi2 < 1): false-alarm rate 5.7e-7 per prompt in the normal
    // approximation. The former bound, 1 nat, is kept.
    const Exact exact = exact_of(trees[p], 2.0, "tilted:lambda=0.5", 128);
    EXPECT_LT(exact.chi2, 1.0) << p;
    const double bias = exact.two_point ? exact.bias : -exact.chi2 / (2 * 128);
    const double sd = std::sqrt(exact.two_point ? exact.var : exact.chi2 / 128);
    EXPECT_NEAR(loaded[p].log_z_hat - exact.log_z, bias, 5 * sd) << p << ": chi2 = " << exact.chi2;
    EXPECT_NEAR(loaded[p].log_z_hat, disa::log_partition(trees[p], 2.0), 1.0) << p;
  }
}

TEST_F(EstimateCliTest, AnchorFromSamplesFileMatchesTheTreePath) {
  // Prompt p of `anchor --tree` uses trajectories p N .. p N + N - 1; the same
  // trajectories written by `tree sample --first` give the same record.
  const std::string set = path("set.json");
  ASSERT_EQ(run("tree generate --family multi_prompt --set prompts=3 --seed 2 --out " + set).exit_code, 0);
  ASSERT_EQ(run("anchor --tree " + set + " --beta 2 --proposal reference --samples 64 --seed 9 --out " +
                path("a.jsonl")).exit_code, 0);
  ASSERT_EQ(run("tree sample --tree " + set + " --prompt 2 --policy reference --n 64 --first 128 --seed 9 --out " +
                path("s.jsonl")).exit_code, 0);
  const Result r = run("anchor --samples-file " + path("s.jsonl") + " --beta 2 --out " + path("b.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto from_tree = disa::load_anchors(path("a.jsonl"));
  const auto from_file = disa::load_anchors(path("b.jsonl"));
  ASSERT_EQ(from_tree.size(), 3u);
  ASSERT_EQ(from_file.size(), 1u);
  EXPECT_EQ(from_file[0].prompt, "0");
  EXPECT_EQ(from_file[0].n, 64);
  EXPECT_NEAR(from_file[0].log_z_hat, from_tree[2].log_z_hat, 1e-12);
}

// Integer prompt ids are keyed by their JSON text: 18446744073709551615 wrapped to -1
// through an int64 and was pooled with prompt -1. 5 and "5" stay one prompt.
TEST_F(EstimateCliTest, AnchorKeepsEveryIntegerPromptIdApart) {
  {
    std::ofstream samples(path("s.jsonl"));
    samples << R"({"prompt": 18446744073709551615, "log_prob": -1, "log_ref": -1, "reward": 1})" << '\n'
            << R"({"prompt": -1, "log_prob": -1, "log_ref": -2, "reward": 0})" << '\n'
            << R"({"prompt": "-1", "log_prob": -1, "log_ref": -2, "reward": 0})" << '\n';
  }
  const Result r = run("anchor --samples-file " + path("s.jsonl") + " --beta 1 --out " + path("a.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::vector<disa::AnchorRecord> anchors = disa::load_anchors(path("a.jsonl"));
  ASSERT_EQ(anchors.size(), 2u);
  EXPECT_EQ(anchors[0].prompt, "18446744073709551615");
  EXPECT_EQ(anchors[0].n, 1);
  EXPECT_EQ(anchors[1].prompt, "-1");
  EXPECT_EQ(anchors[1].n, 2);
}

// What a samples file cannot mean, named with its line before anything is estimated.
TEST_F(EstimateCliTest, AnchorRefusesImpossibleSamplesNamingTheLine) {
  const auto refused = [&](const std::string& line, const std::string& message) {
    {
      std::ofstream samples(path("s.jsonl"));
      samples << R"({"log_prob": -1, "log_ref": -1, "reward": 1})" << '\n' << line << '\n';
    }
    expect_rejected(run("anchor --samples-file " + path("s.jsonl") + " --beta 1 --out " + path("a.jsonl")),
                    path("s.jsonl") + ":2: " + message);
  };
  // A log-probability above 0 is no probability; it was used as one.
  refused(R"({"log_prob": 0.5, "log_ref": -0.1, "reward": 1})",
          "\"log_prob\" is a log-probability, must be <= 0, got 0.5");
  refused(R"({"log_prob": -1, "log_ref": 3, "reward": 1})", "\"log_ref\" is a log-probability, must be <= 0, got 3");
  refused(R"({"log_prob": -1e308, "log_ref": 0, "reward": 1e308})",
          "log w = log_ref - log_prob + beta reward = 0 - (-1e+308) + 1 * 1e+308 overflows a double");
  // A bad value is shown cut, not repeated whole (a 3-million-element array was a 6 MB message).
  std::string huge = "[1";
  for (int i = 0; i < 3000000; ++i) huge += ",1";
  huge += "]";
  refused(R"({"log_prob": )" + huge + R"(, "log_ref": -1, "reward": 1})", "\"log_prob\" must be a number, got [1,1,1,");
  refused(R"({"prompt": )" + huge + R"(, "log_prob": -1, "log_ref": -1, "reward": 1})",
          "\"prompt\" must be a string or an integer, got [1,1,1,");
  refused(R"({"log_prob": -1, "log_ref": -1, "reward": 1, "x": )" + std::string(100000, '[') +
              std::string(100000, ']') + "}",
          "arrays and objects nested more than 512 levels deep");
  EXPECT_FALSE(std::filesystem::exists(path("a.jsonl")));
}

// --out is checked before the sampling: a folder failed after it, exit 1, naming the
// temporary file.
TEST_F(EstimateCliTest, AnchorRefusesAnOutThatCannotBeWrittenFirst) {
  const std::string tree = path("t.json");
  ASSERT_EQ(run("tree generate --family random --seed 1 --out " + tree).exit_code, 0);
  const std::string base = "anchor --tree " + tree + " --beta 1 --proposal reference --samples 8 --seed 1 --out ";
  expect_rejected(run(base + dir_.string()), "--out: '" + dir_.string() + "' is a folder, not a file");
  expect_rejected(run(base + "/proc/disa_a.jsonl"), "--out: cannot write in the folder '/proc'");
  // A --proposal label that is not UTF-8 could not be written into the anchor file.
  {
    std::ofstream samples(path("s.jsonl"));
    samples << R"({"log_prob": -1, "log_ref": -1, "reward": 1})" << '\n';
  }
  expect_rejected(run("anchor --samples-file " + path("s.jsonl") + " --proposal 'lab\xfe' --beta 1 --out " +
                      path("a.jsonl")),
                  "--proposal: must be valid UTF-8");
  std::filesystem::copy_file(path("s.jsonl"), path("s\xff.jsonl"));
  expect_rejected(run("anchor --samples-file " + path("s\xff.jsonl") + " --beta 1 --out " + path("a.jsonl")),
                  "--samples-file: must be valid UTF-8");
  EXPECT_FALSE(std::filesystem::exists(path("a.jsonl")));
}

}  // namespace
