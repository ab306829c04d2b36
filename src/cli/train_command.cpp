// disa train: train tabular policies on exact trees with one method (src/train/) and
// write the exact metrics of every step.
//
//   disa train --family strategies --set method=grpo --set mode=sampled --set steps=100
//              --out results/train/grpo --checkpoint-every 10 [--resume] [--plot]
//
// Writes into --out: metrics.csv (one row per step, step 0 = the initial policy),
// config.json (the resolved settings and where the prompts came from) and, with
// --checkpoint-every N, checkpoint.json every N steps. metrics.csv is rewritten at each
// checkpoint, before checkpoint.json, so a run killed at any point and restarted with
// --resume ends with the same bytes as an uninterrupted one (one killed before its first
// checkpoint starts again from step 0). One live run per folder (--out/.lock); the
// NAME.tmp-PID files a killed run left are removed when its folder is taken up again.
#include <signal.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "src/atomic_file.h"
#include "src/cli/commands.h"
#include "src/cli/option_checks.h"
#include "src/cli/output.h"
#include "src/input_error.h"
#include "src/json_strict.h"
#include "src/key_value_list.h"
#include "src/output_folder.h"
#include "src/train/train_config.h"
#include "src/train/trainer.h"
#include "toy_envs/families/family.h"
#include "toy_envs/tree_json.h"

