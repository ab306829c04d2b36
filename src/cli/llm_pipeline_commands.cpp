// disa llm propose | anchor | train | eval | pipeline: the DISA pipeline's stages on
// language models (llm/pipeline/), each with a config file and --set overrides:
//
//   disa llm propose  --config propose.json --out runs/propose [--set samples=32 ...]
//   disa llm anchor   --set trajectories=runs/propose/trajectories.jsonl --set beta=3 --out runs/anchor
//   disa llm train    --set method=disa --set reference=base/ --set trajectories=...
//                     --set anchors=runs/anchor/anchors.jsonl --out runs/train/disa
//   disa llm eval     --set models=ref=base/,disa=runs/train/disa/policy --out runs/eval
//   disa llm pipeline --out runs/countdown          (everything, on built-in defaults)
//
// The keys of each stage are listed in its header (llm/pipeline/*.h). A progress line
// shows on a terminal, never under CI=true or when stderr is redirected.
#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "llm/pipeline/anchor_stage.h"
#include "llm/pipeline/eval_stage.h"
#include "llm/pipeline/pipeline_run.h"
#include "llm/pipeline/policy_trainer.h"
#include "llm/pipeline/propose.h"
#include "src/cli/commands.h"
#include "src/cli/output.h"
#include "src/input_error.h"
#include "src/output_folder.h"

namespace disa::cli {
namespace {

namespace lp = disa::llm::pipeline;

struct StageArgs {
  std::string config, out;
  std::vector<std::string> sets;
};

CLI::App* stage_command(CLI::App& llm, const char* name, const char* help, std::shared_ptr<StageArgs> a) {
  CLI::App* c = llm.add_subcommand(name, help);
  c->add_option("--config", a->config, "JSON file of key: value options");
  c->add_option("--set", a->sets, "key=value (overrides the config file; repeatable)");
  c->add_option("--out", a->out, "Output folder")->required();
  return c;
}

// An input a stage reads (a model folder, a trajectories or anchors file), checked once the
// options are parsed: a missing one was reported later by whatever first opened it,
// without the key ("'/x': cannot read it to fingerprint it", "/x: no such file (give a
// tokenizer.json ...)"). Here and not in the stage's *_options: `disa llm pipeline` parses
// those before its earlier stages have made these files.
void check_input_path(const char* stage, const char* key, const std::filesystem::path& path, bool folder) {
  if (path.empty()) return;
  std::error_code ec;
  const std::filesystem::file_status status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) {
    throw InputError(fmt::format("{}: {}='{}': no such {}", stage, key, path.string(), folder ? "folder" : "file"));
  }
  if (!folder && std::filesystem::is_directory(status)) {
    throw InputError(fmt::format("{}: {}='{}' is a folder, not a file", stage, key, path.string()));
  }
}

// A stage's --out, prepared; a model folder is refused: propose --out REFERENCE wrote its
// options, parts and trajectories among the model's files.
void prepare_stage_folder(const std::string& out) {
  for (const char* model_file : {"config.json", "model.safetensors", "model.safetensors.index.json"}) {
    if (std::filesystem::exists(std::filesystem::path(out) / model_file)) {
      throw InputError(
          fmt::format("--out: '{}' holds a model ({}); a stage writes its files into its own folder", out, model_file));
    }
  }
  prepare_output_folder(out, "--out");
}

// The figures of plots/plot_llm_pipeline.py; a missing Python or matplotlib is reported,
// not fatal: the CSV and markdown tables are the results, the figures a view of them.
void plot_pipeline(const std::string& out) {
  const std::string script = std::string(DISA_SOURCE_DIR) + "/plots/plot_llm_pipeline.py";
  const std::string cmd = fmt::format("/usr/bin/python3 {} {}", shell_quote(script), shell_quote(out));
  std::fflush(stdout);
  if (std::system(cmd.c_str()) != 0) fmt::print(stderr, "pipeline: no figures (`{}` failed)\n", cmd);
}

void print_rows(const std::vector<lp::EvalRow>& rows) {
  // Every row has pass@k at the same k (the eval's samples per prompt).
  const std::int64_t k = rows.empty() || rows.front().metrics.pass_at.empty() ? 0 : rows.front().metrics.pass_at.rbegin()->first;
  const std::string at_k = fmt::format("pass@{}", k);
  fmt::print("{:<12} {:<12} {:>8} {:>8} {:>8} {:>10} {:>10} {:>10}\n", "model", "task", fmt::format("Mean@{}", k),
             "pass@1", at_k, "distinct", "strategies", "dispersion");
  for (const lp::EvalRow& r : rows) {
    const auto& m = r.metrics;
    const auto found = m.pass_at.find(k);
    fmt::print("{:<12} {:<12} {:>8.3f} {:>8.3f} {:>8.3f} {:>10.2f} {:>10.2f} {:>10.3f}\n", r.model, r.task, m.mean_at_k,
               m.pass_at.count(1) ? m.pass_at.at(1) : std::nan(""), found == m.pass_at.end() ? std::nan("") : found->second,
               m.distinct_correct, m.distinct_strategies, m.ngram_dispersion);
  }
}

}  // namespace

