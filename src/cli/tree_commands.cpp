// disa tree {generate, info, sample, families}: make, inspect and sample exact trees.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "src/atomic_file.h"
#include "src/cli/commands.h"
#include "src/cli/option_checks.h"
#include "src/cli/output.h"
#include "src/cli/tree_checks.h"
#include "src/input_error.h"
#include "src/json_number.h"
#include "src/key_value_list.h"
#include "src/log_sum_exp.h"
#include "src/output_folder.h"
#include "toy_envs/divergences.h"
#include "toy_envs/families/family.h"
#include "toy_envs/flows.h"
#include "toy_envs/leaf_distribution.h"
#include "toy_envs/paced.h"
#include "toy_envs/proposals.h"
#include "toy_envs/sampler.h"
#include "toy_envs/tree_json.h"

namespace disa::cli {
namespace {

using nlohmann::ordered_json;

bool has_binary_rewards(const Tree& tree) {
  for (double r : tree.reward) {
    if (r != 0.0 && r != 1.0) return false;
  }
  return true;
}

// Everything `tree info` reports for one tree, as an ordered JSON object.
ordered_json describe_tree(const Tree& tree, double beta, const std::optional<PolicySpec>& proposal) {
  const TabularPolicy ref = reference_policy(tree);
  const TabularPolicy target = target_policy(tree, ref, beta);
  const double log_z = log_partition(tree, ref, beta);
  const double acc = accuracy(tree, ref);
  ordered_json j;
  j["log_Z"] = log_z;
  j["accuracy"] = acc;
  j["num_leaves"] = tree.shape.num_leaves();
  j["num_internal"] = tree.shape.num_internal();
  j["vocab"] = tree.shape.vocab();
  j["horizon"] = tree.shape.horizon();
  j["eos"] = tree.shape.has_eos() ? ordered_json(tree.shape.eos()) : ordered_json(nullptr);
  j["beta"] = beta;
  j["expected_reward"] = expected_reward(tree, ref);
  j["reference_entropy"] = entropy(ref);
  j["target_accuracy"] = accuracy(tree, target);
  j["target_entropy"] = entropy(target);
  j["kl_reference_target"] = kl_divergence(ref, target);
  j["kl_target_reference"] = kl_divergence(target, ref);
  j["chi2_target_reference"] = chi_square_divergence(target, ref).value;
  if (has_binary_rewards(tree)) {
    // Z = 1 + (e^beta - 1) acc = (1 - acc) + acc e^beta, in log space.
    j["log_Z_binary_closed_form"] = log_add_exp(std::log1p(-acc), std::log(acc) + beta);
  }
  if (beta != 0.0) j["paced_approx_error"] = paced_quantities(tree, ref, beta).approx_error;
  if (tree.num_strategies() > 0) {
    j["num_strategies"] = tree.num_strategies();
    j["reference_strategies_among_correct"] = strategy_distribution_among_correct(tree, ref);
    j["target_strategies_among_correct"] = strategy_distribution_among_correct(tree, target);
  }
  if (proposal) {
    const TabularPolicy q = make_policy(tree, beta, *proposal);
    const ChiSquare chi2 = chi_square_divergence(target, q);
    j["proposal"] = proposal->text;
    j["chi2"] = chi2.value;
    j["log1p_chi2"] = chi2.log1p_value;
    j["expected_ess_fraction"] = chi2.expected_ess_fraction();
    j["kl_target_proposal"] = kl_divergence(target, q);
    j["proposal_accuracy"] = accuracy(tree, q);
  }
  return j;
}

std::string text_value(const ordered_json& v) {
  if (v.is_number_float()) return num(v.get<double>());
  if (v.is_array()) {
    std::vector<std::string> parts;
    for (const auto& x : v) parts.push_back(text_value(x));
    return fmt::format("[{}]", fmt::join(parts, ", "));
  }
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

// JSON numbers cannot be inf/nan; write them as strings so nothing is lost.
ordered_json json_safe(const ordered_json& v) {
  if (v.is_number_float()) return to_json_number(v.get<double>());
  if (v.is_array() || v.is_object()) {
    ordered_json out = v;
    for (auto& x : out) x = json_safe(x);
    return out;
  }
  return v;
}

void add_generate(CLI::App& tree) {
  struct Args {
    std::string family;
    std::vector<std::string> sets;
    std::uint64_t seed = 0;
    std::string out;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = tree.add_subcommand("generate", "Make a tree (or a set of trees) from a named family");
  cmd->add_option("--family", args->family, "Family name (see `disa tree families`)")->required();
  cmd->add_option("--set", args->sets, "Family parameter key=value (repeatable)");
  cmd->add_option("--seed", args->seed, "Seed of the counter-based RNG")->required();
  cmd->add_option("--out", args->out, "Output file: .json (interchange) or .dtree (binary, large trees)")->required();
  cmd->callback([args] {
    prepare_output_file(args->out, "--out");
    const std::vector<Tree> trees = make_trees(args->family, parse_key_values("--set", args->sets), args->seed);
    save_trees(trees, args->out);
    std::int64_t leaves = 0;
    for (const Tree& t : trees) leaves += t.shape.num_leaves();
    std::printf("wrote %s: %zu tree(s), %s, %lld leaves\n", args->out.c_str(), trees.size(),
                trees[0].shape.describe().c_str(), static_cast<long long>(leaves));
  });
}

void add_info(CLI::App& tree) {
  struct Args {
    std::string path;
    double beta = 0.0;
    std::string proposal;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = tree.add_subcommand("info", "Exact quantities of a tree: log Z, accuracy, KLs, chi2 of a proposal");
  cmd->add_option("--tree", args->path, "Tree file (.json, a disa-tree-set, or .dtree)")->required();
  cmd->add_option("--beta", args->beta, "Inverse temperature beta of the target p* ∝ pi_ref exp(beta r)")->required();
  cmd->add_option("--proposal", args->proposal,
                  "Proposal SPEC: reference, target, tilted:lambda=L, interp:lambda=L, mixture:eps=E, file:PATH");
  cmd->add_flag("--json", args->json, "One JSON object per tree (JSONL for a set)");
  cmd->callback([args, cmd] {
    check_positive_beta(args->beta, "--beta");
    // Given empty (an unset shell variable), it ran with no proposal at all, exit 0.
    if (cmd->count("--proposal") > 0 && args->proposal.empty()) {
      throw InputError("--proposal: empty; give a SPEC (reference, target, tilted:lambda=L, ...) or leave it out");
    }
    std::optional<PolicySpec> proposal;
    if (!args->proposal.empty()) proposal = parse_policy_spec(args->proposal, "--proposal");
    const std::vector<Tree> trees = load_trees(args->path);
    for (std::size_t i = 0; i < trees.size(); ++i) {
      check_tilt_is_finite(trees[i], args->beta, tree_name(args->path, i, trees.size()));
    }
    for (std::size_t i = 0; i < trees.size(); ++i) {
      ordered_json j = describe_tree(trees[i], args->beta, proposal);
      if (trees.size() > 1) {
        ordered_json with_prompt;
        with_prompt["prompt"] = i;
        for (auto& [k, v] : j.items()) with_prompt[k] = v;
        j = std::move(with_prompt);
      }
      if (args->json) {
        std::cout << json_safe(j).dump() << '\n';
      } else {
        if (i) std::cout << '\n';
        for (auto& [k, v] : j.items()) std::cout << fmt::format("{:<36} {}\n", k, text_value(v));
      }
    }
  });
}

void add_sample(CLI::App& tree) {
  struct Args {
    std::string path;
    std::string policy = "reference";
    std::int64_t n = 0;
    std::uint64_t seed = 0;
    std::optional<double> beta;
    std::string out;
    std::string format = "jsonl";
    std::size_t prompt = 0;
    std::int64_t first = 0;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = tree.add_subcommand("sample", "Sample trajectories from a policy on a tree");
  cmd->add_option("--tree", args->path, "Tree file")->required();
  cmd->add_option("--policy", args->policy, "Policy SPEC (reference, target, tilted:lambda=L, ...)");
  cmd->add_option("--n", args->n, "Number of trajectories")->required()->check(integer_in(1, std::int64_t{1} << 40));
  cmd->add_option("--seed", args->seed, "Seed of the counter-based RNG")->required();
  cmd->add_option("--beta", args->beta, "Inverse temperature (needed by target, tilted, interp, mixture)");
  cmd->add_option("--prompt", args->prompt, "Which tree of a disa-tree-set (0-based)");
  cmd->add_option("--first", args->first,
                  "Index of the first trajectory: --first K --n M continues the stream of --first 0 --n K")
      ->check(integer_at_least(0));
  cmd->add_option("--out", args->out, "Output file (default: standard output)");
  cmd->add_option("--format", args->format, "jsonl or csv")->check(CLI::IsMember({"jsonl", "csv"}));
  cmd->callback([args] {
    const PolicySpec spec = parse_policy_spec(args->policy, "--policy");
    const bool needs_beta = spec.kind != PolicySpec::Kind::kReference && spec.kind != PolicySpec::Kind::kFile;
    if (needs_beta && !args->beta) {
      throw InputError(fmt::format("--beta: required for policy '{}'", args->policy));
    }
    // Accepted and ignored, it would look like a setting of the draws it is not.
    if (!needs_beta && args->beta) {
      throw InputError(
          fmt::format("--beta: policy '{}' does not depend on beta (only target, tilted, interp and "
                      "mixture do); leave --beta out",
                      args->policy));
    }
    if (args->beta) check_positive_beta(*args->beta, "--beta");
    // Indices first .. first + n - 1 are printed and key the RNG's counters: past INT64_MAX
    // they would wrap to negative numbers (signed overflow). The last index may be INT64_MAX
    // itself (first + n - 1 <= INT64_MAX; n >= 1, so INT64_MAX - (n - 1) does not overflow).
    if (args->first > INT64_MAX - (args->n - 1)) {
      throw InputError(fmt::format("--first: {} + --n {} passes the largest trajectory index {}; use --first <= {}",
                                   args->first, args->n, INT64_MAX, INT64_MAX - (args->n - 1)));
    }
    if (!args->out.empty()) {
      prepare_output_file(args->out, "--out");
      refuse_output_over_input(args->out, "--out", args->path, "--tree");
      if (spec.kind == PolicySpec::Kind::kFile) refuse_output_over_input(args->out, "--out", spec.path, "--policy");
    }
    const double beta = args->beta.value_or(0.0);  // unused by reference and file policies (refused above)
    std::vector<Tree> trees = load_trees(args->path);
    if (args->prompt >= trees.size()) {
      throw InputError(fmt::format("--prompt: {} is out of range; {} holds {} tree(s)", args->prompt, args->path,
                                   trees.size()));
    }
    const Tree& tree = trees[args->prompt];
    check_sample_batch_fits(tree, args->n, "--n", "; sample in several calls (--first)");
    const TabularPolicy ref = reference_policy(tree);
    const AliasSampler sampler(make_policy(tree, beta, spec));
    const int V = tree.shape.vocab();
    const auto write = [&](std::ostream& out) {
      if (args->format == "csv") out << "index,leaf,length,log_prob,log_ref,reward,strategy,actions\n";
      // A progress line for long runs, unless the trajectories themselves go to the
      // terminal (the line would land among them).
      std::optional<Progress> progress;
      if (!args->out.empty() || !::isatty(STDOUT_FILENO)) progress.emplace("tree sample");
      // In chunks: trajectory i has its own counter stream, so chunks [c, c + m) give the
      // same trajectories as one call (as --first K --n M continues --first 0 --n K).
      constexpr std::int64_t kChunk = std::int64_t{1} << 16;
      for (std::int64_t c = 0; c < args->n; c += kChunk) {
        const SampleBatch batch = sampler.sample(args->seed, std::min(kChunk, args->n - c), args->first + c);
        for (std::int64_t i = 0; i < batch.size(); ++i) {
          const std::int64_t begin = batch.offset[i], end = batch.offset[i + 1];
          // log pi_ref(y) along the same path, so log w = log_ref - log_prob + beta r is at hand.
          double log_ref = 0.0;
          std::int64_t node = 0;
          for (std::int64_t t = begin; t < end; ++t) {
            const int a = batch.action[t];
            log_ref += ref.log_prob[node * V + a];
            node = tree.shape.child(node, static_cast<int>(t - begin), a).id;
          }
          const std::span<const std::int32_t> actions(batch.action.data() + begin, end - begin);
          const std::int64_t leaf = batch.leaf[i];
          if (args->format == "csv") {
            out << fmt::format("{},{},{},{},{},{},{},{}\n", args->first + c + i, leaf, end - begin, num(batch.log_prob[i]), num(log_ref),
                               num(tree.reward[leaf]), tree.strategy[leaf], fmt::join(actions, " "));
          } else {
            std::vector<std::string> step_lp;
            for (std::int64_t t = begin; t < end; ++t) step_lp.push_back(num(batch.step_log_prob[t]));
            out << fmt::format(
                "{{\"index\":{},\"leaf\":{},\"actions\":[{}],\"step_log_probs\":[{}],\"log_prob\":{},\"log_ref\":{},"
                "\"reward\":{},\"strategy\":{}}}\n",
                args->first + c + i, leaf, fmt::join(actions, ","), fmt::join(step_lp, ","), num(batch.log_prob[i]), num(log_ref),
                num(tree.reward[leaf]), tree.strategy[leaf] == kNoStrategy ? std::string("null")
                                                                           : std::to_string(tree.strategy[leaf]));
          }
        }
        if (progress) {
          const std::int64_t done = c + batch.size();
          progress->update(static_cast<double>(done) / static_cast<double>(args->n),
                           fmt::format("{} of {} trajectories", done, args->n));
        }
      }
    };
    if (args->out.empty()) {
      write(std::cout);
    } else {
      write_file_atomically(args->out, write);
      std::fprintf(stderr, "wrote %s: %lld trajectories from %s\n", args->out.c_str(),
                   static_cast<long long>(args->n), args->policy.c_str());
    }
  });
}

void add_families(CLI::App& tree) {
  CLI::App* cmd = tree.add_subcommand("families", "List the tree families and their parameters");
  cmd->callback([] {
    for (const Family& f : registered_families()) {
      std::printf("%s: %s\n", f.name.c_str(), f.help.c_str());
      for (const FamilyParam& p : f.params) {
        std::printf("%s", fmt::format("  --set {:<34} {}\n", p.name + "=" + p.default_value, p.help).c_str());
      }
    }
  });
}

}  // namespace

void add_tree_commands(CLI::App& app) {
  CLI::App* tree = app.add_subcommand("tree", "Exact tabular trajectory trees");
  tree->require_subcommand(1);
  add_generate(*tree);
  add_info(*tree);
  add_sample(*tree);
  add_families(*tree);
}

}  // namespace disa::cli
