// check_13_collapse — THEORY.md item 13: "GRPO/GSPO with binary rewards drive the policy
// toward a deterministic choice among correct leaves: strategy-level entropy among
// correct samples falls toward 0, while p* keeps every correct strategy with mass ∝
// pi_ref. SFT on reward-filtered proposal samples converges to q(y | correct), not to p*."
//
// On `strategies` trees (K = 4 strategies of different difficulty, several tree seeds),
// from pi_ref, with Adam:
//   grpo, gspo     mode=sampled, group_size 8, several training seeds (the spread)
//   disa-online    mode=exact, exact log Z (tb head, no length normalisation)
//   sft            mode=exact, proposal = reference and interp:lambda=0.5 (reward-filtered q)
// Exact statements (exit code): DISA's exact-gradient run reaches p*
// (KL(pi||p*) <= kDisaThreshold); SFT's exact-gradient run reaches q(.|correct)
// (KL(q(.|correct) || pi) <= kSftThreshold; KL(pi||q(.|correct)) is infinite until pi
// puts no mass on incorrect leaves). Findings: GRPO/GSPO's final strategy entropy
// against p*'s, and SFT's KL(pi||p*) against the exact KL(q(.|correct)||p*) it tends to.
//
// Run: build/bin/check_13_collapse [--out DIR] [--quick] [--seed S]
#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "src/train/train_config.h"
#include "theory_checks/check_util.h"
#include "theory_checks/training_checks.h"
#include "toy_envs/divergences.h"
#include "toy_envs/families/family.h"
#include "toy_envs/flows.h"
#include "toy_envs/leaf_distribution.h"
#include "toy_envs/proposals.h"

