#include "llm/pipeline/eval_stage.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <torch/torch.h>

#include "llm/pipeline/anchor_stage.h"
#include "llm/pipeline/loaded_model.h"
#include "llm/pipeline/rollout.h"
#include "llm/pipeline/stage_files.h"
#include "llm/pipeline/trajectory_file.h"
#include "src/atomic_file.h"
#include "src/input_error.h"
#include "src/json_strict.h"

namespace disa::llm::pipeline {

std::vector<std::string> split_comma_list(std::string_view stage, std::string_view key, const std::string& text) {
  std::vector<std::string> out;
  if (text.find_first_not_of(" ") == std::string::npos) return out;
  std::size_t begin = 0;
  while (true) {
    const std::size_t end = std::min(text.find(',', begin), text.size());
    std::string item = text.substr(begin, end - begin);
    item.erase(0, item.find_first_not_of(" "));
    item.erase(item.find_last_not_of(" ") + 1);
    if (item.empty()) {
      // "a=X,,b=Y" read as a and b would drop whatever the user meant between the commas.
      throw InputError(fmt::format("{}: {}='{}': entry {} is empty (a doubled, leading or trailing comma?)", stage, key,
                                   text, out.size() + 1));
    }
    out.push_back(std::move(item));
    if (end == text.size()) return out;
    begin = end + 1;
  }
}

namespace {

std::string cell(double v) { return std::isnan(v) ? "nan" : fmt::format("{:.4f}", v); }

// "TASK:rl" evaluates on the RL prompts themselves (what training optimised), TASK on
// held-out evaluation prompts.
bool is_rl_task(const std::string& task_name) {
  return task_name.size() > 3 && task_name.compare(task_name.size() - 3, 3, ":rl") == 0;
}

std::unique_ptr<PromptTask> task_of(const EvalOptions& o, const std::string& task_name,
                                    const std::filesystem::path& model_folder, const Tokenizer& tokenizer) {
  const std::string spec = is_rl_task(task_name) ? task_name.substr(0, task_name.size() - 3) : task_name;
  return make_task(spec, model_folder, o.data_dir, tokenizer);
}

std::vector<TaskPrompt> prompts_of(const EvalOptions& o, const std::string& task_name, const PromptTask& task) {
  std::vector<TaskPrompt> prompts;
  if (is_rl_task(task_name) && !o.anchors.empty()) {
    // With the run's anchors, TASK:rl is exactly the prompts training used (the kept
    // anchors'), whatever `prompts` says: the first `prompts` of the RL split would mix in
    // prompts nobody trained on, or those the anchor policy dropped.
    // The anchor file holds one record per proposed prompt (dropped ones flagged), and
    // propose took the RL split's first ones: so its size is the count to ask for.
    // Checked against the anchor.json beside them, as training checks them: an edited or
    // foreign anchors.jsonl would otherwise pick other prompts than training used.
    const std::vector<AnchorRecord> records = load_stage_anchors(o.anchors);
    const std::map<std::string, double> trained = kept_anchors(records);
    for (TaskPrompt& p : task.prompts(PromptSplit::kTrain, static_cast<std::int64_t>(records.size()))) {
      if (trained.count(p.id)) prompts.push_back(std::move(p));
    }
    if (prompts.size() != trained.size()) {
      throw InputError(fmt::format("eval: task {}: {} of the {} prompts of anchors '{}' are not in the task's RL "
                                   "prompts (anchors of another task?)",
                                   task_name, trained.size() - prompts.size(), trained.size(), o.anchors.string()));
    }
    // Over no prompt every metric is nan, and results.csv was written with exit 0.
    if (prompts.empty()) {
      throw InputError(
          fmt::format("eval: task {}: anchors '{}' keep none of their {} prompts (every anchor was "
                      "dropped as unreliable): no prompt was trained on, so there is none to evaluate",
                      task_name, o.anchors.string(), records.size()));
    }
    return prompts;
  }
  prompts = task.prompts(is_rl_task(task_name) ? PromptSplit::kTrain : PromptSplit::kEval, o.prompts);
  if (prompts.empty()) throw InputError(fmt::format("eval: task {} has no prompt to evaluate", task_name));
  return prompts;
}

// Samples of one (model, task): from the file when it exists, else sampled and written.
std::vector<nlohmann::json> samples_of(const EvalOptions& o, LoadedModel& model, const PromptTask& task,
                                       const std::vector<TaskPrompt>& prompts, const std::filesystem::path& file) {
  std::vector<nlohmann::json> out;
  if (std::filesystem::exists(file)) {
    // Written by this stage (atomically), so a line that does not parse is damage to name.
    std::ifstream in(file, std::ios::binary);
    std::string line;
    for (std::size_t number = 1; std::getline(in, line); ++number) {
      if (line.empty()) continue;
      const std::string where = fmt::format("eval samples '{}' line {}", file.string(), number);
      try {
        out.push_back(parse_json_strict(line, where));
      } catch (const nlohmann::json::exception& e) {
        throw InputError(fmt::format("{}: not JSON ({}); remove the file to sample again", where, e.what()));
      }
    }
    return out;
  }
  SamplingOptions sampling{.temperature = o.temperature, .max_new_tokens = o.max_new_tokens, .seed = o.seed};
  const std::vector<Rollout> rollouts =
      roll_out(*model.model, *model.tokenizer, model.stop_ids, task, prompts, o.k, sampling, o.batch_size, "k");
  std::string text;
  for (const Rollout& r : rollouts) {
    const std::span<const std::int32_t> ids = response_tokens(model.stop_ids, r.completion.tokens);
    nlohmann::ordered_json j{{"prompt_id", prompts[r.prompt].id},   {"sample", r.sample},
                             {"response", r.response},              {"tokens", r.completion.tokens.size()},
                             {"token_ids", std::vector<std::int32_t>(ids.begin(), ids.end())},
                             {"finish", finish_reason_name(r.completion.finish)},
                             {"reward", r.verdict.reward},          {"reason", r.verdict.reason},
                             {"signature", r.verdict.signature},    {"strategy", r.verdict.strategy}};
    text += j.dump() + "\n";
    out.push_back(nlohmann::json::parse(j.dump()));
  }
  std::filesystem::create_directories(file.parent_path());
  write_file_atomically(file, [&](std::ostream& s) { s << text; });
  return out;
}

// Model and task names become folder and file names (OUT/samples/NAME/TASK.jsonl) and
// results rows: checked both where the keys are read and where a caller's EvalOptions is
// run, since tests and the pipeline fill EvalOptions directly.
void check_names(const EvalOptions& o) {
  for (const auto& [name, folder] : o.models) {
    // "a/b" or ".." would write outside OUT/samples, "" into it, a comma would shift the
    // CSV's columns; a leading '.' makes a hidden folder (and covers "." and "..").
    if (name.empty() || name.find_first_not_of(kModelNameCharacters) != std::string::npos || name.front() == '.') {
      throw InputError(
          fmt::format("eval: models: name '{}' must be letters, digits, '_', '-' and '.' (not first): "
                      "it names the folder of its samples",
                      text_excerpt(name)));
    }
  }
  for (auto t = o.tasks.begin(); t != o.tasks.end(); ++t) {
    if (std::find(o.tasks.begin(), t, *t) != t) {
      throw InputError(
          fmt::format("eval: tasks: '{}' is given twice: its rows would be one task's samples, counted "
                      "twice in the average",
                      *t));
    }
  }
}

}  // namespace

EvalOptions eval_options(StageConfig& c) {
  EvalOptions o;
  for (const std::string& entry : split_comma_list("eval", "models", c.word("models", ""))) {
    const auto eq = entry.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == entry.size()) {
      throw InputError(fmt::format("eval: models entry '{}' must be name=folder", entry));
    }
    const std::string name = entry.substr(0, eq);
    for (const auto& [other, folder] : o.models) {
      if (other == name) {
        throw InputError(fmt::format("eval: models: name '{}' is given twice ('{}' and '{}'): its samples and rows "
                                     "would be one model's",
                                     name, folder.string(), entry.substr(eq + 1)));
      }
    }
    o.models.emplace_back(name, canonical_stage_path(entry.substr(eq + 1)));
  }
  if (o.models.empty()) throw InputError("eval: models (name=folder,...) is required");
  o.tasks = split_comma_list("eval", "tasks", c.word("tasks", "countdown"));
  if (o.tasks.empty()) throw InputError("eval: tasks is empty");
  o.data_dir = canonical_stage_path(c.word("data_dir", ""));
  o.anchors = canonical_stage_path(c.word("anchors", ""));
  o.prompts = c.integer("prompts", o.prompts, 0);
  o.k = c.integer("k", o.k, 1);
  o.max_new_tokens = c.integer("max_new_tokens", o.max_new_tokens, 1);
  o.batch_size = c.integer("batch_size", o.batch_size, 1);
  o.temperature = c.number("temperature", o.temperature, 0, kNoLimit, true);
  o.seed = static_cast<std::uint64_t>(c.integer("seed", 7, 0));
  o.threads = static_cast<int>(c.integer("threads", 1, 1, 256));
  o.device = c.choice("device", "cpu", {"cpu", "cuda"});
  check_names(o);
  return o;
}

