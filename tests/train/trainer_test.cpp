// The tabular trainer (src/train/trainer.h): exact-gradient steps against the closed
// form on a 2-leaf tree, THEORY.md items 8-9 as training outcomes, checkpoint/resume
// bit-identity, and config validation.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "src/input_error.h"
#include "src/log_sum_exp.h"
#include "src/train/trainer.h"
#include "tests/train/fixed_trees.h"
#include "tests/util/errors.h"
#include "toy_envs/flows.h"
#include "toy_envs/leaf_distribution.h"
#include "toy_envs/proposals.h"
#include "toy_envs/tree_json.h"

namespace disa::train {
namespace {

// Exact recursions in double: the trainer's steps add a handful of roundings per step.
constexpr double kTrajectoryTolerance = 1e-12;

// A 2-leaf tree: one decision between actions 0 and 1, reward r_a, reference logits ref_a.
Tree two_leaf_tree(double ref0, double ref1, double r0, double r1) {
  Tree tree = Tree::zeros(TreeShape::make(/*vocab=*/2, /*horizon=*/1));
  tree.logits = {ref0, ref1};
  tree.reward = {r0, r1};
  return tree;
}

TrainConfig config_of(const std::vector<std::string>& settings) { return TrainConfig::parse(settings); }

// On a 2-leaf tree with logits theta, pi = softmax(theta) and p* = softmax(ref + beta r), so
// d KL(pi || p*) / d theta_a = pi_a (log(pi_a / p*_a) - KL), and the exact on-policy tb
// gradient is 2 grad KL (item 8; the head's loss is delta^2): plain SGD follows
// theta <- theta - lr * 2 grad KL(theta) exactly.
TEST(Trainer, ExactSgdStepsFollowTheClosedFormOnTwoLeaves) {
  const double beta = 1.5, lr = 0.3;
  const Tree tree = two_leaf_tree(0.2, -0.4, 1.0, 0.0);
  Trainer trainer({tree}, config_of({"method=disa-online", "mode=exact", "optimizer=sgd",
                                     fmt::format("learning_rate={}", lr), fmt::format("beta={}", beta)}));
  const double s0 = 0.2 + beta * 1.0, s1 = -0.4;
  double t0 = 0.2, t1 = -0.4;
  for (int k = 0; k < 25; ++k) {
    const double m = std::max(t0, t1);
    const double z = std::exp(t0 - m) + std::exp(t1 - m);
    const double p0 = std::exp(t0 - m) / z, p1 = std::exp(t1 - m) / z;
    const double ms = std::max(s0, s1);
    const double zs = std::exp(s0 - ms) + std::exp(s1 - ms);
    const double q0 = std::exp(s0 - ms) / zs, q1 = std::exp(s1 - ms) / zs;
    const double kl = p0 * std::log(p0 / q0) + p1 * std::log(p1 / q1);
    const double g0 = p0 * (std::log(p0 / q0) - kl), g1 = p1 * (std::log(p1 / q1) - kl);
    t0 -= lr * 2 * g0;
    t1 -= lr * 2 * g1;
    trainer.step();
    const TabularPolicy expected = TabularPolicy::from_logits(tree.shape, std::vector<double>{t0, t1});
    ASSERT_NEAR(trainer.policy(0).log_prob[0], expected.log_prob[0], kTrajectoryTolerance) << "step " << k + 1;
    ASSERT_NEAR(trainer.policy(0).log_prob[1], expected.log_prob[1], kTrajectoryTolerance) << "step " << k + 1;
  }
}

// Item 8 as a training outcome: on-policy with exact gradients, a constant error in the
// frozen log Z does not move the fixed point, so KL(pi || p*) goes to ~0 for any c.
TEST(Trainer, OnPolicyTbReachesTheTargetWhateverTheLogZError) {
  for (const auto& fixed : test::fixed_trees()) {
    for (double c : {0.0, 1.0, -2.0}) {
      Trainer trainer({fixed.tree}, config_of({"method=disa-online", "mode=exact", "steps=400",
                                               "learning_rate=0.1", fmt::format("beta={}", fixed.beta),
                                               fmt::format("log_z_error={}", c)}));
      const double kl0 = trainer.metrics().kl_policy_target;
      for (int k = 0; k < 400; ++k) trainer.step();
      EXPECT_LT(trainer.metrics().kl_policy_target, 1e-6 * std::max(1.0, kl0)) << fixed.name << " c=" << c;
    }
  }
}

// Item 9 as a training outcome: offline from q with the exact log Z, p* is a stationary
// point and training reaches it; with an error c != 0 the fixed point moves, by KL ~ k c^2.
// Plain SGD: it converges geometrically here, where Adam's normalised steps keep
// oscillating at the 1e-7 level near the optimum.
TEST(Trainer, OfflineTbReachesTheTargetOnlyWithTheExactLogZ) {
  const auto fixed = test::fixed_trees().front();
  auto run = [&](double c) {
    Trainer trainer({fixed.tree}, config_of({"method=disa-offline", "mode=exact", "optimizer=sgd", "learning_rate=2",
                                             "proposal=tilted:lambda=0.3", fmt::format("beta={}", fixed.beta),
                                             fmt::format("log_z_error={}", c)}));
    for (int k = 0; k < 1500; ++k) trainer.step();
    return trainer.metrics().kl_policy_target;
  };
  EXPECT_LT(run(0.0), 1e-9);
  const double kl_half = run(0.5), kl_small = run(0.05);
  EXPECT_GT(kl_half, 1e-4);
  // THEORY.md item 9: KL(pi_c || p*) ~ k c^2 for small c, k = Var_p*(w) / (2 E_p*[w]^2), w =
  // p*/q (theory_checks' envelope_k, recomputed here from the leaves).
  const TabularPolicy target = target_policy(fixed.tree, reference_policy(fixed.tree), fixed.beta);
  const TabularPolicy q = make_policy(fixed.tree, fixed.beta, parse_policy_spec("tilted:lambda=0.3", "test"));
  const std::vector<double> target_leaf = leaf_log_probs(target), q_leaf = leaf_log_probs(q);
  double m1 = 0, m2 = 0;
  for (std::size_t y = 0; y < q_leaf.size(); ++y) {
    const double p = std::exp(target_leaf[y]), w = std::exp(target_leaf[y] - q_leaf[y]);
    m1 += p * w;
    m2 += p * w * w;
  }
  const double k = (m2 - m1 * m1) / (2 * m1 * m1);
  std::printf("k = %.6g; KL/(k c^2): c = 0.05 %.6f, c = 0.5 %.6f\n", k, kl_small / (k * 0.05 * 0.05),
              kl_half / (k * 0.25));
  // The law is first order: KL / (k c^2) = 1 + O(c), with a tree-dependent slope not derived
  // here. Measured (converged: 1500 and 6000 steps agree to 1e-5): 1.087 at c = 0.05 and
  // 2.17 at c = 0.5, a slope near 1.7 per nat. So at c = 0.05 the ratio must be within 0.2
  // of 1 (a slope up to 4 per nat), and at c = 0.5 the fixed point must be at least half the
  // quadratic prediction, k c^2 / 2 = 7e-3 (70 times the former 1e-4). A fixed point that did
  // not move with c, or moved as c rather than c^2, fails the first; an error c that stopped
  // moving it fails the second.
  EXPECT_NEAR(kl_small / (k * 0.05 * 0.05), 1.0, 0.2) << "k = " << k;
  EXPECT_GT(kl_half, k * 0.25 / 2) << "k = " << k;
}

// A run interrupted at a checkpoint and resumed in a new Trainer ends bit-identical to an
// uninterrupted one (sampled mode: the batches come from counter-based streams).
TEST(Trainer, ResumeFromACheckpointIsBitIdentical) {
  const auto fixed = test::fixed_trees()[1];
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "disa_trainer_resume_test";
  std::filesystem::create_directories(dir);
  for (const char* method : {"method=grpo", "method=flowrl", "method=disa-offline"}) {
    const TrainConfig config = config_of({method, "mode=sampled", "group_size=4", "offline_samples=16",
                                          "log_z_init_error=0.7", fmt::format("beta={}", fixed.beta)});
    Trainer straight({fixed.tree}, config);
    for (int k = 0; k < 8; ++k) straight.step();

    Trainer first({fixed.tree}, config);
    for (int k = 0; k < 3; ++k) first.step();
    const std::string path = (dir / "checkpoint.json").string();
    first.save_checkpoint(path);
    Trainer resumed({fixed.tree}, config);
    resumed.load_checkpoint(path);
    for (int k = 0; k < 5; ++k) resumed.step();

    EXPECT_EQ(resumed.steps_done(), straight.steps_done()) << method;
    EXPECT_EQ(resumed.policy(0).log_prob, straight.policy(0).log_prob) << method;
    EXPECT_EQ(resumed.log_z_used(0), straight.log_z_used(0)) << method;
    EXPECT_EQ(resumed.metrics().loss, straight.metrics().loss) << method;
  }
  // A checkpoint of another run is refused, naming the mismatch.
  Trainer other({fixed.tree}, config_of({"method=grpo", "mode=sampled", "group_size=8"}));
  try {
    other.load_checkpoint((dir / "checkpoint.json").string());
    ADD_FAILURE() << "a foreign checkpoint was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("fingerprint"), std::string::npos) << e.what();
  }
  // This run's checkpoint with its state edited (the run fingerprint covers the settings,
  // not the state): refused, and so is one whose contents fingerprint was removed.
  const TrainConfig last = config_of({"method=disa-offline", "mode=sampled", "group_size=4", "offline_samples=16",
                                      "log_z_init_error=0.7", fmt::format("beta={}", fixed.beta)});
  const std::string path = (dir / "checkpoint.json").string();
  nlohmann::json saved = nlohmann::json::parse(std::ifstream(path));
  for (const auto& [key, value] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"steps_done", 1}, {"samples_used", 1e18}, {"last_loss", 0.5}}) {
    nlohmann::json edited = saved;
    edited[key] = value;
    std::ofstream(path) << edited.dump();
    Trainer resumed({fixed.tree}, last);
    try {
      resumed.load_checkpoint(path);
      ADD_FAILURE() << "a checkpoint with " << key << " edited was resumed";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("does not match the contents"), std::string::npos) << e.what();
    }
  }
  nlohmann::json unsigned_state = saved;
  unsigned_state.erase("contents_fingerprint");
  std::ofstream(path) << unsigned_state.dump();
  Trainer resumed({fixed.tree}, last);
  EXPECT_THROW(resumed.load_checkpoint(path), InputError);
  std::ofstream(path) << saved.dump(2);  // whitespace is no change: it parses to the same contents
  EXPECT_NO_THROW(resumed.load_checkpoint(path));
  std::filesystem::remove_all(dir);
}

