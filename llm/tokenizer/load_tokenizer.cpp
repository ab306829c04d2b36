// load_tokenizer(): finds the tokenizer.json and picks the implementation by model.type.
#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "llm/tokenizer/bpe_tokenizer.h"
#include "llm/tokenizer/char_tokenizer.h"
#include "llm/tokenizer/json_fields.h"
#include "llm/tokenizer/tokenizer.h"
#include "src/input_error.h"
#include "src/json_strict.h"

namespace disa::llm {
namespace {

namespace fs = std::filesystem;

nlohmann::json read_json(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot be read", file.string()));
  try {
    // Strict like every JSON input: a vocabulary naming one token twice would give it two
    // ids. The check counts keys per object, so the 11 MB Qwen tokenizer.json loads as fast.
    return parse_json_strict(in, file.string());
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("{}: not valid JSON: {}", file.string(), e.what()));
  }
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const fs::path& file_or_folder) {
  const fs::path file = fs::is_directory(file_or_folder) ? file_or_folder / "tokenizer.json" : file_or_folder;
  if (!fs::is_regular_file(file)) {
    throw InputError(
        fmt::format("{}: no such file (give a tokenizer.json or a model folder holding one)", file.string()));
  }
  const nlohmann::json tokenizer = read_json(file);
  const nlohmann::json& model = json_fields::require(tokenizer, "model", file.string(), "model");
  const std::string type = json_fields::require_string(model, "type", file.string(), "model.type");
  if (type == "BPE") {
    const fs::path config_file = file.parent_path() / "tokenizer_config.json";
    if (fs::is_regular_file(config_file)) {
      const nlohmann::json config = read_json(config_file);
      return std::make_unique<ByteLevelBpeTokenizer>(tokenizer, file, &config);
    }
    return std::make_unique<ByteLevelBpeTokenizer>(tokenizer, file);
  }
  if (type == "disa-char") return std::make_unique<CharTokenizer>(CharTokenizer::from_json(tokenizer, file));
  json_fields::fail(file.string(), "model.type", fmt::format("'{}' is not supported (BPE, disa-char)", type));
}

}  // namespace disa::llm
