// Resolving a model folder to its safetensors files and checking a sharded index
// against the shards' own headers.
#include "llm/safetensors/model_weights.h"

#include <fstream>
#include <iterator>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "llm/safetensors/message_quote.h"
#include "src/input_error.h"
#include "src/json_strict.h"

namespace disa::llm {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::uintmax_t kMaxIndexBytes = 100'000'000;  // same cap as a safetensors header

// A name given twice in weight_map would map one tensor to two shards: parse_json_strict
// refuses it (and a raw NUL byte, which nlohmann's lexer takes for the end of the input).
json parse_index(const std::string& text, const std::string& source) {
  try {
    return parse_json_strict(text, source);
  } catch (const json::exception& e) {
    throw InputError(fmt::format("{}: not valid JSON: {}", source, e.what()));
  }
}

std::string read_small_file(const fs::path& path, const std::string& source) {
  std::error_code ec;
  const std::uintmax_t size = fs::file_size(path, ec);
  if (ec) throw InputError(fmt::format("cannot read {}: {}", source, ec.message()));
  if (size > kMaxIndexBytes) {
    throw InputError(fmt::format("{}: {} bytes, above the cap of {}", source, size, kMaxIndexBytes));
  }
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) throw InputError(fmt::format("cannot read {}", source));
  return text;
}

bool is_plain_file_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

ModelWeights open_single(const fs::path& file) {
  ModelWeights w;
  w.files.push_back(file);
  w.shards.push_back(SafetensorsFile::open(file));
  for (const TensorView& t : w.shards.back().tensors()) w.tensors.emplace(t.name, &t);
  return w;
}

ModelWeights open_index(const fs::path& index_path) {
  const std::string source = fmt::format("safetensors index '{}'", index_path.string());
  const std::map<std::string, std::string> weight_map = read_weight_map(index_path);

  std::set<std::string> shard_names;
  for (const auto& [tensor, shard] : weight_map) shard_names.insert(shard);

  ModelWeights w;
  std::map<std::string, std::string> found_in;  // tensor -> shard holding it
  for (const std::string& shard : shard_names) {
    const fs::path shard_path = index_path.parent_path() / shard;
    if (!fs::exists(shard_path)) {
      throw InputError(fmt::format("{}: shard {} (listed in weight_map) does not exist at '{}'",
                                   source, quote_for_message(shard), shard_path.string()));
    }
    w.files.push_back(shard_path);
    w.shards.push_back(SafetensorsFile::open(shard_path));
    for (const TensorView& t : w.shards.back().tensors()) {
      auto [it, fresh] = found_in.emplace(t.name, shard);
      if (!fresh) {
        throw InputError(fmt::format("{}: tensor {} is in two shards, {} and {}", source,
                                     quote_for_message(t.name), quote_for_message(it->second),
                                     quote_for_message(shard)));
      }
      auto listed = weight_map.find(t.name);
      if (listed == weight_map.end()) {
        throw InputError(fmt::format("{}: tensor {} in shard {} is not listed in weight_map", source,
                                     quote_for_message(t.name), quote_for_message(shard)));
      }
      if (listed->second != shard) {
        throw InputError(fmt::format("{}: tensor {} is in shard {} but weight_map says {}", source,
                                     quote_for_message(t.name), quote_for_message(shard),
                                     quote_for_message(listed->second)));
      }
      w.tensors.emplace(t.name, &t);
    }
  }
  for (const auto& [tensor, shard] : weight_map) {
    if (!found_in.count(tensor)) {
      throw InputError(fmt::format("{}: tensor {} is listed in weight_map for shard {} but that "
                                   "shard does not hold it",
                                   source, quote_for_message(tensor), quote_for_message(shard)));
    }
  }
  return w;
}

}  // namespace

std::map<std::string, std::string> read_weight_map(const fs::path& index_path) {
  const std::string source = fmt::format("safetensors index '{}'", index_path.string());
  const json index = parse_index(read_small_file(index_path, source), source);
  if (!index.is_object()) throw InputError(fmt::format("{}: not a JSON object", source));
  auto wm = index.find("weight_map");
  if (wm == index.end()) throw InputError(fmt::format("{}: missing field \"weight_map\"", source));
  if (!wm->is_object()) {
    throw InputError(fmt::format("{}: \"weight_map\" must be an object of tensor name -> shard file, "
                                 "found {}", source, wm->type_name()));
  }
  std::map<std::string, std::string> out;
  for (const auto& [tensor, shard] : wm->items()) {
    if (!shard.is_string()) {
      throw InputError(fmt::format("{}: weight_map[{}] must be a file name, found {}", source,
                                   quote_for_message(tensor), shard.type_name()));
    }
    const std::string name = shard.get<std::string>();
    if (!is_plain_file_name(name)) {
      throw InputError(fmt::format("{}: weight_map[{}] = {} is not a plain file name in the index's "
                                   "folder", source, quote_for_message(tensor), quote_for_message(name)));
    }
    out.emplace(tensor, name);
  }
  if (out.empty()) throw InputError(fmt::format("{}: weight_map is empty", source));
  return out;
}

ModelWeights open_model_weights(const fs::path& path) {
  if (fs::is_directory(path)) {
    if (fs::exists(path / "model.safetensors")) return open_single(path / "model.safetensors");
    if (fs::exists(path / "model.safetensors.index.json")) {
      return open_index(path / "model.safetensors.index.json");
    }
    throw InputError(fmt::format("model folder '{}' has neither model.safetensors nor "
                                 "model.safetensors.index.json", path.string()));
  }
  if (!fs::exists(path)) throw InputError(fmt::format("'{}' does not exist", path.string()));
  const std::string name = path.filename().string();
  if (name.size() >= 5 && name.compare(name.size() - 5, 5, ".json") == 0) return open_index(path);
  return open_single(path);
}

}  // namespace disa::llm