void add_llm_pipeline_commands(CLI::App& llm) {
  {
    auto a = std::make_shared<StageArgs>();
    stage_command(llm, "propose", "Sample N trajectories per training prompt from a proposal q; score log pi_ref; verify", a)
        ->callback([a] {
          auto c = lp::StageConfig::load("propose", a->config, a->sets);
          lp::ProposeOptions o = lp::propose_options(c);
          c.finish();
          check_input_path("propose", "reference", o.reference, true);
          check_input_path("propose", "proposal", o.proposal, true);
          prepare_stage_folder(a->out);
          o.out = a->out;
          auto bar = std::make_unique<Progress>("propose");
          const lp::ProposeSummary s = lp::run_propose(o, [&](double f, const std::string& d) { bar->update(f, d); });
          bar.reset();
          const bool shard = o.shard_count > 1;
          if (shard && s.parts == 0) {
            fmt::print("propose shard {}/{}: no parts ({} in all, part p belongs to shard p % {}): nothing to do\n",
                       o.shard_index, o.shard_count, s.parts_total, o.shard_count);
            return;
          }
          fmt::print("propose{}: {} prompts, {} trajectories in {} of {} parts ({} reused, {} copied from shards), mean "
                     "reward {:.4f}, {:.1f} s, {:.0f} tokens/s\nwrote {}\n",
                     shard ? fmt::format(" shard {}/{}", o.shard_index, o.shard_count) : "", s.prompts,
                     s.trajectories, s.parts, s.parts_total, s.parts_reused, s.parts_copied, s.mean_reward, s.seconds,
                     s.tokens_per_second,
                     shard ? a->out + "/parts (this shard's; complete with shards_from)" : a->out + "/trajectories.jsonl");
        });
  }
  {
    auto a = std::make_shared<StageArgs>();
    stage_command(llm, "anchor", "Freeze log Zhat per prompt from the proposal trajectories (IS + diagnostics)", a)
        ->callback([a] {
          auto c = lp::StageConfig::load("anchor", a->config, a->sets);
          lp::AnchorOptions o = lp::anchor_options(c);
          c.finish();
          check_input_path("anchor", "trajectories", o.trajectories, false);
          prepare_stage_folder(a->out);
          o.out = a->out;
          const lp::AnchorSummary s = lp::run_anchor(o);
          // Every prompt dropped (all unrewarded, say): no mean to print, and nothing to train on.
          const std::string kept = s.dropped >= s.prompts
                                       ? std::string("no prompt kept: nothing to train on")
                                       : fmt::format("mean log Zhat of the kept {:.4f}", s.mean_log_z_hat);
          fmt::print(
              "anchor: {} prompts, {}, {} dropped (policy {}); {}, mean ESS/N {:.3f}\n"
              "wrote {}/anchors.jsonl (fingerprint {})\n",
              s.prompts, lp::describe_unreliable(s), s.dropped, o.policy, kept, s.mean_ess_fraction, a->out,
              s.fingerprint);
        });
  }
  {
    auto a = std::make_shared<StageArgs>();
    stage_command(llm, "train", "Train a policy: disa | disa-online | flowrl | grpo | gspo | sft (resumable)", a)
        ->callback([a] {
          auto c = lp::StageConfig::load("train", a->config, a->sets);
          lp::TrainOptions o = lp::train_options(c);
          c.finish();
          check_input_path("train", "reference", o.reference, true);
          check_input_path("train", "trajectories", o.trajectories, false);
          check_input_path("train", "anchors", o.anchors, false);
          prepare_stage_folder(a->out);
          o.out = a->out;
          auto bar = std::make_unique<Progress>("train " + o.method);
          const lp::TrainSummary s =
              lp::run_train(o, [&](std::int64_t step, std::int64_t total, const nlohmann::ordered_json& line) {
                bar->update(static_cast<double>(step) / static_cast<double>(total),
                            fmt::format("step {}/{} loss {:.4g} acc {:.3f}", step, total, line.value("loss", 0.0),
                                        line.value("accuracy", 0.0)));
              });
          bar.reset();
          if (!s.finished) {
            fmt::print("train: stopped at step {} of {}; resume by running the same command\n", s.steps_done, o.steps);
            return;
          }
          fmt::print("train {}: {} steps, {:.1f} s; wrote {}/policy and {}/steps.jsonl\n", o.method, s.steps_done,
                     s.seconds, a->out, a->out);
        });
  }
  {
    auto a = std::make_shared<StageArgs>();
    stage_command(llm, "eval", "Mean@k, pass@k and diversity of models on held-out prompts", a)->callback([a] {
      auto c = lp::StageConfig::load("eval", a->config, a->sets);
      lp::EvalOptions o = lp::eval_options(c);
      c.finish();
      for (const auto& [name, folder] : o.models) check_input_path("eval", "models", folder, true);
      check_input_path("eval", "anchors", o.anchors, false);
      prepare_stage_folder(a->out);
      o.out = a->out;
      auto bar = std::make_unique<Progress>("eval");
      const auto rows = lp::run_eval(o, [&](double f, const std::string& d) { bar->update(f, d); });
      bar.reset();
      print_rows(rows);
      fmt::print("wrote {}/results.csv, results.md, per_prompt.csv\n", a->out);
    });
  }
  {
    auto a = std::make_shared<StageArgs>();
    auto no_plot = std::make_shared<bool>(false);
    CLI::App* c =
        stage_command(llm, "pipeline", "propose -> anchor -> train each method -> eval, from one command (resumable)", a);
    c->add_flag("--no-plot", *no_plot, "Skip the figures (plots/plot_llm_pipeline.py, /usr/bin/python3)");
    c->callback(
        [a, no_plot] {
          prepare_stage_folder(a->out);
          std::unique_ptr<Progress> bar;
          std::string current;
          const auto result = lp::run_pipeline(
              a->out, a->config, a->sets,
              [&](const std::string& line) {
                bar.reset();
                current.clear();
                fmt::print("{}\n", line);
                std::fflush(stdout);
              },
              [&](const std::string& stage, double f, const std::string& d) {
                if (stage != current) {
                  bar = std::make_unique<Progress>(stage);
                  current = stage;
                }
                bar->update(f, d);
              });
          bar.reset();
          print_rows(result.rows);
          fmt::print("pipeline done in {:.0f} s; wrote {}/eval/results.csv and results.md\n", result.seconds, a->out);
          if (!*no_plot) plot_pipeline(a->out);
        });
  }
}

}  // namespace disa::cli