namespace disa::cli {
namespace {

using nlohmann::ordered_json;
using train::StepMetrics;
using train::TrainConfig;
using train::Trainer;

struct Args {
  std::string family;
  std::vector<std::string> family_sets;
  std::string tree;
  std::uint64_t seed = 1;
  bool seed_given = false;
  std::vector<std::string> sets;
  std::string out;
  std::int64_t checkpoint_every = 0;
  bool resume = false;
  bool plot = false;
};

// Every StepMetrics field, then the run's method and mode (the same on every row) so that
// CSVs of several runs concatenate and plot without their config.json.
const std::vector<std::string> kColumns = {
    "step", "loss", "grad_norm", "kl_policy_target", "kl_target_policy", "accuracy", "expected_reward",
    "entropy", "strategy_entropy", "strategies_above", "log_z_error", "samples", "paced_accuracy_error",
    "method", "mode"};

std::vector<std::string> metrics_row(const StepMetrics& m, const TrainConfig& c) {
  return {std::to_string(m.step), num(m.loss), num(m.grad_norm), num(m.kl_policy_target),
          num(m.kl_target_policy), num(m.accuracy), num(m.expected_reward), num(m.entropy),
          num(m.strategy_entropy), num(m.strategies_above), num(m.log_z_error), num(m.samples),
          num(m.paced_accuracy_error), to_string(c.method),
          to_string(c.mode)};
}

std::map<std::string, std::string> parse_family_sets(const std::vector<std::string>& sets) {
  return parse_key_values("--family-set", sets);  // a repeated key is refused, as in --set
}

std::vector<std::string> split_commas(const std::string& line) {
  std::vector<std::string> cells(1);
  for (char c : line) {
    if (c == ',') {
      cells.emplace_back();
    } else {
      cells.back() += c;
    }
  }
  return cells;
}

// The rows of steps 0..step from an earlier run's metrics.csv, cell for cell as written
// (re-formatting parsed numbers could change bytes). metrics.csv is saved before
// checkpoint.json, so it may run past the checkpoint (dropped) but never falls short.
std::vector<std::vector<std::string>> rows_until(const std::string& path, std::int64_t step) {
  std::ifstream in(path);
  if (!in) throw InputError(fmt::format("--resume: cannot read {} (it is written with the checkpoint)", path));
  std::string line;
  std::getline(in, line);
  if (split_commas(line) != kColumns) {
    throw InputError(fmt::format("--resume: {} does not have the columns this version writes", path));
  }
  std::vector<std::vector<std::string>> rows;
  while (static_cast<std::int64_t>(rows.size()) <= step && std::getline(in, line)) {
    std::vector<std::string> cells = split_commas(line);
    if (cells.size() != kColumns.size() || cells[0] != std::to_string(rows.size())) {
      throw InputError(fmt::format("--resume: {} line {} is not the row of step {}", path, rows.size() + 2, rows.size()));
    }
    rows.push_back(std::move(cells));
  }
  if (static_cast<std::int64_t>(rows.size()) != step + 1) {
    throw InputError(fmt::format("--resume: {} holds steps 0..{}, the checkpoint is at step {}", path,
                                 static_cast<std::int64_t>(rows.size()) - 1, step));
  }
  return rows;
}

void save_rows(const std::vector<std::vector<std::string>>& rows, const std::string& path) {
  CsvTable csv(kColumns);
  for (const auto& row : rows) csv.add_row(row);
  csv.save(path);
}

ordered_json config_json(const Args& a, const TrainConfig& config, std::size_t prompts) {
  ordered_json j;
  if (!a.family.empty()) {
    j["family"] = a.family;
    ordered_json fs = ordered_json::object();
    for (const auto& [k, v] : parse_family_sets(a.family_sets)) fs[k] = v;
    j["family_settings"] = std::move(fs);
    j["family_seed"] = a.seed;
  } else {
    j["tree"] = a.tree;
  }
  j["prompts"] = prompts;
  ordered_json settings = ordered_json::object();
  for (const auto& [k, v] : config.list()) settings[k] = v;
  j["settings"] = std::move(settings);
  j["checkpoint_every"] = a.checkpoint_every;
  return j;
}

// The first setting in which a folder's config.json and this run's differ, as
// "/settings/beta (was 1, now 2)"; nullopt when they agree on all but `ignored` (JSON
// pointers: checkpoint_every never changes a number, steps may grow on --resume).
std::optional<std::string> config_difference(const nlohmann::json& old, const nlohmann::json& now,
                                             const std::vector<std::string>& ignored) {
  for (const auto& op : nlohmann::json::diff(old, now)) {
    const std::string path = op.at("path").get<std::string>();
    if (std::find(ignored.begin(), ignored.end(), path) != ignored.end()) continue;
    const nlohmann::json::json_pointer at(path);
    return fmt::format("{} (was {}, now {})", path.substr(1), old.contains(at) ? old.at(at).dump() : "absent",
                       now.contains(at) ? now.at(at).dump() : "absent");
  }
  return std::nullopt;
}

// A folder holding another run is never overwritten or resumed into: refused, naming the
// first setting that differs. The same settings rerun (identical results) or resume.
void check_out_folder(const Args& a, const std::filesystem::path& dir, const ordered_json& config) {
  const std::filesystem::path path = dir / "config.json";
  if (!std::filesystem::is_regular_file(path)) return;
  nlohmann::json old;
  try {
    std::ifstream in(path);
    old = parse_json_strict(in, "--out: '" + path.string() + "'");
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("--out: '{}' is not JSON ({}); use another --out or remove it", path.string(),
                                 e.what()));
  }
  if (!old.is_object()) {
    throw InputError(fmt::format("--out: '{}' is not a disa train config (a JSON object); use another --out or remove it",
                                 path.string()));
  }
  std::vector<std::string> ignored = {"/checkpoint_every"};
  if (a.resume) ignored.push_back("/settings/steps");
  if (const auto d = config_difference(old, nlohmann::json::parse(config.dump()), ignored)) {
    throw InputError(fmt::format("--out: '{}' holds a run with other settings ({}); use another --out or remove it",
                                 a.out, *d));
  }
}

void plot(const std::string& csv, const std::string& png) {
  const std::string script = std::string(DISA_SOURCE_DIR) + "/plots/plot_training.py";
  if (!std::filesystem::exists(script)) throw std::runtime_error(fmt::format("--plot: {} not found", script));
  const std::string cmd =
      fmt::format("/usr/bin/python3 {} {} --out {}", shell_quote(script), shell_quote(csv), shell_quote(png));
  std::fflush(stdout);  // our summary line before the script's
  const int status = std::system(cmd.c_str());
  if (status != 0) throw std::runtime_error(fmt::format("--plot: `{}` failed (status {})", cmd, status));
}

// Fault injection for the resume tests: DISA_TRAIN_KILL_AFTER_STEP=K makes the process
// SIGKILL itself once step K is done; at a checkpoint step, between writing metrics.csv
// and checkpoint.json (the worst moment). A test can so kill a run at a chosen point
// however fast the steps are. Read strictly, before anything is done: "abc" failed as
// "stoll" after config.json was written, and "5x" was taken as 5.
std::optional<std::int64_t> kill_after_step() {
  const char* v = std::getenv("DISA_TRAIN_KILL_AFTER_STEP");
  if (v == nullptr || *v == '\0') return std::nullopt;
  const std::string_view text(v);
  std::int64_t step = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), step);
  if (error != std::errc() || end != text.data() + text.size() || step < 0) {
    throw InputError(fmt::format("DISA_TRAIN_KILL_AFTER_STEP='{}': expected a step number >= 0", text));
  }
  return step;
}