// set_logits moves the policy there (what studies use to start away from pi_ref) and refuses
// a wrong size or a non-finite entry.
TEST(Trainer, SetLogitsReplacesThePolicy) {
  const auto fixed = test::fixed_trees().front();
  Trainer trainer({fixed.tree}, config_of({"method=disa-online", "mode=exact"}));
  const std::vector<double> other = test::random_logits(fixed.tree.shape, 3);
  trainer.set_logits(other);
  EXPECT_EQ(trainer.logits(), other);
  EXPECT_EQ(trainer.policy(0).log_prob, TabularPolicy::from_logits(fixed.tree.shape, other).log_prob);
  std::vector<double> bad = other;
  bad.pop_back();
  EXPECT_THROW(trainer.set_logits(bad), InputError);
  bad = other;
  bad[2] = std::nan("");
  EXPECT_THROW(trainer.set_logits(bad), InputError);
  EXPECT_EQ(trainer.logits(), other) << "a refused call changes nothing";
}

// THEORY.md item 6: a proposal with zero mass where p* has mass (chi2(p*||q) = inf) is
// refused by the methods that train on its samples, naming the proposal, the prompt and the
// p* mass it misses: disa-offline's and sft's data never show that mass, and log Zhat from it
// is low by exactly that mass. They used to train on it without a word.
TEST(Trainer, OfflineMethodsRefuseAProposalThatMissesTargetMass) {
  const auto fixed = test::fixed_trees().front();  // V = 3, T = 3
  const Tree& tree = fixed.tree;
  TabularPolicy q = reference_policy(tree);
  const double kept = log_add_exp(q.log_prob[1], q.log_prob[2]);
  q.log_prob[0] = kNegInf;  // the root's action 0 is never taken
  q.log_prob[1] -= kept;
  q.log_prob[2] -= kept;
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "disa_trainer_hole_test";
  std::filesystem::create_directories(dir);
  const std::string file = (dir / "q.json").string();
  save_policy(q, file);
  const TabularPolicy target = target_policy(tree, reference_policy(tree), fixed.beta);
  const double missed = std::exp(target.log_prob[0]);  // p* of every leaf under root action 0
  const std::string proposal = "proposal=file:" + file, beta = fmt::format("beta={}", fixed.beta);
  const std::vector<std::vector<std::string>> offline = {
      {"method=disa-offline", "mode=exact"},
      {"method=disa-offline", "mode=sampled", "estimate_log_z=true"},
      {"method=disa-offline", "mode=sampled", "log_z_error=0.5"},
      {"method=sft", "mode=exact"},
      {"method=sft", "mode=sampled"},
  };
  for (std::vector<std::string> settings : offline) {
    settings.push_back(proposal);
    settings.push_back(beta);
    const std::string label = settings[0] + " " + settings[1];
    try {
      Trainer trainer({tree}, config_of(settings));
      ADD_FAILURE() << label << ": a proposal with a hole was accepted";
    } catch (const InputError& e) {
      const std::string what = e.what();
      EXPECT_TRUE(test::contains_all(what, {proposal, "prompt 0", "chi2(p*||q) is infinite", "never samples"}))
          << label;
      const std::size_t at = what.find("p* has mass ");
      ASSERT_NE(at, std::string::npos) << what;
      EXPECT_NEAR(std::stod(what.substr(at + 12)), missed, 1e-5 * missed) << what;
    }
  }
  // On-policy methods never sample the proposal: accepted.
  EXPECT_NO_THROW(Trainer({tree}, config_of({"method=disa-online", proposal, beta})));
  std::filesystem::remove_all(dir);
}

