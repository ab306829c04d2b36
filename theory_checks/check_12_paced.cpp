// check_12_paced — THEORY.md item 12: "PACED-RL's identity (exact, any policy pi_old,
// target tilted from pi_old): E_{pi_old}[r] = (log Z_old - KL(pi_old || p*_old)) / beta.
// Its practical approximation drops the KL term: report the approximation error."
//
// Exact statements (exit code), on every prompt of a 16-prompt multi_prompt family, at
// pi_ref and at a partly trained policy (disa-online, mode=exact, all prompts, a few
// steps), for beta in {0.5, 1, 2, 4}: E_pi[r] (by the leaf recursion) equals
// (log Z_old - KL(pi || p*_old)) / beta, with Z_old = E_pi[e^{beta r}] and p*_old the tilt
// of pi itself (flows.h log_partition / target_policy on pi, divergences.h kl_divergence).
// Report rows: the approximation error log Z_old/beta - E_pi[r] = KL(pi || p*_old)/beta,
// per prompt at beta 1 and summarised over prompts per beta (hard vs easy prompts).
//
// Findings (training; our selection rule, prompt_selection.h, since PACED-RL's own is not
// public): method=disa-online (mode=sampled, group_size 8, exact frozen log Z) and
// method=grpo (mode=sampled, group_size 8; Adam) on the family (disa-online with Adam and
// with SGD), prompts_per_step 4,
// prompt_selection=uniform against prompt_selection=paced (tau 0.5 and 0.3, width 0.15),
// several training seeds. Targets: disa, mean KL(pi || p*) <= kDisaTargetFraction of its
// value at pi_ref; grpo, mean accuracy >= kGrpoTargetAccuracy. (The grpo target was fixed
// before any run; the disa one was first 25%, which no run of either rule reached in 600
// steps - sampled disa-online at Adam lr 0.05 bottoms out near 40% and then drifts up - and
// was moved to 50% after that pilot. The best mean KL of each run is reported as well.)
// With SGD paced tau 0.5 is ahead early and uniform ends lower (the curves cross near 7000
// samples): the ratio depends on the target; read it with the curves (paced_curves.png).
// The samples (trajectories drawn) at the first step reaching the target, per seed; the
// ratio paced / uniform of the means, and per-seed ratios (seed s against seed s).
// Verdicts: each comparison is a one-sided sign test over the paired seeds, and the family
// is all 9 of them (6 paced vs uniform: disa-online Adam, disa-online SGD, grpo, each at
// tau 0.5 and 0.3; 3 with replay vs without); BETTER only where Holm's step-down adjusted p
// <= 0.05, so the chance of any false BETTER in the run is <= 0.05 (with 9 tests at 0.05 each
// it was ~0.28 with no real difference). Raw and adjusted p are printed.
//
// Run: build/bin/check_12_paced [--out DIR] [--quick] [--seed S]
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

