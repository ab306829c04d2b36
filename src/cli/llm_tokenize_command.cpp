// disa llm tokenize: text <-> token ids with a model's tokenizer, one input line at a time.
//
//   disa llm tokenize --tokenizer models/qwen3 --input texts.jsonl [--json]
//   disa llm tokenize --tokenizer tokenizer.json --input ids.jsonl --decode
//
// Encoding reads JSONL of strings (one JSON string per line, so any text, newlines
// included, fits on a line) and prints one line of ids per input line, space-separated
// or, with --json, as a JSON array. Decoding reads one JSON array of ids per line and
// prints JSONL strings. --input - reads stdin. A bad line is an InputError naming it, and
// then nothing is printed: output is written only once every line has succeeded.
#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "llm/tokenizer/tokenizer.h"
#include "src/cli/commands.h"
#include "src/cli/output.h"
#include "src/input_error.h"
#include "src/json_strict.h"

namespace disa::cli {
namespace {

struct Args {
  std::string tokenizer;
  std::string input;
  bool decode = false;
  bool json = false;
};

std::string ids_line(const std::vector<std::int32_t>& ids, bool as_json) {
  std::string line = as_json ? "[" : "";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) line += as_json ? "," : " ";
    line += std::to_string(ids[i]);
  }
  if (as_json) line += "]";
  return line;
}

std::vector<std::int32_t> parse_ids(const nlohmann::json& value, const std::string& where) {
  if (!value.is_array()) throw InputError(fmt::format("{}: expected a JSON array of token ids", where));
  std::vector<std::int32_t> ids;
  ids.reserve(value.size());
  for (const auto& v : value) {
    // An unsigned value is compared as one: 2^64 - 1 read as int64 would pass as id -1.
    const bool in_range = v.is_number_unsigned() ? v.get<std::uint64_t>() <= INT32_MAX
                          : v.is_number_integer() && v.get<std::int64_t>() >= INT32_MIN && v.get<std::int64_t>() <= INT32_MAX;
    if (!in_range) {
      throw InputError(fmt::format("{}: {} is not a token id", where, json_excerpt(v)));
    }
    ids.push_back(v.get<std::int32_t>());
  }
  return ids;
}

void run_tokenize(const Args& a) {
  if (a.decode && a.json) throw InputError("--json: only for encoding (--decode always prints JSONL strings)");
  std::unique_ptr<llm::Tokenizer> tokenizer;
  try {
    tokenizer = llm::load_tokenizer(a.tokenizer);
  } catch (const InputError& e) {
    throw InputError(fmt::format("--tokenizer: {}", e.what()));
  }
  std::string out;  // all output lines, written at the end
  for_each_jsonl_line(a.input, [&](const nlohmann::json& value, const std::string& where) {
    try {
      if (a.decode) {
        out += nlohmann::json(tokenizer->decode(parse_ids(value, where))).dump();
      } else {
        if (!value.is_string()) throw InputError(fmt::format("{}: expected a JSON string", where));
        out += ids_line(tokenizer->encode(value.get_ref<const std::string&>()), a.json);
      }
    } catch (const InputError& e) {
      const std::string what = e.what();
      throw InputError(what.starts_with(where) ? what : fmt::format("{}: {}", where, what));
    }
    out += '\n';
  });
  std::fwrite(out.data(), 1, out.size(), stdout);
}

}  // namespace

void add_llm_tokenize_command(CLI::App& llm) {
  auto args = std::make_shared<Args>();
  CLI::App* cmd = llm.add_subcommand(
      "tokenize",
      "Encode JSONL strings to token ids (one line of ids per line), or --decode id arrays to JSONL strings");
  cmd->add_option("--tokenizer", args->tokenizer, "tokenizer.json, or a model folder holding one")->required();
  cmd->add_option("--input", args->input,
                  "JSONL file: one JSON string per line (or an id array with --decode); - for stdin")
      ->required();
  cmd->add_flag("--decode", args->decode, "Input lines are JSON arrays of ids; print the texts as JSONL strings");
  cmd->add_flag("--json", args->json, "Print each line of ids as a JSON array instead of space-separated");
  cmd->callback([args] { run_tokenize(*args); });
}

}  // namespace disa::cli
