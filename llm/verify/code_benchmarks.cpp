#include "llm/verify/code_benchmarks.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "llm/verify/pcre2_regex.h"
#include "src/input_error.h"
#include "src/json_strict.h"

namespace disa::llm::verify {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("code benchmark file {}: cannot open (is ../shared/data there?)", path.string()));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string read_gzip(const fs::path& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw InputError(fmt::format("code benchmark file {}: cannot open (is ../shared/data there?)", path.string()));
  std::string text;
  char buf[1 << 16];
  int n = 0;
  while ((n = gzread(f, buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(n));
  int errnum = 0;
  const char* msg = gzerror(f, &errnum);
  const std::string error = (n < 0 || errnum < 0) ? msg : "";
  gzclose(f);
  if (!error.empty()) throw InputError(fmt::format("code benchmark file {}: gzip: {}", path.string(), error));
  return text;
}

std::vector<nlohmann::json> jsonl_records(const std::string& text, const fs::path& path) {
  std::vector<nlohmann::json> records;
  std::istringstream lines(text);
  std::string line;
  for (std::size_t number = 1; std::getline(lines, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = fmt::format("{} line {}", path.string(), number);
    nlohmann::json j;
    try {
      j = parse_json_strict(line, where);
    } catch (const nlohmann::json::exception&) {
      throw InputError(fmt::format("{}: not a JSON object", where));
    }
    if (!j.is_object()) throw InputError(fmt::format("{}: not a JSON object", where));
    records.push_back(std::move(j));
  }
  return records;
}

std::string string_field(const nlohmann::json& record, const char* field, const std::string& where) {
  if (!record.contains(field) || !record[field].is_string()) {
    throw InputError(fmt::format("{}: field '{}' is missing or not a string", where, field));
  }
  return record[field].get<std::string>();
}

std::string fenced(const std::string& code) {
  std::string body = code;
  if (!body.empty() && body.back() != '\n') body += '\n';
  return "```python\n" + body + "```\n";
}

std::vector<CodeBenchmarkCase> load_humaneval(const fs::path& path, bool plus) {
  std::vector<CodeBenchmarkCase> cases;
  const auto records = jsonl_records(read_gzip(path), path);
  for (std::size_t i = 0; i < records.size(); ++i) {
    const nlohmann::json& r = records[i];
    const std::string where = fmt::format("{} line {}", path.string(), i + 1);
    CodeBenchmarkCase c;
    c.id = string_field(r, "task_id", where);
    c.prompt = string_field(r, "prompt", where);
    c.task.kind = CodeTestKind::kCheckFunction;
    c.task.entry_point = string_field(r, "entry_point", where);
    c.task.prompt = c.prompt;  // its imports and helpers: the tests of 38, 50 and 32 call them
    c.task.test_code = string_field(r, "test", where);
    const std::string solution = c.prompt + string_field(r, "canonical_solution", where);
    c.reference_response = fenced(solution);
    if (plus) {
      for (const char* field : {"base_input", "plus_input"}) {
        if (!r.contains(field) || !r[field].is_array()) {
          throw InputError(fmt::format("{}: field '{}' is missing or not a list", where, field));
        }
      }
      if (!r.contains("atol") || !r["atol"].is_number()) {
        throw InputError(fmt::format("{}: field 'atol' is missing or not a number", where));
      }
      nlohmann::json inputs = r["base_input"];
      for (const auto& x : r["plus_input"]) inputs.push_back(x);
      c.task.reference = solution;
      c.task.inputs_json = inputs.dump();
      c.task.atol = r["atol"].get<double>();
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

nlohmann::json json_list(const fs::path& path) {
  nlohmann::json j;
  try {
    j = parse_json_strict(read_text(path), path.string());
  } catch (const nlohmann::json::exception&) {
    throw InputError(fmt::format("{}: not a JSON list", path.string()));
  }
  if (!j.is_array()) throw InputError(fmt::format("{}: not a JSON list", path.string()));
  return j;
}

std::vector<CodeBenchmarkCase> load_io_benchmark(const fs::path& path, bool has_starter) {
  std::vector<CodeBenchmarkCase> cases;
  const nlohmann::json records = json_list(path);
  for (std::size_t i = 0; i < records.size(); ++i) {
    const nlohmann::json& r = records[i];
    const std::string where = fmt::format("{} record {}", path.string(), i);
    if (!r.is_object()) throw InputError(fmt::format("{}: not a JSON object", where));
    CodeBenchmarkCase c;
    c.id = std::to_string(i);
    c.prompt = string_field(r, "problem", where);
    if (!r.contains("tests")) throw InputError(fmt::format("{}: field 'tests' is missing", where));
    parse_io_tests(r["tests"], where, c.task);
    c.task.compare = comparison_from_statement(c.prompt);
    if (has_starter) {
      const std::string starter = string_field(r, "starter_code", where);
      if (c.task.kind == CodeTestKind::kFunctional) {
        const auto method = starter_method_name(starter);
        if (!method) {
          throw InputError(fmt::format("{}: field 'starter_code': no `def name(self` in '{}'", where,
                                       starter.substr(0, 80)));
        }
        c.task.entry_point = *method;
        require_json_functional_tests(c.task, where);
        c.prompt += "\n\n" + starter;
      }
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

}  // namespace

std::string_view code_benchmark_name(CodeBenchmark b) {
  switch (b) {
    case CodeBenchmark::kHumanEval: return "humaneval";
    case CodeBenchmark::kHumanEvalPlus: return "humanevalplus";
    case CodeBenchmark::kLiveCodeBench: return "livecodebench";
    case CodeBenchmark::kCodeforces: return "codeforces";
  }
  return "?";
}

std::optional<CodeBenchmark> parse_code_benchmark(std::string_view name) {
  for (CodeBenchmark b : kAllCodeBenchmarks) {
    if (code_benchmark_name(b) == name) return b;
  }
  return std::nullopt;
}

std::optional<std::string> starter_method_name(std::string_view starter_code) {
  const std::size_t def = starter_code.find("def ");
  if (def == std::string_view::npos) return std::nullopt;
  std::size_t i = def + 4;
  std::string name;
  while (i < starter_code.size() && (std::isalnum(static_cast<unsigned char>(starter_code[i])) || starter_code[i] == '_')) {
    name += starter_code[i++];
  }
  if (name.empty()) return std::nullopt;
  return name;
}

namespace {

// The phrasings below are those of codeforces.json and livecodebench.json (counts in
// llm/verify/README.md); each stays within one sentence ([^.\n]) so that words of
// neighbouring sentences never combine.
const Pcre2Regex& any_case_sentence() {
  static const Pcre2Regex re(R"(\b(?:can|may)\s+(?:output|print)\b[^.\n]{0,60}?\bin\s+any\s+case\b)", true);
  return re;
}

// A word the "in any case" sentence quotes: "YES", “YES”, 'YES' or $\texttt{YES}$ (the
// datasets: "YES"/"NO" 8 statements, "Yes"/"No" 4, \texttt{YES}/\texttt{NO} 1,
// \texttt{Yes}/\texttt{No} 3). Letters only: case is about letters.
const Pcre2Regex& quoted_word() {
  static const Pcre2Regex re(R"re("([A-Za-z]+)"|“([A-Za-z]+)”|'([A-Za-z]+)'|\\texttt\{([A-Za-z]+)\})re");
  return re;
}

// "absolute or relative error ... 10^{-k}", with an optional mantissa ("2 \cdot 10^{-6}",
// "2.5·10^{-6}", "2e-6"): groups 1-2 are (mantissa, k) of the 10^ form, 3-4 of the e form.
const Pcre2Regex& error_bound_sentence() {
  static const Pcre2Regex re(
      R"(\b(?:absolute|relative)\s+(?:or|and)\s+(?:absolute|relative)\s+error\b[^.\n]{0,80}?)"
      R"((?:(?:\b(\d{1,3}(?:\.\d{1,6})?)\s*(?:\\cdot|\\times|·|×|\*)\s*)?10\s*\^\s*[{(]?\s*[-−]\s*(\d{1,2})\b)"
      R"(|\b(\d{1,3}(?:\.\d{1,6})?)e-(\d{1,2})\b))",
      true);
  return re;
}

const Pcre2Regex& several_answers_sentence() {
  static const Pcre2Regex re(
      // "If there are multiple answers, print any", "If multiple solutions exist, any of
      // them will be accepted", "If there exist multiple such permutations, you can pick any"
      R"(\bif\b[^.\n]{0,80}?\b(?:multiple|several|more\s+than\s+one)\b[^.\n]{0,120}?)"
      R"((?:\b(?:output|print|pick|choose)\s+any\b|\bany\s+of\s+them\s+will\s+be\s+accepted\b))"
      // "output n*m integers -- any suitable matrix" (no "if" between: "print -1 if ...
      // consistent with any valid set" is not it)
      R"(|\b(?:print|output)\b(?:(?!\bif\b)[^.\n]){0,120}?\bany\s+(?:such|suitable|valid)\b)"
      R"(|\b(?:print|output)\s+any\s+string\b)"
      // "any other positive number instead of 1 ... will also be recognized as 1"
      R"(|\bany\s+other\b[^.\n]{0,120}?\bwill\s+also\s+be\s+(?:recognized|accepted)\b)",
      true);
  return re;
}

const Pcre2Regex& interactive_problem() {
  // Codeforces' statements open with the sentence, or (record 275) only carry the tag in
  // the "Tags:\n['constructive algorithms', 'interactive', 'strings']" line.
  static const Pcre2Regex re(R"(\bthis\s+is\s+an\s+interactive\s+problem\b|\btags:\s*\[[^\]\n]*'interactive')", true);
  return re;
}

std::optional<double> stated_error_bound(std::string_view statement) {
  const auto found = error_bound_sentence().find_all(statement);
  if (found.empty()) return std::nullopt;
  const auto& g = found.front().groups;
  const bool power_form = !g[1].empty();
  const std::string& mantissa = power_form ? g[0] : g[2];
  const std::string& k = power_form ? g[1] : g[3];
  const double bound = (mantissa.empty() ? 1.0 : std::stod(mantissa)) * std::pow(10.0, -std::stoi(k));
  // A bound of 1 or more ("5 \cdot 10^{-1}" is fine, "50 \cdot 10^{-1}" is not) is no
  // tolerance a float answer is judged by: read as no stated bound.
  if (!(bound > 0 && bound < 1)) return std::nullopt;
  return bound;
}

double number_in(const nlohmann::json& compare, const char* field, const std::string& where) {
  const nlohmann::json& v = compare[field];
  if (!v.is_number() || !(v.get<double>() > 0 && v.get<double>() < 1)) {
    throw InputError(fmt::format("{}: field 'compare.{}': expected a number in (0, 1), got {}", where, field,
                                 v.dump().substr(0, 80)));
  }
  return v.get<double>();
}

bool bool_in(const nlohmann::json& compare, const char* field, const std::string& where) {
  const nlohmann::json& v = compare[field];
  if (!v.is_boolean()) {
    throw InputError(fmt::format("{}: field 'compare.{}': expected true or false, got {}", where, field,
                                 v.dump().substr(0, 80)));
  }
  return v.get<bool>();
}

InputError case_insensitive_error(const std::string& where, const nlohmann::json& value) {
  return InputError(fmt::format("{}: field 'compare.case_insensitive': expected true, false or a non-empty list of "
                                "words such as [\"YES\", \"NO\"], got {}",
                                where, value.dump().substr(0, 80)));
}

// "case_insensitive": ["YES", "NO"]: the words whose case is free (none empty or with
// whitespace: a token never is).
std::vector<std::string> case_free_words(const nlohmann::json& list, const std::string& where) {
  std::vector<std::string> words;
  for (const nlohmann::json& w : list) {
    const bool word = w.is_string() && !w.get<std::string>().empty() &&
                      std::none_of(w.get_ref<const std::string&>().begin(), w.get_ref<const std::string&>().end(),
                                   [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
    if (!word) throw case_insensitive_error(where, list);
    words.push_back(w.get<std::string>());
  }
  if (words.empty()) throw case_insensitive_error(where, list);
  return words;
}

}  // namespace

OutputComparison comparison_from_statement(std::string_view statement) {
  OutputComparison how;
  // Case-blind for the words the sentences quote, or for every word when one quotes none
  // ("You can output the answer in any case").
  bool every_word = false;
  for (const RegexMatch& sentence : any_case_sentence().find_all(statement)) {
    how.case_insensitive = true;
    const auto quoted = quoted_word().find_all(statement.substr(sentence.begin, sentence.end - sentence.begin));
    if (quoted.empty()) every_word = true;
    for (const RegexMatch& q : quoted) {
      for (const std::string& g : q.groups) {
        if (!g.empty() && std::find(how.case_insensitive_words.begin(), how.case_insensitive_words.end(), g) ==
                              how.case_insensitive_words.end()) {
          how.case_insensitive_words.push_back(g);
        }
      }
    }
  }
  if (every_word) how.case_insensitive_words.clear();
  how.tolerance = stated_error_bound(statement).value_or(kDefaultOutputTolerance);
  how.interactive = !interactive_problem().find_all(statement).empty();
  how.several_answers_stated = !several_answers_sentence().find_all(statement).empty();
  how.several_answers = how.interactive || how.several_answers_stated;
  return how;
}

OutputComparison parse_output_comparison(const nlohmann::json& compare, const std::string& where,
                                         OutputComparison base) {
  if (!compare.is_object()) {
    throw InputError(fmt::format("{}: field 'compare': expected an object such as {{\"case_insensitive\": true, "
                                 "\"tolerance\": 1e-9, \"several_answers\": false}}, got {}",
                                 where, compare.dump().substr(0, 80)));
  }
  const bool was_interactive = base.interactive;
  for (auto it = compare.begin(); it != compare.end(); ++it) {
    if (it.key() == "case_insensitive") {
      const nlohmann::json& v = it.value();
      if (v.is_array()) {  // the words whose case is free
        base.case_insensitive_words = case_free_words(v, where);
        base.case_insensitive = true;
      } else {
        if (!v.is_boolean()) throw case_insensitive_error(where, v);
        base.case_insensitive = v.get<bool>();
        base.case_insensitive_words.clear();  // true: every word
      }
    } else if (it.key() == "tolerance") {
      base.tolerance = number_in(compare, "tolerance", where);
    } else if (it.key() == "several_answers") {
      base.several_answers = bool_in(compare, "several_answers", where);
      base.several_answers_stated = base.several_answers;
    } else if (it.key() == "interactive") {
      base.interactive = bool_in(compare, "interactive", where);
    } else {
      throw InputError(fmt::format(
          "{}: field 'compare.{}': unknown (case_insensitive, tolerance, several_answers, interactive)", where,
          it.key()));
    }
  }
  if (base.interactive && compare.contains("several_answers") && !base.several_answers) {
    throw InputError(fmt::format("{}: field 'compare.several_answers': false, but the task is interactive (one "
                                 "stored transcript: other right programs fail)",
                                 where));
  }
  // "interactive": false drops the several answers only interactive implied (was: kept,
  // and with them the note, on a task the record made a plain one).
  if (was_interactive && !base.interactive && !compare.contains("several_answers")) {
    base.several_answers = base.several_answers_stated;
  }
  base.several_answers = base.several_answers || base.interactive;
  return base;
}

namespace {

void require_json_arguments_and_result(const CodeTestCase& test, const std::string& at) {
  std::size_t start = 0;
  for (std::size_t line = 1; start <= test.input.size(); ++line) {
    std::size_t end = test.input.find('\n', start);
    if (end == std::string::npos) end = test.input.size();
    const std::string_view text = std::string_view(test.input).substr(start, end - start);
    if (text.find_first_not_of(" \t\r") != std::string_view::npos && !nlohmann::json::accept(text)) {
      throw InputError(fmt::format("{}: 'input' line {} '{}' is not JSON (functional tests pass JSON arguments)", at,
                                   line, text.substr(0, 80)));
    }
    start = end + 1;
  }
  if (!nlohmann::json::accept(test.output)) {
    throw InputError(fmt::format("{}: 'output' '{}' is not JSON (functional tests compare JSON results)", at,
                                 test.output.substr(0, 80)));
  }
}

}  // namespace

void require_json_functional_tests(const CodeTask& task, const std::string& where) {
  if (task.kind != CodeTestKind::kFunctional) return;
  for (std::size_t k = 0; k < task.tests.size(); ++k) {
    require_json_arguments_and_result(task.tests[k], fmt::format("{}: field 'tests' element {}", where, k));
  }
}

void parse_io_tests(const nlohmann::json& tests_field, const std::string& where, CodeTask& task) {
  nlohmann::json tests = tests_field;
  if (tests.is_string()) {
    try {
      tests = parse_json_strict(tests_field.get<std::string>(), fmt::format("{}: field 'tests'", where));
    } catch (const nlohmann::json::exception&) {
      throw InputError(fmt::format("{}: field 'tests': a string that is not JSON", where));
    }
  }
  if (!tests.is_array() || tests.empty()) {
    throw InputError(fmt::format("{}: field 'tests': expected a non-empty list of {{input, output}}, got {}", where,
                                 tests.dump().substr(0, 80)));
  }
  std::optional<CodeTestKind> kind;
  task.tests.clear();
  for (std::size_t k = 0; k < tests.size(); ++k) {
    const nlohmann::json& t = tests[k];
    const std::string at = fmt::format("{}: field 'tests' element {}", where, k);
    if (!t.is_object()) throw InputError(fmt::format("{}: not an object", at));
    CodeTestCase test;
    for (const char* field : {"input", "output"}) {
      if (!t.contains(field) || !t[field].is_string()) {
        throw InputError(fmt::format("{}: '{}' is missing or not a string", at, field));
      }
    }
    test.input = t["input"].get<std::string>();
    test.output = t["output"].get<std::string>();
    CodeTestKind this_kind = CodeTestKind::kStdio;
    if (t.contains("testtype")) {
      const std::string type = t["testtype"].is_string() ? t["testtype"].get<std::string>() : t["testtype"].dump();
      if (type == "functional") {
        this_kind = CodeTestKind::kFunctional;
      } else if (type != "stdin") {
        throw InputError(fmt::format("{}: 'testtype' '{}': expected stdin or functional", at, type));
      }
    }
    if (kind && *kind != this_kind) throw InputError(fmt::format("{}: mixes stdin and functional tests", at));
    kind = this_kind;
    task.tests.push_back(std::move(test));
  }
  task.kind = *kind;
}

std::vector<CodeBenchmarkCase> load_code_benchmark(CodeBenchmark b, const fs::path& data_dir) {
  switch (b) {
    case CodeBenchmark::kHumanEval: return load_humaneval(data_dir / "humaneval" / "HumanEval.jsonl.gz", false);
    case CodeBenchmark::kHumanEvalPlus:
      return load_humaneval(data_dir / "humanevalplus" / "HumanEvalPlus.jsonl.gz", true);
    case CodeBenchmark::kLiveCodeBench: return load_io_benchmark(data_dir / "livecodebench" / "livecodebench.json", true);
    case CodeBenchmark::kCodeforces: return load_io_benchmark(data_dir / "codeforces" / "codeforces.json", false);
  }
  return {};
}

}  // namespace disa::llm::verify
