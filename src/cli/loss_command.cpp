// disa loss: run one loss head (src/loss/) on a batch file and print the loss, its
// gradient with respect to every logp (and log_z) and the head's diagnostics
// (docs/loss.md has the batch and output schemas).
//
//   disa loss --objective grpo --batch b.json --set loss_agg_mode=seq-mean-token-mean --json
//   disa loss --list                       every objective, its options and their defaults
//   disa loss --list --objective flowrl --set weight_clip=cispo     the options as resolved
//
// stdout is a short summary, or with --json the full result as one JSON object whose
// numbers read back to the same doubles; --out FILE also writes that JSON to FILE
// (atomically). --batch - reads the batch from standard input.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "src/atomic_file.h"
#include "src/cli/commands.h"
#include "src/cli/output.h"
#include "src/input_error.h"
#include "src/json_number.h"
#include "src/json_strict.h"
#include "src/loss/batch_json.h"
#include "src/loss/objective.h"
#include "src/output_folder.h"

namespace disa::cli {
namespace {

using nlohmann::ordered_json;

struct Args {
  std::string objective;
  std::string batch;
  std::vector<std::string> sets;
  bool list = false;
  bool json = false;
  std::string out;
};

// One line per objective for --list; a name the table lacks (a head added later) gets none.
std::string description(const std::string& name) {
  static const std::map<std::string, std::string> text = {
      {"tb", "trajectory balance with a frozen log Z: L = (1/B) sum_i w_i (log_z_i + s_i sum_t (logp - logp_ref) - beta r_i)^2"},
      {"flowrl", "FlowRL as its reference code computes it: L = (1/B) sum_i w_i (log_z_i + mean logp - beta A_i - mean logp_ref)^2; "
                 "weight_clip=max10, cispo and symmetric add their own bounds (--list --objective flowrl --set weight_clip=...)"},
      {"grpo", "PPO clipped surrogate (asymmetric + dual clip) on GRPO group-normalised advantages, optional KL penalty"},
      {"gspo", "GSPO-token: length-normalised sequence ratio, clipped, always seq-mean-token-mean"},
      {"sft", "negative log-likelihood of the sequences with reward >= reward_threshold"},
      {"kl", "the KL penalty to the reference alone: kl_coef agg(k(logp, logp_ref))"},
  };
  const auto it = text.find(name);
  return it == text.end() ? "" : it->second;
}

std::vector<std::string> field_names(unsigned fields) {
  static const std::vector<std::pair<unsigned, std::string>> names = {
      {loss::kLogp, "logp"},       {loss::kLogpOld, "logp_old"}, {loss::kLogpRef, "logp_ref"},
      {loss::kMask, "mask"},       {loss::kReward, "reward"},    {loss::kGroup, "group"},
      {loss::kLogZ, "log_z"},      {loss::kAdvantages, "advantages (or reward + group)"}};
  std::vector<std::string> out;
  for (const auto& [bit, name] : names) {
    if (fields & bit) out.push_back(name);
  }
  return out;
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string s;
  for (const std::string& p : parts) s += (s.empty() ? "" : sep) + p;
  return s;
}

// Summary precision: six significant digits is enough to read; --json has them all.
std::string short_num(double x) { return std::isfinite(x) ? fmt::format("{:.6g}", x) : num(x); }

ordered_json list_objectives(const Args& a) {
  std::vector<std::string> names;
  if (!a.objective.empty()) {
    names.push_back(a.objective);
  } else {
    if (!a.sets.empty()) throw InputError("--set: with --list, give --objective NAME to resolve options for");
    names = loss::objective_names();
  }
  ordered_json out = ordered_json::array();
  std::vector<std::pair<std::string, std::size_t>> seen;  // name, options variant index
  for (const std::string& name : names) {
    const loss::Objective objective = loss::make_objective(name, a.sets);
    ordered_json j;
    j["name"] = name;
    // Names that resolve to the same head (tb and disa) share one option set.
    for (const auto& [other, index] : seen) {
      if (index == objective.options.index()) j["alias_of"] = other;
    }
    seen.emplace_back(name, objective.options.index());
    const std::string alias_of = j.contains("alias_of") ? j["alias_of"].get<std::string>() : name;
    j["description"] = description(alias_of);
    j["reads"] = field_names(loss::needed_fields(objective));
    j["log_z_gradient"] = loss::has_log_z_gradient(objective);
    ordered_json options = ordered_json::object();
    for (const auto& [key, value] : loss::option_list(objective)) options[key] = value;
    j["options"] = std::move(options);
    out.push_back(std::move(j));
  }
  ordered_json doc;
  doc["objectives"] = std::move(out);
  return doc;
}

void print_list(const ordered_json& doc) {
  bool first = true;
  for (const ordered_json& j : doc["objectives"]) {
    if (!first) std::cout << '\n';
    first = false;
    const std::string name = j["name"].get<std::string>();
    if (j.contains("alias_of")) {
      std::cout << fmt::format("{}  alias of {}\n", name, j["alias_of"].get<std::string>());
      continue;
    }
    const std::string what = j["description"].get<std::string>();
    std::cout << name << (what.empty() ? "" : "  " + what) << '\n';
    std::vector<std::string> reads;
    for (const auto& r : j["reads"]) reads.push_back(r.get<std::string>());
    std::cout << fmt::format("  reads: {}\n", join(reads, ", "));
    std::size_t width = 0;
    for (const auto& [key, value] : j["options"].items()) width = std::max(width, key.size());
    std::cout << "  options (--set key=value):\n";
    for (const auto& [key, value] : j["options"].items()) {
      std::cout << fmt::format("    {:<{}}  {}\n", key, width, value.get<std::string>());
    }
  }
}

loss::BatchData<double> read_batch(const std::string& path) {
  if (path != "-") return loss::load_batch(path);
  nlohmann::json document;
  try {
    document = parse_json_strict(std::cin, "--batch -: standard input");
  } catch (const nlohmann::json::exception& e) {
    std::string what = e.what();
    if (const auto end = what.find("] "); what.starts_with("[json.exception") && end != std::string::npos) {
      what = what.substr(end + 2);
    }
    throw InputError(fmt::format("--batch -: standard input is not valid JSON ({})", what));
  }
  try {
    return loss::batch_from_json(document);
  } catch (const InputError& e) {
    throw InputError(fmt::format("--batch -: {}", e.what()));
  }
}

struct Norm {
  double l2 = 0;
  double max_abs = 0;
};

Norm norm_of(const std::vector<double>& v) {
  Norm n;
  for (double x : v) {
    n.l2 += x * x;
    n.max_abs = std::max(n.max_abs, std::abs(x));
  }
  n.l2 = std::sqrt(n.l2);
  return n;
}

void print_summary(const Args& a, const loss::Objective& objective, const loss::BatchData<double>& batch,
                   const loss::LossResult<double>& result) {
  std::vector<std::string> options;
  for (const auto& [key, value] : loss::option_list(objective)) options.push_back(key + "=" + value);
  std::size_t valid = 0;
  for (double m : batch.mask) valid += m != 0.0;
  std::cout << fmt::format("{:<12} {}\n", "objective", objective.name);
  std::cout << fmt::format("{:<12} {}\n", "options", join(options, " "));
  std::cout << fmt::format("{:<12} {}: {} sequences x {} positions, {} valid tokens\n", "batch", a.batch, batch.rows,
                           batch.columns, valid);
  std::cout << fmt::format("{:<12} {}\n", "loss", short_num(result.loss));
  const Norm g = norm_of(result.grad_logp);
  std::cout << fmt::format("{:<12} L2 norm {}, max |.| {}\n", "grad_logp", short_num(g.l2), short_num(g.max_abs));
  if (!result.grad_log_z.empty()) {
    const Norm z = norm_of(result.grad_log_z);
    std::cout << fmt::format("{:<12} L2 norm {}, max |.| {}\n", "grad_log_z", short_num(z.l2), short_num(z.max_abs));
  }
  std::size_t width = 12;
  for (const auto& [name, value] : result.diagnostics.scalars) width = std::max(width, name.size());
  for (const auto& [name, value] : result.diagnostics.scalars) {
    std::cout << fmt::format("{:<{}} {}\n", name, width, short_num(value));
  }
  const auto& per_sequence = result.diagnostics.per_sequence;
  if (per_sequence.empty() || batch.rows == 0) return;
  // A few rows are enough to eyeball; the JSON has them all.
  constexpr std::size_t kShown = 16;
  std::string header = fmt::format("{:>6}", "row");
  for (const auto& [name, values] : per_sequence) header += fmt::format(" {:>14}", name);
  std::cout << "per sequence:\n" << header << '\n';
  const std::size_t shown = std::min(batch.rows, kShown);
  for (std::size_t i = 0; i < shown; ++i) {
    std::string line = fmt::format("{:>6}", i);
    for (const auto& [name, values] : per_sequence) {
      line += fmt::format(" {:>14}", i < values.size() ? short_num(values[i]) : "");
    }
    std::cout << line << '\n';
  }
  if (shown < batch.rows) std::cout << fmt::format("{:>6} ({} rows in all; --json for every row)\n", "...", batch.rows);
}

void run_loss(const Args& a) {
  if (!a.out.empty()) prepare_output_file(a.out, "--out");
  refuse_output_over_input(a.out, "--out", a.batch, "--batch");
  if (a.list) {
    if (!a.batch.empty()) throw InputError("--batch: not used with --list");
    const ordered_json doc = list_objectives(a);
    if (!a.out.empty()) write_file_atomically(a.out, [&](std::ostream& o) { o << doc.dump() << '\n'; });
    if (a.json) {
      std::cout << doc.dump() << '\n';
    } else {
      print_list(doc);
    }
    return;
  }
  if (a.objective.empty()) {
    throw InputError(fmt::format("--objective: required (one of: {}; --list shows their options)",
                                 join(loss::objective_names(), ", ")));
  }
  if (a.batch.empty()) throw InputError("--batch: required (a JSON batch file, or - for standard input)");
  // Options before the batch: a misspelt option is reported without reading a large file.
  const loss::Objective objective = loss::make_objective(a.objective, a.sets);
  const loss::BatchData<double> batch = read_batch(a.batch);
  const loss::LossBatch<double> view = batch.view();
  const loss::LossResult<double> result = loss::compute_loss<double>(objective, view);
  const ordered_json j = loss::result_to_json(objective, view, result);
  if (!a.out.empty()) write_file_atomically(a.out, [&](std::ostream& o) { o << j.dump() << '\n'; });
  if (a.json) {
    std::cout << j.dump() << '\n';
  } else {
    print_summary(a, objective, batch, result);
    if (!a.out.empty()) std::cout << fmt::format("wrote {}\n", a.out);
  }
}

}  // namespace

void add_loss_command(CLI::App& app) {
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "loss", "Run one loss head on a batch file: loss, gradient w.r.t. logp (and log_z), diagnostics (docs/loss.md)");
  cmd->add_option("--objective", args->objective, "Objective: tb (alias disa), flowrl, grpo, gspo, sft, kl");
  cmd->add_option("--batch", args->batch,
                  "Batch JSON file (logp, logp_old, logp_ref, mask, reward, group, log_z, advantages), or - for "
                  "standard input");
  cmd->add_option("--set", args->sets, "Option of the objective, key=value (repeatable; --list shows them)");
  cmd->add_flag("--list", args->list, "List the objectives and their options with defaults (with --objective and "
                                      "--set: that one, as resolved)");
  cmd->add_flag("--json", args->json, "Print the full result as one JSON object (numbers round-trip)");
  cmd->add_option("--out", args->out, "Also write the JSON result to this file (atomically)");
  cmd->callback([args] { run_loss(*args); });
}

}  // namespace disa::cli
