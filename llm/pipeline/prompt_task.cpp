#include "llm/pipeline/prompt_task.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <stdexcept>
#include <utility>
#include <fstream>
#include <map>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "llm/pipeline/trajectory_file.h"
#include "llm/tasks/countdown.h"
#include "llm/tokenizer/chat_format.h"
#include "llm/verify/code_benchmarks.h"
#include "llm/verify/code_verifier.h"
#include "llm/verify/math_benchmarks.h"
#include "llm/verify/math_verifier.h"
#include "src/input_error.h"
#include "src/json_strict.h"

namespace disa::llm::pipeline {
namespace {

std::uint64_t text_hash(const std::string& text) {
  std::uint64_t h = 1469598103934665603ull;
  for (const char c : text) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}

// A benchmark prompt: the user message in ChatML with the generation prompt, after the
// default system turn the model's chat template inserts (single_turn), as Hugging Face's
// apply_chat_template renders it; the plain text for a tokenizer without ChatML tokens.
TaskPrompt chat_prompt(std::size_t index, std::string id, const std::string& user, const Tokenizer& tokenizer) {
  TaskPrompt t;
  t.index = static_cast<std::int64_t>(index);
  t.id = std::move(id);
  const std::vector<ChatMessage> messages = single_turn(tokenizer, user);
  t.text = render_chatml(messages, true);
  t.tokens = tokenizer.special_ids().im_start ? encode_chatml(tokenizer, messages, true) : tokenizer.encode(user);
  return t;
}

class CountdownTask final : public PromptTask {
 public:
  CountdownTask(countdown::TaskConfig config, std::uint64_t seed, const Tokenizer& tokenizer)
      : config_(config), seed_(seed), tokenizer_(tokenizer) {}

  std::string name() const override { return "countdown"; }

  // Both kinds of prompts are held-out problems (pretraining never saw them: RL on the
  // pretraining split would measure memorisation; the in-house model solves 92% of those,
  // 37% of held-out ones). The distinct held-out problems are halved by a hash of the
  // problem (numbers sorted, target), so RL and evaluation never share one: evaluation
  // prompts are the first `count` distinct problems of one half in the eval split's draw
  // order, RL prompts those of the other half.
  std::vector<TaskPrompt> prompts(PromptSplit split, std::int64_t count) const override {
    if (count <= 0) throw InputError(fmt::format("countdown: prompt count = {} must be positive", count));
    const bool want_eval = split == PromptSplit::kEval;
    // As for a benchmark, a count beyond the split gives the whole split.
    if (const std::optional<std::int64_t> pool = held_out_pool(want_eval); pool && count > *pool) count = *pool;
    if (count == 0) {
      throw InputError(fmt::format("countdown: the task ({} numbers of 1..{}, targets {}..{}) has no held-out problem "
                                   "for {}",
                                   config_.count, config_.max_number, config_.min_target, config_.max_target,
                                   want_eval ? "evaluation" : "RL"));
    }
    std::vector<TaskPrompt> out;
    std::set<std::string> seen;
    const std::uint64_t limit = 200 * static_cast<std::uint64_t>(count) + 100000;
    for (std::uint64_t j = 0; static_cast<std::int64_t>(out.size()) < count; ++j) {
      if (j > limit) {
        throw InputError(fmt::format("countdown: fewer than {} distinct held-out problems for {} prompts exist "
                                     "(the task's eval split is too small; lower the prompt count)",
                                     count, want_eval ? "evaluation" : "RL"));
      }
      const countdown::Problem p = countdown::generate(config_, seed_, countdown::Split::kEval, j);
      std::vector<std::int64_t> sorted = p.numbers;
      std::sort(sorted.begin(), sorted.end());
      std::string key = std::to_string(p.target);
      for (const std::int64_t n : sorted) key += fmt::format(",{}", n);
      if (!in_half(key, want_eval) || !seen.insert(key).second) continue;
      TaskPrompt t;
      t.index = static_cast<std::int64_t>(out.size());
      t.id = fmt::format("countdown-{}-{}", want_eval ? "eval" : "rl", t.index);
      t.text = countdown::prompt_text(p);
      t.tokens = tokenizer_.encode(t.text);
      problems_[t.id] = p;
      out.push_back(std::move(t));
    }
    return out;
  }

  // The half of the held-out problems a key (target, sorted numbers) belongs to.
  static bool in_half(const std::string& key, bool want_eval) {
    return ((text_hash(key) >> 7) & 1u) == (want_eval ? 0u : 1u);
  }

