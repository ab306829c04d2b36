// disa anchor: write the per-prompt anchor file (src/anchor.h), one frozen
// log Zhat record per prompt, either by sampling a proposal on a tree (set) or
// from proposal samples already on disk.
//
//   disa anchor --tree set.json --beta 4 --proposal tilted:lambda=0.5 --samples 256 --seed 1 --out anchors.jsonl
//     prompt p (ids "0", "1", ... in the set's order) uses trajectories p N .. p N + N - 1
//     of the seed's stream: `disa tree sample --prompt p --first p*N --n N` gives the same samples.
//   disa anchor --samples-file s.jsonl --beta 4 --out anchors.jsonl
//     s.jsonl as `disa tree sample` writes it: log_prob = log q(y), log_ref, reward per line
//     (both log-probabilities <= 0); an optional "prompt" (string or integer: 5 and "5" are
//     one prompt) groups lines, in order of first appearance (default: one prompt, "0").
// log w = log_ref - log_prob + beta reward (THEORY.md, "Importance-sampled partition function").
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "src/anchor.h"
#include "src/cli/commands.h"
#include "src/cli/option_checks.h"
#include "src/cli/output.h"
#include "src/cli/tree_checks.h"
#include "src/input_error.h"
#include "src/input_file.h"
#include "src/is_estimator.h"
#include "src/json_strict.h"
#include "src/output_folder.h"
#include "toy_envs/flows.h"
#include "toy_envs/leaf_distribution.h"
#include "toy_envs/proposals.h"
#include "toy_envs/sampler.h"
#include "toy_envs/tree_json.h"