namespace disa::theory {
namespace {

constexpr double kTrainBeta = 1.0;
constexpr double kIdentityTolerance = 1e-12;
constexpr std::int64_t kPrompts = 16;
constexpr std::int64_t kPromptsPerStep = 4;
constexpr std::int64_t kGroupSize = 8;
constexpr std::int64_t kPartialSteps = 20;       // the "partly trained" policy
constexpr double kDisaTargetFraction = 0.5;      // mean KL(pi||p*) <= 50% of its pi_ref value
constexpr double kGrpoTargetAccuracy = 0.75;     // mean accuracy >= 0.75
constexpr std::int64_t kReplayCapacity = 64;     // groups (= 16 steps of 4 prompts)
constexpr std::int64_t kReplayPerStep = 4;       // groups replayed per step, as many as fresh ones

// Each comparison: a one-sided exact sign test over paired seeds (sign_test_p,
// training_checks.h). A seed where only one arm reached the target counts for that arm (the
// other needed more than the budget); ties count for neither. "BETTER" only when fewer
// samples on average and the Holm-adjusted p over the family of all comparisons in the run
// (holm_adjust; 9 in a full run) is <= kFamilyLevel: with 8 seeds and 9 comparisons that
// takes 8 of 8 wins (raw p 1/256, adjusted at most 9/256); 7 of 8 (raw 9/256) passes only as
// the family's largest p with every other comparison 8 of 8 (Holm steps down: its multiplier
// is then 1). Else "NOT DISTINGUISHABLE" when the mean favours the arm, "NOT better" when it does
// not (better_verdict).
constexpr double kFamilyLevel = 0.05;  // family-wise error rate of the BETTER verdicts

const std::map<std::string, std::string>& family_params() {
  static const std::map<std::string, std::string> p = {{"prompts", std::to_string(kPrompts)},
                                                       {"vocab", "3"},
                                                       {"horizon", "4"},
                                                       {"accuracy_min", "0.02"},
                                                       {"accuracy_max", "0.9"}};
  return p;
}

struct Arm {
  std::string method;     // disa-online | grpo
  std::string selection;  // uniform | paced
  double tau = 0.5;
  std::string optimizer = "adam";
  std::string replay = {};  // "" (none) | accuracy_error | uniform: replay_priority (replay_buffer.h)
  std::string label() const { return optimizer == "adam" ? method : method + "/" + optimizer; }
  std::string selection_text() const {
    return selection == "paced" ? fmt::format("paced tau={}", tau) : std::string("uniform");
  }
  std::string group() const {
    const std::string base = fmt::format("{} {}", label(), selection_text());
    return replay.empty() ? base : base + " +replay(" + replay + ")";
  }
};

struct RunOut {
  double samples_to_target = kNaN;  // NaN: not reached
  double best = kNaN;               // min mean KL (disa) / max mean accuracy (grpo) over the run
  double best_samples = 0;
  train::StepMetrics final;
  CurveTable::Run curve;
};

}  // namespace

CheckResult check_12_paced(const CheckOptions& options) {
  const std::vector<Tree> prompts = make_trees("multi_prompt", family_params(), 1);
  const std::vector<double> betas = {0.5, 1.0, 2.0, 4.0};
  const int seeds = options.quick ? 2 : 8;
  const std::int64_t disa_steps = options.quick ? 60 : 400, grpo_steps = options.quick ? 60 : 300;

  CheckResult result;
  result.name = "check_12_paced";
  result.statement = "PACED-RL: E_pi[r] = (log Z_old - KL(pi||p*_old))/beta exactly (p*_old tilted from pi); the "
                     "practical estimate log Z_old/beta errs by KL/beta; paced vs uniform prompt selection "
                     "(THEORY.md item 12)";
  result.finding_meaning = "measured statements about training";

  // 1. The identity, and the dropped term, at pi_ref and at a partly trained policy.
  std::vector<TabularPolicy> ref, trained;
  for (const Tree& t : prompts) ref.push_back(reference_policy(t));
  {
    train::Trainer t(prompts, train::TrainConfig::parse({"method=disa-online", "mode=exact",
                                                         fmt::format("beta={}", kTrainBeta)}));
    for (std::int64_t k = 0; k < kPartialSteps; ++k) t.step();
    for (std::size_t p = 0; p < prompts.size(); ++p) trained.push_back(t.policy(p));
  }
  for (int which = 0; which < 2; ++which) {
    const std::vector<TabularPolicy>& pis = which == 0 ? ref : trained;
    const std::string pi_name =
        which == 0 ? "pi_ref" : fmt::format("disa-online exact after {} steps", kPartialSteps);
    for (double beta : betas) {
      std::vector<double> err(prompts.size()), acc(prompts.size());
      double worst = 0;
      std::size_t worst_p = 0;
      for (std::size_t p = 0; p < prompts.size(); ++p) {
        const Tree& tree = prompts[p];
        const TabularPolicy& pi = pis[p];
        const double log_z_old = log_partition(tree, pi, beta);
        const double kl = kl_divergence(pi, target_policy(tree, pi, beta));
        const double er = expected_reward(tree, pi);
        acc[p] = accuracy(tree, pi);
        err[p] = log_z_old / beta - er;
        if (beta == kTrainBeta) {
          Row r;
          r.quantity = "E_pi[r] = (log Z_old - KL(pi||p*_old))/beta";
          r.tree = fmt::format("multi_prompt prompt {} (acc_ref {})", p, short_num(accuracy(tree, ref[p]), 3));
          r.beta = beta;
          r.proposal = "pi = " + pi_name;
          r.kind = RowKind::kIdentity;
          r.tolerance = kIdentityTolerance;
          r.exact = er;
          r.measured = (log_z_old - kl) / beta;
          r.note = fmt::format("log Z_old {}; KL(pi||p*_old) {}", num(log_z_old), num(kl));
          judge(r);
          result.rows.push_back(r);
          result.rows.push_back(report_row(
              "approximation error log Z_old/beta - E_pi[r] (= KL(pi||p*_old)/beta)", r.tree, beta,
              "pi = " + pi_name, 0, 1, kl / beta, err[p], 0.0,
              fmt::format("accuracy {}, E_pi[r] {}, estimate log Z_old/beta {} (relative error {})",
                          short_num(acc[p], 4), short_num(er, 4), short_num(log_z_old / beta, 4),
                          short_num(err[p] / er, 3))));
        } else {
          // Other betas: one identity row per policy, the prompt with the largest |error|.
          const double d = std::fabs((log_z_old - kl) / beta - er);
          if (d >= worst) worst = d, worst_p = p;
        }
      }
      if (beta != kTrainBeta) {
        const Tree& tree = prompts[worst_p];
        const TabularPolicy& pi = pis[worst_p];
        Row r;
        r.quantity = "E_pi[r] = (log Z_old - KL(pi||p*_old))/beta (worst of 16 prompts)";
        r.tree = fmt::format("multi_prompt prompt {}", worst_p);
        r.beta = beta;
        r.proposal = "pi = " + pi_name;
        r.kind = RowKind::kIdentity;
        r.tolerance = kIdentityTolerance;
        r.exact = expected_reward(tree, pi);
        r.measured = (log_partition(tree, pi, beta) - kl_divergence(pi, target_policy(tree, pi, beta))) / beta;
        judge(r);
        result.rows.push_back(r);
      }
      // Summary over prompts: where the dropped term is large.
      const std::size_t argmax = std::size_t(std::max_element(err.begin(), err.end()) - err.begin());
      const Spread s = spread_of(err);
      result.rows.push_back(report_row(
          "approximation error KL(pi||p*_old)/beta, mean over 16 prompts", "multi_prompt (16 prompts)", beta,
          "pi = " + pi_name, 0, 1, kNaN, s.mean, 0.0,
          fmt::format("hardest prompt (acc {}): {}; easiest (acc {}): {}; max {} at prompt {} (acc {}); range [{}, {}]",
                      short_num(acc.front(), 3), short_num(err.front(), 3), short_num(acc.back(), 3),
                      short_num(err.back(), 3), short_num(err[argmax], 3), argmax, short_num(acc[argmax], 3),
                      short_num(s.min, 3), short_num(s.max, 3))));
    }
  }

  // 2. Sample efficiency: uniform vs paced selection.
  // disa-online with Adam (lr 0.05, the default) and with SGD (lr 0.5, the default). Each
  // prompt has its own optimiser, stepped only when the prompt is selected; Adam normalises
  // each step's size, so the SGD arms show selection with steps that scale with the
  // gradient, as the PACED-RL analysis assumes.
  const std::vector<Arm> arms = {{"disa-online", "uniform"},           {"disa-online", "paced", 0.5},
                                 {"disa-online", "paced", 0.3},        {"disa-online", "uniform", 0.5, "sgd"},
                                 {"disa-online", "paced", 0.5, "sgd"}, {"disa-online", "paced", 0.3, "sgd"},
                                 {"grpo", "uniform"},                  {"grpo", "paced", 0.5},
                                 {"grpo", "paced", 0.3},
                                 // PACED's replay: prioritised by accuracy-estimation error, and
                                 // the uniform-priority ablation, against the same arm without.
                                 {"disa-online", "paced", 0.5, "adam", "accuracy_error"},
                                 {"disa-online", "paced", 0.5, "adam", "uniform"},
                                 {"disa-online", "uniform", 0.5, "adam", "accuracy_error"}};
  double kl_ref = 0, acc_ref = 0;
  for (std::size_t p = 0; p < prompts.size(); ++p) {
    kl_ref += kl_divergence(ref[p], target_policy(prompts[p], ref[p], kTrainBeta)) / double(prompts.size());
    acc_ref += accuracy(prompts[p], ref[p]) / double(prompts.size());
  }
  const double disa_target = kDisaTargetFraction * kl_ref;
  struct Spec {
    std::size_t arm;
    int seed;
  };
  std::vector<Spec> specs;
  for (std::size_t a = 0; a < arms.size(); ++a) {
    for (int s = 0; s < seeds; ++s) specs.push_back({a, s});
  }
  std::vector<RunOut> outs(specs.size());
#pragma omp parallel for schedule(dynamic, 1)
  for (std::int64_t i = 0; i < std::int64_t(specs.size()); ++i) {
    const Arm& arm = arms[specs[i].arm];
    const std::uint64_t seed = options.seed + std::uint64_t(specs[i].seed);
    const std::int64_t steps = arm.method == "disa-online" ? disa_steps : grpo_steps;
    std::vector<std::string> settings = {"method=" + arm.method,
                                         "mode=sampled",
                                         fmt::format("beta={}", kTrainBeta),
                                         fmt::format("group_size={}", kGroupSize),
                                         fmt::format("steps={}", steps),
                                         fmt::format("seed={}", seed),
                                         "prompt_selection=" + arm.selection,
                                         "optimizer=" + arm.optimizer,
                                         fmt::format("prompts_per_step={}", kPromptsPerStep)};
    if (arm.selection == "paced") settings.push_back(fmt::format("paced_target={}", arm.tau));
    if (!arm.replay.empty()) {
      settings.insert(settings.end(), {fmt::format("replay_capacity={}", kReplayCapacity),
                                       fmt::format("replay_per_step={}", kReplayPerStep),
                                       "replay_priority=" + arm.replay});
    }
    train::Trainer trainer(prompts, train::TrainConfig::parse(settings));
    RunOut& o = outs[i];
    o.curve = {fmt::format("{}/seed={}", arm.group(), seed), arm.group(), "multi_prompt", seed, {}};
    const bool disa = arm.method == "disa-online";
    auto observe = [&](const train::StepMetrics& m, std::int64_t k) {
      if (record_step(k, steps)) o.curve.points.push_back({m, {m.samples, m.paced_accuracy_error}});
      const bool reached = disa ? m.kl_policy_target <= disa_target : m.accuracy >= kGrpoTargetAccuracy;
      if (reached && std::isnan(o.samples_to_target)) o.samples_to_target = m.samples;
      const double v = disa ? m.kl_policy_target : m.accuracy;
      if (std::isnan(o.best) || (disa ? v < o.best : v > o.best)) o.best = v, o.best_samples = m.samples;
    };
    observe(trainer.metrics(), 0);
    for (std::int64_t k = 1; k <= steps; ++k) observe(trainer.step(), k);
    o.final = trainer.metrics();
  }
  CurveTable curves({"samples", "paced_accuracy_error"});
  for (const RunOut& o : outs) curves.add(o.curve);
  std::map<std::size_t, std::vector<double>> reached;  // per arm, per seed (NaN: not reached)
  struct Comparison {
    std::size_t row;  // its finding row in result.rows
    std::string label, head;
    double ratio_of_means;
    int wins, losses;
    double p_raw;
  };
  std::vector<Comparison> comparisons;  // the family the Holm adjustment runs over
  for (std::size_t i = 0; i < specs.size(); ++i) reached[specs[i].arm].push_back(outs[i].samples_to_target);
  for (std::size_t a = 0; a < arms.size(); ++a) {
    const Arm& arm = arms[a];
    const bool disa = arm.method == "disa-online";
    const std::int64_t steps = disa ? disa_steps : grpo_steps;
    const double budget = double(steps * kPromptsPerStep * kGroupSize);
    std::vector<double> got, finals, pae, best, best_at;
    for (std::size_t i = 0; i < specs.size(); ++i) {
      if (specs[i].arm != a) continue;
      if (!std::isnan(outs[i].samples_to_target)) got.push_back(outs[i].samples_to_target);
      finals.push_back(disa ? outs[i].final.kl_policy_target : outs[i].final.accuracy);
      pae.push_back(outs[i].final.paced_accuracy_error);
      best.push_back(outs[i].best);
      best_at.push_back(outs[i].best_samples);
    }
    const Spread s = spread_of(got);
    const std::string target_text =
        disa ? fmt::format("mean KL(pi||p*) <= {} (= {} x its pi_ref value {})", short_num(disa_target, 4),
                           kDisaTargetFraction, short_num(kl_ref, 4))
             : fmt::format("mean accuracy >= {} (pi_ref: {})", kGrpoTargetAccuracy, short_num(acc_ref, 4));
    result.rows.push_back(report_row(
        "samples to reach the target", "multi_prompt (16 prompts)", kTrainBeta, arm.group(), steps, seeds, kNaN,
        got.empty() ? kNaN : s.mean, s.se,
        fmt::format("target {}; reached in {}/{} seeds within {} samples; mean [min, max] {}; final {} {}; best {} {} at {} samples; "
                    "final mean log Z_old/beta - E_pi[r] {}",
                    target_text, got.size(), seeds, budget, got.empty() ? "-" : s.text(),
                    disa ? "KL(pi||p*)" : "accuracy", spread_of(finals).text(), disa ? "KL(pi||p*)" : "accuracy",
                    spread_of(best).text(), spread_of(best_at).text(), spread_of(pae).text())));
    if (arm.selection != "paced" && arm.replay.empty()) continue;
    // Paired by seed index: a paced arm against the uniform arm of the same method; a replay
    // arm against the same arm without replay.
    std::size_t u = 0;
    for (std::size_t b = 0; b < arms.size(); ++b) {
      const bool baseline = arm.replay.empty()
                                ? arms[b].label() == arm.label() && arms[b].selection == "uniform" && arms[b].replay.empty()
                                : arms[b].label() == arm.label() && arms[b].selection == arm.selection &&
                                      arms[b].tau == arm.tau && arms[b].replay.empty();
      if (baseline) u = b;
    }
    const std::string name = arm.replay.empty() ? fmt::format("paced (tau {})", arm.tau) : arm.group();
    const std::string base_name = arm.replay.empty() ? std::string("uniform") : arms[u].group();
    std::vector<double> ratios;
    int better = 0, worse = 0, both = 0, paced_only = 0, uniform_only = 0;
    for (int sd = 0; sd < seeds; ++sd) {
      const double pu = reached[u][sd], pp = reached[a][sd];
      if (!std::isnan(pu) && !std::isnan(pp)) {
        ++both;
        ratios.push_back(pp / pu);
        better += pp < pu;
        worse += pp > pu;
      } else if (!std::isnan(pp)) {
        ++paced_only;
      } else if (!std::isnan(pu)) {
        ++uniform_only;
      }
    }
    std::vector<double> ru, rp;
    for (double v : reached[u]) if (!std::isnan(v)) ru.push_back(v);
    for (double v : reached[a]) if (!std::isnan(v)) rp.push_back(v);
    const double ratio_of_means = (ru.empty() || rp.empty()) ? kNaN : spread_of(rp).mean / spread_of(ru).mean;
    const Spread rs = spread_of(ratios);
    // The verdict's head; its tail (better_verdict) waits for the whole family's p-values.
    std::string verdict;
    if (rp.empty() && !ru.empty()) {
      verdict = fmt::format(
          "FINDING: {} NEVER reached the target within {} samples (0/{} seeds); {} did in {}/{} "
          "seeds (mean {} samples)",
          name, budget, seeds, base_name, ru.size(), seeds, short_num(spread_of(ru).mean, 4));
    } else if (std::isnan(ratio_of_means)) {
      verdict = fmt::format("FINDING: no comparison (target reached by {} in {}/{} seeds, {} in {}/{})", name,
                            rp.size(), seeds, base_name, ru.size(), seeds);
    } else {
      verdict = fmt::format(
          "FINDING: {} needs {}x the samples of {} (ratio of means; per-seed ratios {}); fewer samples in {}/{} "
          "paired seeds{}{}",
          name, short_num(ratio_of_means, 3), base_name, rs.text(), better, both,
          paced_only ? fmt::format("; only {} reached it in {} seeds", name, paced_only) : "",
          uniform_only ? fmt::format("; only {} reached it in {} seeds", base_name, uniform_only) : "");
    }
    const int wins = better + paced_only, losses = worse + uniform_only;
    comparisons.push_back({result.rows.size(), fmt::format("{} vs {}", arm.group(), arms[u].group()), verdict,
                           ratio_of_means, wins, losses, sign_test_p(wins, losses)});
    if (arm.replay.empty()) {
      result.rows.push_back(finding_row("samples to target, paced / uniform", "multi_prompt (16 prompts)", kTrainBeta,
                                        fmt::format("{} paced tau={} vs uniform", arm.label(), arm.tau), steps, seeds,
                                        1.0, ratio_of_means, verdict,
                                        "our selection rule (prompt_selection.h: Gaussian weight on log Z_old/beta "
                                        "around tau, width 0.15); PACED-RL's own is not public"));
    } else {
      result.rows.push_back(finding_row(
          "samples to target, with replay / without", "multi_prompt (16 prompts)", kTrainBeta,
          fmt::format("{} vs {}", arm.group(), arms[u].group()), steps, seeds, 1.0, ratio_of_means, verdict,
          fmt::format("replay_buffer.h: {} groups kept, {} replayed per step beside {} fresh; priority {}", kReplayCapacity,
                      kReplayPerStep, kPromptsPerStep,
                      arm.replay == "uniform" ? "uniform (ablation)"
                                              : "|log Z_old/beta - group accuracy| (accuracy-estimation error)")));
    }
  }
  // Holm's step-down adjustment over every comparison of the run; the verdicts read the adjusted p.
  {
    std::vector<double> raw;
    for (const Comparison& c : comparisons) raw.push_back(c.p_raw);
    const std::vector<double> adjusted = holm_adjust(raw);
    std::string listing;
    for (std::size_t i = 0; i < comparisons.size(); ++i) {
      const Comparison& c = comparisons[i];
      result.rows[c.row].verdict =
          c.head + " - " +
          better_verdict(c.ratio_of_means, c.wins, c.losses, c.p_raw, adjusted[i], comparisons.size(), kFamilyLevel);
      listing += fmt::format("{}{} {}-{}: p {:.3g}, adjusted {:.3g}", i ? "; " : "", c.label, c.wins, c.losses, c.p_raw,
                             adjusted[i]);
    }
    result.summary.push_back(fmt::format(
        "BETTER verdicts: one-sided sign tests over paired seeds, Holm-adjusted over the family of all {} comparisons "
        "(paced vs uniform per method and optimiser, replay vs none), family-wise level {}: {}",
        comparisons.size(), kFamilyLevel, listing));
  }
  curves.write(options.out_dir, result.name);
  {
    std::vector<double> accs;
    for (std::size_t p = 0; p < prompts.size(); ++p) accs.push_back(std::round(accuracy(prompts[p], ref[p]) * 1e4) / 1e4);
    result.summary.push_back(fmt::format("reference accuracies of the 16 prompts: {}", braces(accs)));
  }
  result.config = fmt::format(
      "family multi_prompt(prompts={}, vocab 3, horizon 4, accuracy 0.02..0.9), seed 1; identity at beta {} (all "
      "prompts at beta {}, the worst prompt at the others), pi = pi_ref and disa-online mode=exact after {} steps, "
      "tolerance {:g}; training: beta {}, Adam lr 0.05 (disa-online also SGD lr 0.5), mode=sampled group_size {}, "
      "prompts_per_step {}, {} steps (disa) / {} (grpo), seeds {}..{}, prompt_selection uniform | paced (tau 0.5, 0.3; "
      "width 0.15); replay (disa-online Adam): {} groups kept, {} replayed per step, priority accuracy_error | "
      "uniform; targets: grpo mean accuracy >= {} (fixed in advance), disa mean KL(pi||p*) <= {} x pi_ref's (moved "
      "from 0.25 after a pilot in which no run reached 0.25); BETTER: one-sided sign tests, Holm-adjusted over all "
      "comparisons, family-wise level {}; curves (with samples) in {}_curves.csv",
      kPrompts, braces(betas), kTrainBeta, kPartialSteps, kIdentityTolerance, kTrainBeta, kGroupSize, kPromptsPerStep,
      disa_steps, grpo_steps, options.seed, options.seed + seeds - 1, kReplayCapacity, kReplayPerStep,
      kGrpoTargetAccuracy, kDisaTargetFraction, kFamilyLevel, result.name);
  return result;
}

}  // namespace disa::theory