  // How many distinct problems the half holds, by enumerating every multiset of numbers
  // (the draw loop above would spend a minute drawing before giving up on a count beyond
  // the split). nullopt when that enumeration would be slow (more than 4 numbers or 5000
  // multisets): the draw loop's limit decides then.
  std::optional<std::int64_t> held_out_pool(bool want_eval) const {
    if (config_.count > 4) return std::nullopt;
    double multisets = 1;  // C(max_number + count - 1, count)
    for (int k = 0; k < config_.count; ++k) multisets *= double(config_.max_number + k) / double(k + 1);
    if (multisets > 5000) return std::nullopt;
    std::int64_t pool = 0;
    std::vector<std::int64_t> numbers(static_cast<std::size_t>(config_.count), 1);
    while (true) {
      for (const auto& [value, solutions] : countdown::solve_all(numbers)) {
        if (!value.is_integer() || value.num < config_.min_target || value.num > config_.max_target ||
            static_cast<int>(solutions.size()) < config_.min_solutions) {
          continue;
        }
        const countdown::Problem p{numbers, value.num};
        std::string key = std::to_string(p.target);
        for (const std::int64_t n : numbers) key += fmt::format(",{}", n);
        pool += countdown::split_of(p, config_) == countdown::Split::kEval && in_half(key, want_eval);
      }
      // Next non-decreasing sequence of numbers in 1..max_number.
      int i = config_.count - 1;
      while (i >= 0 && numbers[i] == config_.max_number) --i;
      if (i < 0) break;
      ++numbers[i];
      for (int j = i + 1; j < config_.count; ++j) numbers[j] = numbers[i];
    }
    return pool;
  }

  TaskVerdict verify(const TaskPrompt& prompt, std::string_view response) const override {
    const auto found = problems_.find(prompt.id);
    if (found == problems_.end()) throw InputError(fmt::format("countdown: unknown prompt id '{}'", prompt.id));
    const countdown::Verdict v = countdown::verify(found->second, response);
    TaskVerdict out{v.reward, countdown::reason_name(v.reason), "", ""};
    if (v.reward == 1) {
      out.signature = v.signature;
      out.strategy = operator_skeleton(v.signature);
    }
    return out;
  }

 private:
  countdown::TaskConfig config_;
  std::uint64_t seed_;
  const Tokenizer& tokenizer_;
  mutable std::map<std::string, countdown::Problem> problems_;  // filled by prompts()
};

class MathTask final : public PromptTask {
 public:
  MathTask(verify::MathBenchmark benchmark, const std::filesystem::path& data_dir, const Tokenizer& tokenizer)
      : benchmark_(benchmark), cases_(verify::load_benchmark(benchmark, data_dir)), tokenizer_(tokenizer) {}

  std::string name() const override { return std::string(verify::benchmark_name(benchmark_)); }

  std::vector<TaskPrompt> prompts(PromptSplit, std::int64_t count) const override {
    const std::size_t n = count <= 0 ? cases_.size() : std::min<std::size_t>(cases_.size(), count);
    std::vector<TaskPrompt> out;
    for (std::size_t i = 0; i < n; ++i) {
      // Qwen2.5-Math's evaluation prompt.
      out.push_back(chat_prompt(
          i, fmt::format("{}-{}", name(), cases_[i].id),
          cases_[i].question + "\nPlease reason step by step, and put your final answer within \\boxed{}.", tokenizer_));
    }
    return out;
  }

  TaskVerdict verify(const TaskPrompt& prompt, std::string_view response) const override {
    if (prompt.index < 0 || static_cast<std::size_t>(prompt.index) >= cases_.size()) {
      throw InputError(fmt::format("{}: prompt index {} outside the benchmark's {} records", name(), prompt.index,
                                   cases_.size()));
    }
    const verify::BenchmarkCase& c = cases_[prompt.index];
    const verify::VerifyResult r = verify::verify_math_multi(response, c.answers, c.is_multiple);
    // No signature (prompt_task.h): every correct answer is the reference's value.
    return TaskVerdict{static_cast<double>(r.reward), r.reason, "", ""};
  }

 private:
  verify::MathBenchmark benchmark_;
  std::vector<verify::BenchmarkCase> cases_;
  const Tokenizer& tokenizer_;
};

// A code benchmark: the problem in ChatML, the reward from the sandboxed tests
// (llm/verify/code_verifier.h). The response must hold a whole program (a ```python block
// or bare code), as instruction-tuned models answer.
class CodeTask final : public PromptTask {
 public:
  CodeTask(verify::CodeBenchmark benchmark, const std::filesystem::path& data_dir, const Tokenizer& tokenizer)
      : benchmark_(benchmark), cases_(verify::load_code_benchmark(benchmark, data_dir)), tokenizer_(tokenizer) {
    verify::add_hidden_path(sandbox_, data_dir);  // the answer keys: no program may read them
  }

  std::string name() const override { return std::string(verify::code_benchmark_name(benchmark_)); }

  std::vector<TaskPrompt> prompts(PromptSplit, std::int64_t count) const override {
    const std::size_t n = count <= 0 ? cases_.size() : std::min<std::size_t>(cases_.size(), count);
    std::vector<TaskPrompt> out;
    for (std::size_t i = 0; i < n; ++i) {
      const verify::CodeBenchmarkCase& c = cases_[i];
      const std::string user =
          c.task.kind == verify::CodeTestKind::kCheckFunction
              ? "Complete the following Python function. Answer with the whole function in a ```python block.\n\n" +
                    c.prompt
              : c.prompt + "\n\nAnswer with a complete Python program in a ```python block" +
                    (c.task.kind == verify::CodeTestKind::kStdio ? " that reads standard input and writes standard output."
                                                                 : ".");
      out.push_back(chat_prompt(i, fmt::format("{}-{}", name(), c.id), user, tokenizer_));
    }
    return out;
  }