void run_train(const Args& a) {
  const std::optional<std::int64_t> kill_at = kill_after_step();
  if (a.family.empty() == a.tree.empty()) throw InputError("--family, --tree: give exactly one");
  if (!a.tree.empty() && !a.family_sets.empty()) throw InputError("--family-set: only with --family");
  if (!a.tree.empty() && a.seed_given) throw InputError("--seed: only with --family (the trainer's is --set seed=S)");
  if (a.resume && a.checkpoint_every == 0) throw InputError("--resume: needs --checkpoint-every N");
  const TrainConfig config = TrainConfig::parse(a.sets);
  std::vector<Tree> prompts =
      a.family.empty() ? load_trees(a.tree) : make_trees(a.family, parse_family_sets(a.family_sets), a.seed);
  const std::size_t num_prompts = prompts.size();
  Trainer trainer(std::move(prompts), config);

  const std::filesystem::path dir(a.out);
  const ordered_json this_config = config_json(a, config, num_prompts);
  if (a.resume && !std::filesystem::exists(dir / "config.json") && !std::filesystem::exists(dir / "checkpoint.json")) {
    throw InputError(fmt::format("--resume: no run to resume in {} (no checkpoint.json, no config.json)", a.out));
  }
  // --out checked before anything is read or run: a file, or a folder that cannot be
  // written, is named now rather than as a filesystem error after the work.
  prepare_output_folder(dir, "--out");
  // One live run per folder (two runs into one folder would interleave metrics.csv and
  // checkpoint.json), taken before the folder is read so that nothing changes under us.
  const bool locked = lock_output_folder(dir, "--out");
  check_out_folder(a, dir, this_config);
  const bool same_run = std::filesystem::is_regular_file(dir / "config.json");
  // This folder's own run (the same settings, just checked): under the lock, the
  // NAME.tmp-PID files of a run killed mid-write are litter. Train writes in --out only.
  if (locked && same_run) remove_stale_temporaries(dir, 0);
  const std::string csv_path = (dir / "metrics.csv").string();
  const std::string checkpoint_path = (dir / "checkpoint.json").string();
  // A folder there was read as "malformed checkpoint" (an ifstream opens a folder) by
  // --resume, and failed to be removed ("filesystem error: Directory not empty") without.
  if (std::filesystem::is_directory(checkpoint_path)) {
    throw InputError(fmt::format("{}: '{}' is a folder, not a checkpoint file; move it away",
                                 a.resume ? "--resume" : "--out", checkpoint_path));
  }
  std::vector<std::vector<std::string>> rows;
  bool from_scratch = !a.resume;
  if (a.resume && !std::filesystem::exists(checkpoint_path)) {
    if (!same_run) throw InputError(fmt::format("--resume: no checkpoint at {} and no config.json", checkpoint_path));
    // A run killed before its first checkpoint (or run without --checkpoint-every): its
    // config.json has these settings, and steps are a function of the settings alone, so
    // running from step 0 gives the bytes an uninterrupted run would.
    from_scratch = true;
  }
  if (!from_scratch) {
    trainer.load_checkpoint(checkpoint_path);
    if (trainer.steps_done() > config.steps) {
      throw InputError(fmt::format("--resume: the checkpoint is at step {}, past steps={}", trainer.steps_done(),
                                   config.steps));
    }
    rows = rows_until(csv_path, trainer.steps_done());
  } else {
    // A checkpoint of an earlier run in this folder must not be resumed into this one.
    std::filesystem::remove(checkpoint_path);
    rows.push_back(metrics_row(trainer.metrics(), config));
  }
  write_file_atomically(dir / "config.json",
                        [&](std::ostream& out) { out << this_config.dump(2) << '\n'; });

  const std::int64_t first = trainer.steps_done();
  {
    Progress progress("train");
    try {
      while (trainer.steps_done() < config.steps) {
        const StepMetrics m = trainer.step();
        rows.push_back(metrics_row(m, config));
        const std::int64_t k = trainer.steps_done();
        if (a.checkpoint_every > 0 && (k % a.checkpoint_every == 0 || k == config.steps)) {
          save_rows(rows, csv_path);  // first: a resume drops rows past the checkpoint, never lacks one
          if (kill_at && k == *kill_at) ::kill(::getpid(), SIGKILL);
          trainer.save_checkpoint(checkpoint_path);
        }
        if (kill_at && k == *kill_at) ::kill(::getpid(), SIGKILL);
        progress.update(static_cast<double>(k) / config.steps,
                        fmt::format("step {}/{}  KL(pi||p*) {:.4g}  accuracy {:.4f}", k, config.steps,
                                    m.kl_policy_target, m.accuracy));
      }
    } catch (...) {
      save_rows(rows, csv_path);  // keep what was computed for a look at the failure
      throw;
    }
  }
  save_rows(rows, csv_path);
  // Columns 3 and 5: kl_policy_target and accuracy, at step 0 and at the last step.
  const auto& r0 = rows.front();
  const auto& r1 = rows.back();
  std::printf("%s\n", fmt::format("wrote {}: steps {}..{}{}, KL(pi||p*) {:.4g} -> {:.4g}, accuracy {:.4f} -> {:.4f}",
                                   csv_path, first, config.steps,
                                   !a.resume      ? ""
                                   : from_scratch ? " (resumed: no checkpoint yet, so from step 0)"
                                                  : " (resumed)",
                                   std::stod(r0[3]),
                                   std::stod(r1[3]), std::stod(r0[5]), std::stod(r1[5]))
                           .c_str());
  if (a.plot) {
    const std::string png = (dir / "training.png").string();
    plot(csv_path, png);
  }
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "train", "Train tabular policies on exact trees (disa-offline, disa-online, flowrl, grpo, gspo, sft); "
               "writes metrics.csv with the exact KL, accuracy and strategy entropy of every step");
  cmd->add_option("--family", args->family, "Tree family of the prompts (see `disa tree families`)");
  cmd->add_option("--family-set", args->family_sets, "Family parameter key=value (repeatable)");
  cmd->add_option("--tree", args->tree, "Tree or tree-set file of the prompts (instead of --family)");
  CLI::Option* seed = cmd->add_option("--seed", args->seed, "Seed of the family's trees (the trainer's is --set seed=S)")
                          ->capture_default_str();
  cmd->add_option("--set", args->sets,
                  "Training setting key=value (repeatable): method, mode, beta, steps, seed, optimizer, "
                  "learning_rate, group_size, proposal, log_z_error, ...; loss.KEY=VALUE for the head's options "
                  "(src/train/train_config.h)");
  cmd->add_option("--out", args->out, "Output folder: metrics.csv, config.json, checkpoint.json")->required();
  cmd->add_option("--checkpoint-every", args->checkpoint_every,
                  "Save checkpoint.json and metrics.csv every N steps (and at the end)")
      ->check(integer_at_least(1));
  cmd->add_flag("--resume", args->resume, "Continue from --out/checkpoint.json to steps=");
  cmd->add_flag("--plot", args->plot, "Draw --out/training.png (plots/plot_training.py, /usr/bin/python3)");
  cmd->callback([args, seed] {
    args->seed_given = seed->count() > 0;
    run_train(*args);
  });
}

}  // namespace disa::cli