namespace disa::cli {
namespace {

struct Args {
  std::string tree;
  std::string samples_file;
  std::optional<double> beta;
  std::string proposal;
  std::optional<std::int64_t> samples;
  std::optional<std::uint64_t> seed;
  std::string out;
  bool bootstrap = false;
};

// Log-weights of all prompts, flat, with segment offsets.
struct Weights {
  std::vector<std::string> prompt;    // [P]
  std::vector<std::int64_t> offset;   // [P + 1]
  std::vector<double> log_w;          // [total samples]
  std::vector<double> log_z_exact;    // [P] (tree mode only)
  std::vector<double> hole_mass;      // [P] p* mass where q = 0 (tree mode only)
  std::vector<double> max_reward;     // [P] the largest reward among the prompt's samples
};

// Trajectories per sampler call: large enough that the call's threads stay busy, small
// enough that a progress line moves every fraction of a second.
constexpr std::int64_t kSampleChunk = std::int64_t{1} << 18;

Weights weights_from_tree(const Args& a, const PolicySpec& spec) {
  if (!a.samples) throw InputError("--samples: required with --tree");
  if (!a.seed) throw InputError("--seed: required with --tree");
  const std::int64_t n = *a.samples;
  const std::vector<Tree> trees = load_trees(a.tree);
  for (std::size_t p = 0; p < trees.size(); ++p) {
    check_tilt_is_finite(trees[p], *a.beta, tree_name(a.tree, p, trees.size()));
  }
  Weights w;
  w.offset.push_back(0);
  Progress progress("anchor");
  const double total = static_cast<double>(n) * static_cast<double>(trees.size());
  for (std::size_t p = 0; p < trees.size(); ++p) {
    const Tree& tree = trees[p];
    check_sample_batch_fits(tree, n, "--samples");
    const std::vector<double> leaf_log_ref = leaf_log_probs(reference_policy(tree));
    const TabularPolicy q = make_policy(tree, *a.beta, spec);
    const AliasSampler sampler(q);
    double max_reward = -INFINITY;
    // In chunks, for the progress line of a long run: trajectory i has its own counter
    // stream, so chunks [first, first + m) give the same samples as one call.
    for (std::int64_t begin = 0; begin < n; begin += kSampleChunk) {
      const std::int64_t m = std::min(kSampleChunk, n - begin);
      const SampleBatch batch = sampler.sample(*a.seed, m, static_cast<std::int64_t>(p) * n + begin);
      for (std::int64_t i = 0; i < m; ++i) {
        const std::int64_t leaf = batch.leaf[i];
        w.log_w.push_back(leaf_log_ref[leaf] - batch.log_prob[i] + *a.beta * tree.reward[leaf]);
        max_reward = std::max(max_reward, tree.reward[leaf]);
      }
      progress.update((static_cast<double>(p) * n + static_cast<double>(begin + m)) / total,
                      fmt::format("prompt {}/{}: {} of {} samples", p + 1, trees.size(), begin + m, n));
    }
    w.max_reward.push_back(max_reward);
    w.prompt.push_back(std::to_string(p));
    w.offset.push_back(static_cast<std::int64_t>(w.log_w.size()));
    const double log_z = log_partition(tree, *a.beta);
    w.log_z_exact.push_back(log_z);
    // THEORY.md item 6: a q with zero mass where p* has mass biases Zhat by exactly that
    // mass, and no sample can show it; the tree knows it.
    const std::vector<double> leaf_log_q = leaf_log_probs(q);
    double hole = 0.0;
    for (std::size_t y = 0; y < leaf_log_q.size(); ++y) {
      if (leaf_log_q[y] == -INFINITY) hole += std::exp(leaf_log_ref[y] + *a.beta * tree.reward[y] - log_z);
    }
    w.hole_mass.push_back(hole);
  }
  return w;
}

double number_field(const nlohmann::json& j, const char* key, const std::string& where) {
  const auto it = j.find(key);
  if (it == j.end()) throw InputError(fmt::format("{}: missing \"{}\"", where, key));
  if (!it->is_number()) {
    throw InputError(fmt::format("{}: \"{}\" must be a number, got {}", where, key, json_excerpt(*it)));
  }
  const double x = it->get<double>();
  if (!std::isfinite(x)) throw InputError(fmt::format("{}: \"{}\" must be finite", where, key));
  return x;
}

// A log-probability: a number <= 0 (a positive one is no probability, and would inflate
// every weight of its prompt).
double log_probability_field(const nlohmann::json& j, const char* key, const std::string& where) {
  const double x = number_field(j, key, where);
  if (x > 0.0) {
    throw InputError(fmt::format("{}: \"{}\" is a log-probability, must be <= 0, got {}", where, key, num(x)));
  }
  return x;
}

Weights weights_from_file(const Args& a) {
  refuse_folder_input(a.samples_file, "--samples-file");
  std::ifstream in(a.samples_file);
  if (!in) throw InputError(fmt::format("--samples-file: cannot open '{}'", a.samples_file));
  std::vector<std::string> order;
  std::map<std::string, std::vector<double>> by_prompt;
  std::map<std::string, double> max_reward;
  std::string line;
  std::int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = fmt::format("{}:{}", a.samples_file, line_no);
    nlohmann::json j;
    try {
      j = parse_json_strict(line, where);
    } catch (const nlohmann::json::exception& e) {
      throw InputError(fmt::format("{}: not JSON ({})", where, e.what()));
    }
    if (!j.is_object()) throw InputError(fmt::format("{}: expected a JSON object", where));
    std::string prompt = "0";
    if (const auto it = j.find("prompt"); it != j.end()) {
      if (it->is_string()) {
        prompt = it->get<std::string>();
      } else if (it->is_number_integer()) {
        // Its JSON text: exact for every integer JSON holds, where an int64 would wrap
        // 18446744073709551615 to -1 and pool it with prompt -1.
        prompt = it->dump();
      } else {
        throw InputError(
            fmt::format("{}: \"prompt\" must be a string or an integer, got {}", where, json_excerpt(*it)));
      }
    }
    const double log_q = log_probability_field(j, "log_prob", where);
    const double log_ref = log_probability_field(j, "log_ref", where);
    const double reward = number_field(j, "reward", where);
    const double log_w = log_ref - log_q + *a.beta * reward;
    if (!std::isfinite(log_w)) {
      throw InputError(fmt::format("{}: log w = log_ref - log_prob + beta reward = {} - ({}) + {} * {} overflows a "
                                   "double",
                                   where, num(log_ref), num(log_q), num(*a.beta), num(reward)));
    }
    auto [it, inserted] = by_prompt.try_emplace(prompt);
    if (inserted) order.push_back(prompt), max_reward[prompt] = reward;
    it->second.push_back(log_w);
    max_reward[prompt] = std::max(max_reward[prompt], reward);
  }
  check_read_completed(in, a.samples_file, "--samples-file");
  if (order.empty()) throw InputError(fmt::format("--samples-file: '{}' holds no samples", a.samples_file));
  Weights w;
  w.offset.push_back(0);
  for (const std::string& p : order) {
    const std::vector<double>& v = by_prompt[p];
    w.log_w.insert(w.log_w.end(), v.begin(), v.end());
    w.prompt.push_back(p);
    w.offset.push_back(static_cast<std::int64_t>(w.log_w.size()));
    w.max_reward.push_back(max_reward[p]);
  }
  return w;
}

void run_anchor(const Args& a) {
  if (a.tree.empty() == a.samples_file.empty()) {
    throw InputError("--tree, --samples-file: give exactly one (a tree to sample, or samples already drawn)");
  }
  if (!a.beta) throw InputError("--beta: required");
  check_positive_beta(*a.beta, "--beta");
  prepare_output_file(a.out, "--out");
  refuse_output_over_input(a.out, "--out", a.tree, "--tree");
  refuse_output_over_input(a.out, "--out", a.samples_file, "--samples-file");
  std::string proposal = a.proposal;
  Weights w;
  if (!a.tree.empty()) {
    if (a.proposal.empty()) throw InputError("--proposal: required with --tree");
    const PolicySpec spec = parse_policy_spec(a.proposal, "--proposal");
    if (spec.kind == PolicySpec::Kind::kFile) refuse_output_over_input(a.out, "--out", spec.path, "--proposal");
    proposal = spec.text;
    w = weights_from_tree(a, spec);
  } else {
    if (a.samples) throw InputError("--samples: only with --tree (a samples file has its own count)");
    if (proposal.empty()) proposal = "samples-file:" + a.samples_file;
    w = weights_from_file(a);
  }
  IsOptions options;
  options.bootstrap = a.bootstrap;
  options.bootstrap_seed = a.seed.value_or(0);
  std::vector<IsEstimate> estimates = estimate_log_partition_segmented(w.log_w, w.offset, options, w.prompt);
  for (std::size_t p = 0; p < w.hole_mass.size(); ++p) {
    if (w.hole_mass[p] > 0.0) estimates[p].flags.push_back(std::string(kProposalMissesTargetMass));
  }
  // As the LLM pipeline's anchor stage: a prompt none of whose samples was rewarded has an
  // anchor that only reflects the proposal ratio (src/is_estimator.h, kNoRewardObserved).
  for (std::size_t p = 0; p < estimates.size(); ++p) {
    if (estimates[p].n > 1 && w.max_reward[p] <= 0.0) estimates[p].flags.push_back(std::string(kNoRewardObserved));
  }
  std::vector<AnchorRecord> anchors;
  for (std::size_t p = 0; p < estimates.size(); ++p) {
    anchors.push_back(make_anchor(w.prompt[p], estimates[p], proposal, *a.beta, a.seed.value_or(0)));
  }
  save_anchors(anchors, a.out);
  // Summary table.
  const bool exact = !w.log_z_exact.empty();
  std::printf("%s\n", fmt::format("{:<10} {:>6} {:>12} {:>12} {:>8} {:>7}  {}", "prompt", "N", "log_Zhat",
                                  exact ? "log_Z exact" : "", "ESS/N", "k_hat", "flags")
                          .c_str());
  int flagged = 0;
  for (std::size_t p = 0; p < estimates.size(); ++p) {
    const IsEstimate& e = estimates[p];
    std::string flags;
    for (const std::string& f : e.flags) flags += (flags.empty() ? "" : ",") + f;
    flagged += !e.reliable();
    std::printf("%s\n", fmt::format("{:<10} {:>6} {:>12.6g} {:>12} {:>8.4f} {:>7}  {}", w.prompt[p], e.n, e.log_z_hat,
                                    exact ? fmt::format("{:.6g}", w.log_z_exact[p]) : "", e.ess_fraction,
                                    std::isfinite(e.k_hat) ? fmt::format("{:.3f}", e.k_hat) : "n/a",
                                    flags.empty() ? "-" : flags)
                            .c_str());
  }
  for (std::size_t p = 0; p < w.hole_mass.size(); ++p) {
    if (w.hole_mass[p] > 0.0) {
      std::printf("%s\n", fmt::format("prompt {}: the proposal has zero probability where p* has mass {:.4g} (chi2 = "
                                      "inf): E[Zhat] = Z (1 - {:.4g}), a bias no sample shows",
                                      w.prompt[p], w.hole_mass[p], w.hole_mass[p])
                              .c_str());
    }
  }
  std::printf("wrote %s: %zu anchor(s), proposal %s, beta %s; %d unreliable\n", a.out.c_str(), anchors.size(),
              proposal.c_str(), num(*a.beta).c_str(), flagged);
}

}  // namespace