// Sampled sft averages -grad log pi over the kept (correct) rows of q's samples, so its
// expectation is E_q[-grad log pi | correct]; exact mode is that expectation
// (train_config.h), not E_q[-1(correct) grad log pi] = P_q(correct) times it (P_q(correct)
// = 0.27 for q = pi_ref on this tree). Checked two ways at pi_ref (the first step, plain
// SGD with lr 1: the gradient is before - after):
//  - against the conditional expectation computed here by enumeration (per leaf,
//    -d log pi(y)/d theta[s, a] = pi(a|s) - 1[a = a_t] at each step t of y), to round-off;
//  - against one sampled-mode gradient on N = 200000 offline samples. Its mean over the
//    K kept rows has standard error sd_j / sqrt(K) per logit, sd_j the exact standard
//    deviation of that per-leaf gradient under q(.|correct); K is taken as its mean N P
//    (its spread, 0.4% at 5 sd, moves z by < 1%). |z| <= 4.5 per logit: a two-sided
//    false-alarm rate of 6.8e-6 each, < 6e-4 over the 2 x 39 logits (union bound; fixed
//    seed, so a failure reproduces).
TEST(Trainer, ExactSftIsTheLimitOfSampledSft) {
  constexpr std::int64_t kSamples = 200000;
  constexpr double kZ = 4.5;
  constexpr double kRoundOffTolerance = 1e-12;
  const auto fixed = test::fixed_trees().front();  // V = 3, T = 3, binary rewards
  const Tree& tree = fixed.tree;
  const int V = tree.shape.vocab();
  const TabularPolicy pi = reference_policy(tree);
  auto first_gradient = [&](std::vector<std::string> settings) {
    settings.insert(settings.end(), {"method=sft", "optimizer=sgd", "learning_rate=1", fmt::format("beta={}", fixed.beta)});
    Trainer trainer({tree}, config_of(settings));
    const std::vector<double> before = trainer.logits();
    trainer.step();
    std::vector<double> g(before.size());
    for (std::size_t k = 0; k < g.size(); ++k) g[k] = before[k] - trainer.logits()[k];
    return g;
  };
  for (const std::string spec : {"reference", "interp:lambda=0.5"}) {
    SCOPED_TRACE(spec);
    const TabularPolicy q = make_policy(tree, fixed.beta, parse_policy_spec(spec, "test"));
    const std::vector<double> q_leaf = leaf_log_probs(q);
    std::vector<double> mean(pi.log_prob.size(), 0.0), second(pi.log_prob.size(), 0.0);
    double kept_mass = 0.0;
    for (std::int64_t y = 0; y < tree.shape.num_leaves(); ++y) {
      if (tree.reward[y] < 0.5) continue;
      std::vector<double> g(pi.log_prob.size(), 0.0);
      std::int64_t node = 0;
      const std::vector<int> path = tree.shape.path(y);
      for (std::size_t t = 0; t < path.size(); ++t) {
        for (int a = 0; a < V; ++a) g[node * V + a] += std::exp(pi.log_prob[node * V + a]) - (a == path[t] ? 1.0 : 0.0);
        node = tree.shape.child(node, static_cast<int>(t), path[t]).id;
      }
      const double w = std::exp(q_leaf[y]);
      kept_mass += w;
      for (std::size_t j = 0; j < g.size(); ++j) mean[j] += w * g[j], second[j] += w * g[j] * g[j];
    }
    ASSERT_GT(kept_mass, 0.0);
    ASSERT_LT(kept_mass, 0.9);  // the factor the old exact mode was off by is visible
    for (std::size_t j = 0; j < mean.size(); ++j) mean[j] /= kept_mass, second[j] /= kept_mass;

    const std::vector<double> exact = first_gradient({"mode=exact", "proposal=" + spec});
    const std::vector<double> sampled =
        first_gradient({"mode=sampled", "proposal=" + spec, fmt::format("offline_samples={}", kSamples),
                        "loss.loss_agg_mode=seq-mean-token-sum"});
    const double kept_rows = static_cast<double>(kSamples) * kept_mass;
    double largest_z = 0.0;
    for (std::size_t j = 0; j < mean.size(); ++j) {
      EXPECT_NEAR(exact[j], mean[j], kRoundOffTolerance) << "logit " << j;
      const double se = std::sqrt(std::max(second[j] - mean[j] * mean[j], 0.0) / kept_rows);
      if (se < 1e-12) {
        EXPECT_NEAR(sampled[j], exact[j], kRoundOffTolerance) << "logit " << j;
        continue;
      }
      const double z = (sampled[j] - exact[j]) / se;
      largest_z = std::max(largest_z, std::fabs(z));
      EXPECT_LE(std::fabs(z), kZ) << "logit " << j << ": exact " << exact[j] << ", sampled " << sampled[j];
    }
    std::printf("q = %s: largest |z| over the logits %.3f (bound %.1f)\n", spec.c_str(), largest_z, kZ);
  }
}