namespace disa::theory {
namespace {

constexpr const char* kMasses = "0.7,0.2,0.07,0.03";
constexpr const char* kAccuracy = "0.2,0.4,0.6,0.8";
constexpr double kBeta = 4.0;
constexpr double kLearningRate = 0.05;
constexpr std::int64_t kGroupSize = 8;
constexpr double kDisaThreshold = 1e-4;
constexpr double kSftThreshold = 1e-3;
constexpr double kMassThreshold = 0.01;

struct MethodSpec {
  std::string label;  // grpo, gspo, disa-online, sft:reference, sft:interp:lambda=0.5
  std::vector<std::string> settings;
  bool sampled = false;
  std::string proposal;  // sft only
};

struct RunResult {
  std::string label;
  std::uint64_t seed = 0;
  train::StepMetrics final;
  std::vector<double> strategies;  // final P_pi(strategy | correct)
  double kl_qc_pi = kNaN;          // sft: KL(q(.|correct) || pi)
  CurveTable::Run curve;
};

// q(.|correct) as leaf log-probabilities (-inf off the correct set).
std::vector<double> conditional_on_correct(const Tree& tree, const TabularPolicy& q) {
  std::vector<double> lq = leaf_log_probs(q);
  double mass = 0;
  for (std::size_t y = 0; y < lq.size(); ++y) {
    if (is_correct(tree.reward[y])) mass += std::exp(lq[y]);
  }
  for (std::size_t y = 0; y < lq.size(); ++y) lq[y] = is_correct(tree.reward[y]) ? lq[y] - std::log(mass) : -INFINITY;
  return lq;
}

// KL(a || b) over leaves, a given as log-probabilities (-inf = no mass).
double leaf_kl(const std::vector<double>& la, const std::vector<double>& lb) {
  double kl = 0;
  for (std::size_t y = 0; y < la.size(); ++y) {
    if (la[y] == -INFINITY) continue;
    kl += std::exp(la[y]) * (la[y] - lb[y]);
  }
  return kl;
}

std::string distribution_text(const std::vector<double>& p) {
  std::string s;
  for (double v : p) s += (s.empty() ? "" : "/") + fmt::format("{:.3f}", v);
  return s;
}

}  // namespace

CheckResult check_13_collapse(const CheckOptions& options) {
  const std::vector<std::uint64_t> tree_seeds = options.quick ? std::vector<std::uint64_t>{1}
                                                              : std::vector<std::uint64_t>{1, 2, 3};
  const int train_seeds = options.quick ? 2 : 8;
  const std::int64_t steps = options.quick ? 1000 : 4000;
  const std::vector<std::string> sft_proposals = {"reference", "interp:lambda=0.5"};

  std::vector<MethodSpec> methods;
  const std::string lr = fmt::format("learning_rate={}", kLearningRate);
  const std::string beta = fmt::format("beta={}", kBeta);
  for (const char* pg : {"grpo", "gspo"}) {
    methods.push_back({pg, {fmt::format("method={}", pg), "mode=sampled", fmt::format("group_size={}", kGroupSize),
                            lr, beta}, true, ""});
  }
  methods.push_back({"disa-online", {"method=disa-online", "mode=exact", lr, beta}, false, ""});
  for (const std::string& q : sft_proposals) {
    methods.push_back({"sft:" + q, {"method=sft", "mode=exact", "proposal=" + q, lr, beta}, false, q});
  }

  CheckResult result;
  result.name = "check_13_collapse";
  result.statement = "GRPO/GSPO drive the strategy entropy among correct leaves toward 0 while p* keeps every correct "
                     "strategy; SFT on reward-filtered q converges to q(y|correct), not p* (THEORY.md item 13)";
  result.finding_meaning = "measured statements about training";
  CurveTable curves({"kl_qcorrect_policy"});

  for (const std::uint64_t tree_seed : tree_seeds) {
    const Tree tree =
        make_trees("strategies", {{"masses", kMasses}, {"accuracy", kAccuracy}, {"horizon", "4"}}, tree_seed).front();
    const std::string tree_name = fmt::format("strategies s{}", tree_seed);
    const TabularPolicy ref = reference_policy(tree);
    const TabularPolicy target = target_policy(tree, ref, kBeta);
    const std::vector<double> target_strategies = strategy_distribution_among_correct(tree, target);
    const double target_h = distribution_entropy(target_strategies);
    const double target_above = count_above(target_strategies, kMassThreshold);
    const double target_acc = accuracy(tree, target);
    const std::vector<double> target_leaf = leaf_log_probs(target);

    // The runs: every (method, seed), independent, stored at their index.
    struct Job {
      const MethodSpec* method;
      std::uint64_t seed;
    };
    std::vector<Job> jobs;
    for (const MethodSpec& m : methods) {
      const int n = m.sampled ? train_seeds : 1;
      for (int s = 0; s < n; ++s) jobs.push_back({&m, options.seed + std::uint64_t(s)});
    }
    std::vector<RunResult> runs(jobs.size());
    std::map<std::string, std::vector<double>> qc_leaf;  // sft proposal -> log q(.|correct)
    for (const std::string& q : sft_proposals) {
      qc_leaf[q] = conditional_on_correct(tree, make_policy(tree, kBeta, parse_policy_spec(q, "proposal")));
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (std::int64_t j = 0; j < std::int64_t(jobs.size()); ++j) {
      const Job& job = jobs[j];
      std::vector<std::string> settings = job.method->settings;
      settings.push_back(fmt::format("seed={}", job.seed));
      settings.push_back(fmt::format("steps={}", steps));
      train::Trainer trainer({tree}, train::TrainConfig::parse(settings));
      RunResult& out = runs[j];
      out.label = job.method->label;
      out.seed = job.seed;
      out.curve = {fmt::format("{}/{}/seed{}", tree_name, out.label, job.seed), out.label, tree_name, job.seed, {}};
      const std::vector<double>* qc = job.method->proposal.empty() ? nullptr : &qc_leaf.at(job.method->proposal);
      auto extra = [&] { return qc ? leaf_kl(*qc, leaf_log_probs(trainer.policy(0))) : kNaN; };
      out.curve.points.push_back({trainer.metrics(), {extra()}});
      for (std::int64_t k = 1; k <= steps; ++k) {
        const train::StepMetrics m = trainer.step();
        if (record_step(k, steps)) out.curve.points.push_back({m, {extra()}});
      }
      out.final = trainer.metrics();
      out.strategies = strategy_distribution_among_correct(tree, trainer.policy(0));
      out.kl_qc_pi = extra();
    }
    for (RunResult& r : runs) curves.add(std::move(r.curve));

    // Per method: the final metrics with their spread over training seeds.
    for (const MethodSpec& m : methods) {
      std::vector<const RunResult*> sel;
      for (const RunResult& r : runs) {
        if (r.label == m.label) sel.push_back(&r);
      }
      auto collect = [&](auto field) {
        std::vector<double> v;
        for (const RunResult* r : sel) v.push_back(field(*r));
        return spread_of(v);
      };
      const std::int64_t S = std::int64_t(sel.size());
      const std::string spread_note = S > 1 ? "mean [min, max] over training seeds" : "deterministic (exact gradient)";
      const Spread kl = collect([](const RunResult& r) { return r.final.kl_policy_target; });
      const Spread rkl = collect([](const RunResult& r) { return r.final.kl_target_policy; });
      const Spread acc = collect([](const RunResult& r) { return r.final.accuracy; });
      const Spread h = collect([](const RunResult& r) { return r.final.strategy_entropy; });
      const Spread above = collect([](const RunResult& r) { return r.final.strategies_above; });
      std::string dists;
      for (const RunResult* r : sel) dists += (dists.empty() ? "" : "; ") + distribution_text(r->strategies);
      result.rows.push_back(report_row("final KL(pi||p*)", tree_name, kBeta, m.label, steps, S, 0.0, kl.mean, kl.se,
                                       spread_note + ": " + kl.text()));
      result.rows.push_back(report_row("final KL(p*||pi)", tree_name, kBeta, m.label, steps, S, 0.0, rkl.mean,
                                       rkl.se, spread_note + ": " + rkl.text()));
      result.rows.push_back(report_row("final accuracy (exact: p*'s)", tree_name, kBeta, m.label, steps, S,
                                       target_acc, acc.mean, acc.se, spread_note + ": " + acc.text()));
      result.rows.push_back(report_row("final strategy entropy (exact: p*'s)", tree_name, kBeta, m.label, steps, S,
                                       target_h, h.mean, h.se,
                                       spread_note + ": " + h.text() + "; P(strategy|correct) per seed: " + dists +
                                           " (p*: " + distribution_text(target_strategies) + ")"));
      result.rows.push_back(report_row("final strategies > 1% (exact: p*'s)", tree_name, kBeta, m.label, steps, S,
                                       target_above, above.mean, above.se, spread_note + ": " + above.text()));

      if (m.label == "disa-online") {
        Row r = report_row("DISA reaches p*: final KL(pi||p*) <= threshold", tree_name, kBeta, m.label, steps, 1,
                           kDisaThreshold, kl.mean, 0.0,
                           fmt::format("exact-gradient statement (item 8: the exact on-policy tb gradient is 2 grad "
                                       "KL); KL(p*||pi) = {}, strategy entropy {} vs p* {}",
                                       short_num(rkl.mean, 3), short_num(h.mean, 4), short_num(target_h, 4)));
        r.kind = RowKind::kUpperBound;
        judge(r);
        result.rows.push_back(r);
      } else if (m.sampled) {
        int below = 0;
        std::map<int, int> dominant;
        for (const RunResult* r : sel) {
          below += r->final.strategy_entropy < target_h;
          int arg = 0;
          for (std::size_t k = 1; k < r->strategies.size(); ++k) {
            if (r->strategies[k] > r->strategies[arg]) arg = int(k);
          }
          ++dominant[arg];
        }
        std::string dom;
        for (const auto& [k, n] : dominant) dom += (dom.empty() ? "" : ", ") + fmt::format("strategy {} x{}", k, n);
        const bool collapsed = below == int(S);
        const std::string verdict =
            collapsed ? fmt::format("FINDING: BELOW p*'s in {}/{} seeds ({} vs {}; {} vs {} strategies > 1%)", below,
                                    S, h.text(), short_num(target_h, 4), above.text(), short_num(target_above, 3))
                      : fmt::format("FINDING: NOT below p*'s in {}/{} seeds ({} vs {}) - contradicts item 13 at {} "
                                    "steps",
                                    int(S) - below, S, h.text(), short_num(target_h, 4), steps);
        result.rows.push_back(finding_row("strategy entropy < p*'s (collapse)", tree_name, kBeta, m.label, steps, S,
                                          target_h, h.mean, verdict,
                                          fmt::format("dominant strategy among correct: {}; accuracy {} (p* {}); "
                                                      "KL(pi||p*) {}, KL(p*||pi) {}",
                                                      dom, acc.text(), short_num(target_acc, 4), kl.text(),
                                                      rkl.text())));
      } else {
        const std::vector<double>& qc = qc_leaf.at(m.proposal);
        const double kl_qc_target = leaf_kl(qc, target_leaf);
        const std::vector<double> qc_prob = [&] {
          std::vector<double> p(tree.num_strategies(), 0.0);
          for (std::size_t y = 0; y < qc.size(); ++y) {
            if (qc[y] != -INFINITY && tree.strategy[y] >= 0) p[tree.strategy[y]] += std::exp(qc[y]);
          }
          return p;
        }();
        Row r = report_row("SFT reaches q(.|correct): KL(q(.|correct)||pi) <= threshold", tree_name, kBeta, m.label,
                           steps, 1, kSftThreshold, sel.front()->kl_qc_pi, 0.0,
                           "exact-gradient statement (the sft head's exact gradient is -E_q[grad log pi | correct])");
        r.kind = RowKind::kUpperBound;
        judge(r);
        result.rows.push_back(r);
        const double kl_pi_target = kl.mean;
        const double kl_qc_pi = sel.front()->kl_qc_pi;
        // Which limit the run is at: KL(q(.|correct)||pi) against KL(p*||pi), and KL(pi||p*)
        // against the value KL(q(.|correct)||p*) it has at q(.|correct).
        const bool at_qc = kl_qc_pi < 0.1 * rkl.mean;
        result.rows.push_back(finding_row(
            "SFT ends at q(.|correct), not p*: KL(pi||p*) vs exact KL(q(.|correct)||p*)", tree_name, kBeta, m.label,
            steps, 1, kl_qc_target, kl_pi_target,
            fmt::format("FINDING: {}: KL(q(.|correct)||pi) {} vs KL(p*||pi) {} ({:.0f}x); KL(pi||p*) {} -> "
                        "KL(q(.|correct)||p*) {} ({:.1f}% of it)",
                        at_qc ? "at q(.|correct), away from p*" : "NOT closer to q(.|correct) than to p*",
                        short_num(kl_qc_pi, 3), short_num(rkl.mean, 3), rkl.mean / kl_qc_pi,
                        short_num(kl_pi_target, 4), short_num(kl_qc_target, 4), 100 * kl_pi_target / kl_qc_target),
            fmt::format("accuracy {} (p* {}); P(strategy|correct): pi {}, q(.|correct) {}, p* {}; KL(p*||pi) {} "
                        "(-> inf: p* has mass on incorrect leaves)",
                        short_num(acc.mean, 5), short_num(target_acc, 4), distribution_text(sel.front()->strategies),
                        distribution_text(qc_prob), distribution_text(target_strategies), short_num(rkl.mean, 4))));
        if (m.proposal == "reference") {
          result.rows.back().note +=
              "; with binary rewards pi_ref(.|correct) = p*(.|correct), so only the accuracy differs (1 vs p*'s)";
        }
      }
    }
    {
      // On-policy with one update per batch the ratios are 1, and at a fixed length T the
      // token-mean of A_i grad log pi (GRPO) equals the mean over rows of A_i (1/T) sum_t
      // grad log pi (GSPO): the two runs of a seed coincide.
      int pairs = 0;
      double max_kl = 0, max_h = 0;
      for (const RunResult& a : runs) {
        for (const RunResult& b : runs) {
          if (a.label == "grpo" && b.label == "gspo" && a.seed == b.seed) {
            ++pairs;
            max_kl = std::max(max_kl, std::fabs(a.final.kl_policy_target - b.final.kl_policy_target));
            max_h = std::max(max_h, std::fabs(a.final.strategy_entropy - b.final.strategy_entropy));
          }
        }
      }
      result.summary.push_back(fmt::format(
          "{}: GRPO and GSPO runs of the same seed end equal to rounding ({} pairs: max |diff| of final KL(pi||p*) "
          "{:.2g}, of strategy entropy {:.2g}): on-policy with one update per batch the ratios are 1, and at fixed "
          "length T = 4 GRPO's token-mean equals GSPO's per-row 1/T average, so the two heads give the same gradient",
          tree_name, pairs, max_kl, max_h));
    }
    result.summary.push_back(fmt::format(
        "{}: p* strategy distribution {} (entropy {:.4f}, {} above 1%), accuracy {:.4f}; pi_ref accuracy {:.4f}",
        tree_name, distribution_text(target_strategies), target_h, target_above, target_acc, accuracy(tree, ref)));
  }
  curves.write(options.out_dir, result.name);
  result.config = fmt::format(
      "trees: strategies(masses={}, accuracy={}, horizon=4) tree seeds {}; beta {}; Adam lr {}; {} steps from "
      "pi_ref; grpo/gspo mode=sampled group_size {} training seeds {}..{}; disa-online and sft mode=exact; sft "
      "proposals {}; thresholds: DISA KL(pi||p*) <= {}, SFT KL(q(.|correct)||pi) <= {}; curves in {}_curves.csv",
      kMasses, kAccuracy, braces(tree_seeds), kBeta, kLearningRate, steps, kGroupSize, options.seed,
      options.seed + train_seeds - 1, braces(sft_proposals), kDisaThreshold, kSftThreshold, result.name);
  return result;
}

}  // namespace disa::theory