void add_anchor_command(CLI::App& app) {
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "anchor", "Write the per-prompt anchor file (JSONL, one log Zhat record per prompt) from a tree (set) and a "
                "proposal, or from proposal samples");
  cmd->add_option("--tree", args->tree, "Tree file or disa-tree-set: one anchor per tree, prompt ids 0, 1, ...");
  cmd->add_option("--samples-file", args->samples_file,
                  "JSONL of proposal samples (as `disa tree sample` writes: log_prob, log_ref, reward; optional "
                  "prompt)");
  cmd->add_option("--beta", args->beta, "Inverse temperature beta")->required();
  cmd->add_option("--proposal", args->proposal,
                  "Proposal SPEC to sample (with --tree); with --samples-file, a label recorded in the file");
  cmd->add_option("--samples", args->samples, "Samples N per prompt (with --tree)")
      ->check(integer_in(1, std::int64_t{1} << 40));
  cmd->add_option("--seed", args->seed, "Seed of the counter-based RNG (with --tree; recorded otherwise)");
  cmd->add_option("--out", args->out, "Output anchor file (.jsonl), written atomically")->required();
  cmd->add_flag("--bootstrap", args->bootstrap, "Percentile-bootstrap CI (1000 resamples) instead of the delta method");
  cmd->callback([args] { run_anchor(*args); });
}

}  // namespace disa::cli