void expect_rejected(const std::vector<std::string>& settings, const std::string& key) {
  try {
    TrainConfig::parse(settings);
    ADD_FAILURE() << "accepted: " << key;
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
  }
}

TEST(TrainConfig, BadValuesAreRejectedNamingTheKey) {
  expect_rejected({"method=ppo"}, "method");
  expect_rejected({"mode=approximate"}, "mode");
  expect_rejected({"steps=-1"}, "steps");
  expect_rejected({"steps=2.5"}, "steps");
  expect_rejected({"learning_rate=0"}, "learning_rate");
  expect_rejected({"optimizer=rmsprop"}, "optimizer");
  expect_rejected({"group_size=0"}, "group_size");
  expect_rejected({"method=grpo", "mode=exact"}, "mode");
  expect_rejected({"method=gspo", "mode=sampled", "group_size=1"}, "group_size");
  expect_rejected({"proposal=tilted:lambda=abc"}, "proposal");
  expect_rejected({"estimate_log_z=true"}, "estimate_log_z");
  expect_rejected({"beta=inf"}, "beta");
  expect_rejected({"loss.beta=2"}, "loss.beta");
  expect_rejected({"loss.clip_ratio_c=0.5", "method=grpo", "mode=sampled"}, "clip_ratio_c");
  expect_rejected({"colour=blue"}, "colour");
  expect_rejected({"method=sft", "loss.loss_agg_mode=token-mean"}, "loss_agg_mode");
}

}  // namespace
}  // namespace disa::train