std::vector<EvalRow> run_eval(const EvalOptions& o, const StageProgress& progress) {
  if (o.out.empty()) throw InputError("eval: --out is required");
  check_names(o);
  const auto start = std::chrono::steady_clock::now();
  torch::set_num_threads(o.threads);
  torch::NoGradGuard no_grad;
  const torch::Device device = parse_device(o.device);
  nlohmann::ordered_json options{{"tasks", o.tasks}, {"data_dir", o.data_dir.string()}, {"prompts", o.prompts},
                                 {"k", o.k}, {"max_new_tokens", o.max_new_tokens}, {"temperature", o.temperature},
                                 {"seed", o.seed}};
  // As in propose: the device's kernels move logits in the last bits, which can turn a
  // sampled token, so samples drawn on another device are another run's, not reused.
  options["device"] = o.device;
  // And as in propose: the batch sets each row's padding, which moves logits in the last
  // bits too (llm/model/sampler.h).
  options["batch_size"] = o.batch_size;
  for (const auto& [name, folder] : o.models) options["models"][name] = folder.string();
  // Samples are reused by model name: the fingerprints (weights and tokenizer) make a model
  // retrained or retokenized at the same path a different run (refused by
  // claim_stage_folder), not stale samples.
  for (const auto& [name, folder] : o.models) options["model_fingerprints"][name] = model_fingerprint(folder);
  // The ids sampling stops at come from generation_config.json too, which the fingerprint
  // does not cover: samples that stopped elsewhere are not reused.
  for (const auto& [name, folder] : o.models) options["stop_token_ids"][name] = stop_token_ids_of(folder);
  options["truncated_rollouts"] = kTruncatedRolloutsRule;
  // Samples files are reused by (model, task) name: the prompts they were drawn for must be
  // this run's (a changed task.json, benchmark file or generator makes other prompts under
  // the same ids).
  for (const auto& [name, folder] : o.models) {
    const std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(folder);
    for (const std::string& task_name : o.tasks) {
      options["prompts_fingerprints"][name][task_name] =
          prompts_fingerprint(prompts_of(o, task_name, *task_of(o, task_name, folder, *tokenizer)));
    }
  }
  if (!o.anchors.empty()) {
    options["anchors_fingerprint"] = file_fingerprint(o.anchors);
    // Before 2026-12-06 TASK:rl was the first `prompts` RL prompts: such a folder's
    // samples are of other prompts, so it must not pass for this run.
    options["rl_prompts"] = "the anchors' kept prompts";
  }
  claim_stage_folder(o.out, "eval", options);

  std::vector<EvalRow> rows;
  std::string per_prompt = "model,task,prompt,samples,correct,distinct_correct,distinct_strategies,ngram_dispersion\n";
  const double pairs = static_cast<double>(o.models.size() * o.tasks.size());
  std::size_t done = 0;
  for (const auto& [name, folder] : o.models) {
    LoadedModel model = load_model(folder, device);
    model.model->eval();
    std::vector<MetricsSummary> per_task;
    for (const std::string& task : o.tasks) {
      const auto file = o.out / "samples" / name / (task + ".jsonl");
      const auto prompt_task = task_of(o, task, folder, *model.tokenizer);
      const std::vector<TaskPrompt> prompts = prompts_of(o, task, *prompt_task);
      const std::vector<nlohmann::json> samples = samples_of(o, model, *prompt_task, prompts, file);
      const DiversityKeys keys = diversity_keys(task);
      // Group by prompt (the file is prompt-major).
      std::vector<PromptMetrics> metrics;
      std::vector<SampleOutcome> current;
      std::string current_id;
      const auto flush = [&] {
        if (current.empty()) return;
        metrics.push_back(prompt_metrics(current, keys));
        const PromptMetrics& m = metrics.back();
        const auto count = [](double v) { return std::isnan(v) ? std::string("nan") : fmt::format("{}", v); };
        per_prompt += (fmt::format("{},{},{},{},{},{},{},{}\n", name, task, current_id, m.samples, m.correct,
                                   count(m.distinct_correct), count(m.distinct_strategies), cell(m.ngram_dispersion)));
        current.clear();
      };
      for (const nlohmann::json& s : samples) {
        if (s.at("prompt_id").get<std::string>() != current_id) {
          flush();
          current_id = s.at("prompt_id").get<std::string>();
        }
        if (!s.contains("token_ids")) {
          // Files of before 2026-12-06 kept the text only (the dispersion then mixed words
          // and characters); their prompts' folders are refused by the claim anyway.
          throw InputError(fmt::format("eval samples '{}': a line without token_ids (written by an earlier "
                                       "version); remove the file to sample again",
                                       file.string()));
        }
        current.push_back({s.at("reward").get<double>(), s.at("signature").get<std::string>(),
                           s.at("strategy").get<std::string>(), s.at("token_ids").get<std::vector<std::int32_t>>()});
      }
      flush();
      per_task.push_back(summarise(metrics));
      per_task.back().prompts_judged_by_one_stored_answer = std::count_if(
          prompts.begin(), prompts.end(), [&](const TaskPrompt& p) { return prompt_task->judged_by_one_stored_answer(p); });
      rows.push_back({name, task, per_task.back()});
      if (progress) progress(static_cast<double>(++done) / pairs, fmt::format("{} on {}", name, task));
    }
    // The average is over held-out tasks only: RL prompts measure fit, not generalisation.
    std::vector<MetricsSummary> held_out;
    for (std::size_t t = 0; t < o.tasks.size(); ++t) {
      const std::string& name = o.tasks[t];
      if (name.size() < 3 || name.compare(name.size() - 3, 3, ":rl") != 0) held_out.push_back(per_task[t]);
    }
    per_task = held_out;
    if (per_task.size() > 1) {
      MetricsSummary avg;
      avg.samples_per_prompt = per_task.front().samples_per_prompt;
      // Each diversity column over the tasks that define it (a math task's distinct counts
      // are NaN: they must not hide the Countdown or code tasks' in the average).
      const auto mean_defined = [&](double MetricsSummary::*field) {
        double sum = 0, n = 0;
        for (const MetricsSummary& m : per_task) {
          if (!std::isnan(m.*field)) {
            sum += m.*field;
            ++n;
          }
        }
        return n > 0 ? sum / n : std::nan("");
      };
      for (const MetricsSummary& m : per_task) {
        avg.prompts += m.prompts;
        avg.prompts_judged_by_one_stored_answer += m.prompts_judged_by_one_stored_answer;
        avg.mean_at_k += m.mean_at_k / static_cast<double>(per_task.size());
        for (const auto& [j, v] : m.pass_at) avg.pass_at[j] += v / static_cast<double>(per_task.size());
      }
      avg.distinct_correct = mean_defined(&MetricsSummary::distinct_correct);
      avg.distinct_strategies = mean_defined(&MetricsSummary::distinct_strategies);
      avg.share_two_or_more_distinct = mean_defined(&MetricsSummary::share_two_or_more_distinct);
      avg.ngram_dispersion = mean_defined(&MetricsSummary::ngram_dispersion);
      rows.push_back({name, "average", avg});
    }
  }

  // results.csv and results.md
  std::vector<std::int64_t> js;
  for (std::int64_t j = 1; j <= o.k; j *= 2) js.push_back(j);
  if (js.back() != o.k) js.push_back(o.k);
  std::string csv = fmt::format("model,task,prompts,k,mean_at_k");
  std::string md = fmt::format("| model | task | prompts | Mean@{} |", o.k);
  std::string rule = "|---|---|---:|---:|";
  for (const std::int64_t j : js) {
    csv += fmt::format(",pass_at_{}", j);
    md += fmt::format(" pass@{} |", j);
    rule += "---:|";
  }
  csv += ",distinct_correct,distinct_strategies,ngram_dispersion,share_two_or_more_distinct,"
         "prompts_judged_by_one_stored_answer\n";
  md += " distinct correct | distinct strategies | n-gram dispersion | share >= 2 distinct |\n" + rule + "---:|---:|---:|---:|\n";
  for (const EvalRow& r : rows) {
    const MetricsSummary& m = r.metrics;
    csv += fmt::format("{},{},{},{},{}", r.model, r.task, m.prompts, o.k, cell(m.mean_at_k));
    md += fmt::format("| {} | {} | {} | {} |", r.model, r.task, m.prompts, cell(m.mean_at_k));
    for (const std::int64_t j : js) {
      const auto found = m.pass_at.find(j);
      const double v = found == m.pass_at.end() ? std::nan("") : found->second;
      csv += "," + cell(v);
      md += " " + cell(v) + " |";
    }
    csv += fmt::format(",{},{},{},{},{}\n", cell(m.distinct_correct), cell(m.distinct_strategies),
                       cell(m.ngram_dispersion), cell(m.share_two_or_more_distinct),
                       m.prompts_judged_by_one_stored_answer);
    md += fmt::format(" {} | {} | {} | {} |\n", cell(m.distinct_correct), cell(m.distinct_strategies),
                      cell(m.ngram_dispersion), cell(m.share_two_or_more_distinct));
  }
  // Rewards of prompts with several right answers but one stored are lower bounds: said
  // under the table, where a reader compares methods.
  std::set<std::string> noted;  // every model saw the same prompts of a task
  for (const EvalRow& r : rows) {
    const MetricsSummary& m = r.metrics;
    if (m.prompts_judged_by_one_stored_answer == 0 || r.task == "average" || !noted.insert(r.task).second) continue;
    md += fmt::format("\n{}: {} of {} prompts admit several right answers, but the dataset gives one and no checker, "
                      "so a different right answer scores 0 (their rewards are lower bounds).\n",
                      r.task, m.prompts_judged_by_one_stored_answer, m.prompts);
  }
  write_file_atomically(o.out / "results.csv", [&](std::ostream& s) { s << csv; });
  write_file_atomically(o.out / "results.md", [&](std::ostream& s) { s << md; });
  write_file_atomically(o.out / "per_prompt.csv", [&](std::ostream& s) { s << per_prompt; });
  nlohmann::ordered_json record{{"stage", "eval"}, {"options", options},
                                {"seconds_this_invocation",
                                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()}};
  write_json_atomically(o.out / "eval.json", record);
  return rows;
}

}  // namespace disa::llm::pipeline