  TaskVerdict verify(const TaskPrompt& prompt, std::string_view response) const override {
    const verify::CodeVerifyResult r = verify::verify_code(response, case_of(prompt).task, sandbox_);
    TaskVerdict out{static_cast<double>(r.reward), r.reason, "", ""};
    if (r.reward == 1) {
      // Distinct solutions: the program with its whitespace runs collapsed.
      std::string normal;
      for (const char ch : r.program) {
        const bool space = std::isspace(static_cast<unsigned char>(ch)) != 0;
        if (space && (normal.empty() || normal.back() == ' ')) continue;
        normal += space ? ' ' : ch;
      }
      out.signature = normal;
    }
    return out;
  }

  bool judged_by_one_stored_answer(const TaskPrompt& prompt) const override {
    return case_of(prompt).task.compare.several_answers;
  }

 private:
  const verify::CodeBenchmarkCase& case_of(const TaskPrompt& prompt) const {
    if (prompt.index < 0 || static_cast<std::size_t>(prompt.index) >= cases_.size()) {
      throw InputError(fmt::format("{}: prompt index {} outside the benchmark's {} records", name(), prompt.index,
                                   cases_.size()));
    }
    return cases_[static_cast<std::size_t>(prompt.index)];
  }

  verify::CodeBenchmark benchmark_;
  std::vector<verify::CodeBenchmarkCase> cases_;
  const Tokenizer& tokenizer_;
  verify::SandboxOptions sandbox_;
};

countdown::TaskConfig read_countdown_config(const std::filesystem::path& model_folder, std::uint64_t* seed) {
  const auto path = model_folder / "task.json";
  std::ifstream in(path);
  if (!in) {
    throw InputError(fmt::format("task=countdown: '{}' not found (a model made by `disa llm pretrain` has it)",
                                 path.string()));
  }
  nlohmann::json j;
  try {
    j = parse_json_strict(in, fmt::format("'{}'", path.string()));
    if (j.at("task") != "countdown") throw InputError(fmt::format("'{}': task is {}, not countdown", path.string(), j.at("task").dump()));
    const auto& c = j.at("config");
    countdown::TaskConfig config;
    config.count = c.at("count").get<int>();
    config.max_number = c.at("max_number").get<std::int64_t>();
    config.min_target = c.at("min_target").get<std::int64_t>();
    config.max_target = c.at("max_target").get<std::int64_t>();
    config.min_solutions = c.at("min_solutions").get<int>();
    config.eval_per_mille = c.at("eval_per_mille").get<int>();
    countdown::validate(config);
    *seed = j.at("seed").get<std::uint64_t>();
    return config;
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("'{}': {}", path.string(), e.what()));
  }
}

}  // namespace

std::string prompts_fingerprint(const std::vector<TaskPrompt>& prompts) {
  std::string all;
  for (const TaskPrompt& p : prompts) all += p.id + '\n' + p.text + '\n';
  return text_fingerprint(all);
}

std::string operator_skeleton(std::string_view signature) {
  std::string out;
  for (std::size_t i = 0; i < signature.size(); ++i) {
    if (std::isdigit(static_cast<unsigned char>(signature[i]))) {
      out += 'n';
      while (i + 1 < signature.size() && std::isdigit(static_cast<unsigned char>(signature[i + 1]))) ++i;
    } else {
      out += signature[i];
    }
  }
  return out;
}

void check_task_name(std::string_view key, std::string_view spec) {
  if (spec == "countdown" || verify::parse_benchmark(spec) || verify::parse_code_benchmark(spec)) return;
  throw InputError(
      fmt::format("{}={}: unknown task (countdown, math500, gsm8k, aime24, aime25, amc23, minerva, "
                  "olympiadbench, humaneval, humanevalplus, livecodebench, codeforces)",
                  key, spec));
}

std::unique_ptr<PromptTask> make_task(std::string_view spec, const std::filesystem::path& model_folder,
                                      const std::filesystem::path& data_dir, const Tokenizer& tokenizer) {
  if (spec == "countdown") {
    std::uint64_t seed = 0;
    const countdown::TaskConfig config = read_countdown_config(model_folder, &seed);
    return std::make_unique<CountdownTask>(config, seed, tokenizer);
  }
  if (const auto b = verify::parse_benchmark(spec)) {
    if (data_dir.empty()) throw InputError(fmt::format("task={}: data_dir (the benchmarks' folder) is required", spec));
    return std::make_unique<MathTask>(*b, data_dir, tokenizer);
  }
  if (const auto b = verify::parse_code_benchmark(spec)) {
    if (data_dir.empty()) throw InputError(fmt::format("task={}: data_dir (the benchmarks' folder) is required", spec));
    return std::make_unique<CodeTask>(*b, data_dir, tokenizer);
  }
  check_task_name("task", spec);  // throws: no task has that name
  throw std::logic_error(fmt::format("make_task: '{}' passed check_task_name but has no task", spec));
}

}  // namespace disa::llm::pipeline
