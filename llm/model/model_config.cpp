#include "llm/model/model_config.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "src/input_error.h"
#include "src/json_strict.h"

namespace disa::llm {
namespace {

using nlohmann::json;

class FieldReader {
 public:
  FieldReader(const json& j, std::string source) : j_(j), source_(std::move(source)) {}

  [[noreturn]] void fail(const std::string& field, const std::string& why) const {
    const std::string value = j_.contains(field) ? j_.at(field).dump() : "missing";
    throw InputError(fmt::format("{}: field '{}' = {}: {}", source_, field, value, why));
  }

  bool has(const std::string& field) const { return j_.contains(field) && !j_.at(field).is_null(); }

  std::int64_t positive_int(const std::string& field) const {
    if (!has(field)) fail(field, "required positive integer");
    const json& v = j_.at(field);
    if (!v.is_number_integer() || v.get<std::int64_t>() <= 0) fail(field, "must be a positive integer");
    return v.get<std::int64_t>();
  }

  double positive_number(const std::string& field, double fallback, bool required) const {
    if (!has(field)) {
      if (required) fail(field, "required positive number");
      return fallback;
    }
    const json& v = j_.at(field);
    if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() <= 0) {
      fail(field, "must be a finite positive number");
    }
    return v.get<double>();
  }

  bool boolean(const std::string& field, bool fallback) const {
    if (!has(field)) return fallback;
    if (!j_.at(field).is_boolean()) fail(field, "must be true or false");
    return j_.at(field).get<bool>();
  }

  std::optional<std::int64_t> token_id(const std::string& field) const {
    if (!has(field)) return std::nullopt;
    const json& v = j_.at(field);
    if (!v.is_number_integer() || v.get<std::int64_t>() < 0) fail(field, "must be a non-negative integer");
    return v.get<std::int64_t>();
  }

  std::vector<std::int64_t> token_ids(const std::string& field) const {
    if (!has(field)) return {};
    const json& v = j_.at(field);
    std::vector<std::int64_t> ids;
    for (const json& e : v.is_array() ? v : json::array({v})) {
      if (!e.is_number_integer() || e.get<std::int64_t>() < 0) {
        fail(field, "must be a non-negative integer or a list of them");
      }
      ids.push_back(e.get<std::int64_t>());
    }
    return ids;
  }

 private:
  const json& j_;
  std::string source_;
};

}  // namespace

std::string architecture_name(Architecture a) {
  return a == Architecture::kQwen2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM";
}

ModelConfig parse_model_config(const json& j, const std::string& source) {
  if (!j.is_object()) throw InputError(fmt::format("{}: expected a JSON object", source));
  const FieldReader r(j, source);
  ModelConfig c;

  if (!r.has("architectures") || !j.at("architectures").is_array() || j.at("architectures").size() != 1 ||
      !j.at("architectures")[0].is_string()) {
    r.fail("architectures", "required: a list holding \"Qwen2ForCausalLM\" or \"LlamaForCausalLM\"");
  }
  const std::string arch = j.at("architectures")[0].get<std::string>();
  if (arch == "Qwen2ForCausalLM") {
    c.architecture = Architecture::kQwen2;
  } else if (arch == "LlamaForCausalLM") {
    c.architecture = Architecture::kLlama;
  } else {
    r.fail("architectures", "unsupported; expected \"Qwen2ForCausalLM\" or \"LlamaForCausalLM\"");
  }

  c.vocab_size = r.positive_int("vocab_size");
  c.hidden_size = r.positive_int("hidden_size");
  c.intermediate_size = r.positive_int("intermediate_size");
  c.num_hidden_layers = r.positive_int("num_hidden_layers");
  c.num_attention_heads = r.positive_int("num_attention_heads");
  // HF falls back to multi-head attention when num_key_value_heads is absent.
  c.num_key_value_heads = r.has("num_key_value_heads") ? r.positive_int("num_key_value_heads")
                                                        : c.num_attention_heads;
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    r.fail("num_key_value_heads",
           fmt::format("must divide num_attention_heads = {}", c.num_attention_heads));
  }
  if (r.has("head_dim")) {
    c.head_dim = r.positive_int("head_dim");
  } else {
    if (c.hidden_size % c.num_attention_heads != 0) {
      r.fail("hidden_size", fmt::format("must be a multiple of num_attention_heads = {} when head_dim "
                                        "is absent", c.num_attention_heads));
    }
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  // Rotary embeddings rotate pairs of channels.
  if (c.head_dim % 2 != 0) r.fail(r.has("head_dim") ? "head_dim" : "hidden_size", "head dimension must be even");
  c.max_position_embeddings = r.positive_int("max_position_embeddings");
  c.rms_norm_eps = r.positive_number("rms_norm_eps", 1e-6, true);
  c.rope_theta = r.positive_number("rope_theta", 10000.0, false);
  // The rotary frequencies theta^(-2i/d) must fall with i; the angles are float32, where
  // a theta of 1e-50 became 0 and every logit NaN (0^0 = 1, then 1/0 times 0).
  if (!(c.rope_theta > 1)) r.fail("rope_theta", "must be above 1 (the rotary frequencies are theta^(-2i/d))");
  c.initializer_range = r.positive_number("initializer_range", 0.02, false);
  c.tie_word_embeddings = r.boolean("tie_word_embeddings", false);

  if (c.architecture == Architecture::kQwen2) {
    c.qkv_bias = true;  // Qwen2Attention hard-codes bias=True for q/k/v and False for o
    c.o_bias = false;
    if (r.boolean("use_sliding_window", false)) r.fail("use_sliding_window", "sliding-window attention is not supported");
  } else {
    c.qkv_bias = c.o_bias = r.boolean("attention_bias", false);
    if (r.boolean("mlp_bias", false)) r.fail("mlp_bias", "MLP biases are not supported");
  }
  // {"rope_type": "default"} (or the older "type") is no scaling, as HF reads it.
  if (r.has("rope_scaling")) {
    const json& scaling = j.at("rope_scaling");
    const bool is_default = scaling.is_object() && scaling.size() == 1 &&
                            ((scaling.contains("rope_type") && scaling.at("rope_type") == "default") ||
                             (scaling.contains("type") && scaling.at("type") == "default"));
    if (!is_default) {
      r.fail("rope_scaling", "rope scaling is not supported (must be null, absent or {\"rope_type\": \"default\"})");
    }
  }
  // transformers >= 5 writes the rotary settings into one object: read past, a 1e6-theta
  // model would run at the default 10000 and a scaled one unscaled, with no error.
  if (r.has("rope_parameters")) {
    const json& rope = j.at("rope_parameters");
    if (!rope.is_object()) r.fail("rope_parameters", "must be an object");
    const FieldReader p(rope, source + ": rope_parameters");
    for (const auto& [key, value] : rope.items()) {
      if (key != "rope_type" && key != "rope_theta") p.fail(key, "not supported (only rope_type and rope_theta)");
    }
    if (p.has("rope_type") && rope.at("rope_type") != "default") {
      p.fail("rope_type", "rope scaling is not supported (only \"default\")");
    }
    const double theta = p.positive_number("rope_theta", 0, true);
    if (r.has("rope_theta") && c.rope_theta != theta) {
      r.fail("rope_theta", fmt::format("disagrees with rope_parameters.rope_theta = {}", theta));
    }
    if (!(theta > 1)) p.fail("rope_theta", "must be above 1 (the rotary frequencies are theta^(-2i/d))");
    c.rope_theta = theta;
  }
  // HF's ACT2FN maps "swish" to the same nn.SiLU.
  if (r.has("hidden_act") && j.at("hidden_act") != "silu" && j.at("hidden_act") != "swish") {
    r.fail("hidden_act", "only \"silu\" (or its alias \"swish\") is supported");
  }

  if (r.has("torch_dtype")) {
    const char* expected = "must be \"float32\", \"bfloat16\" or \"float16\" (loaded as float32)";
    if (!j.at("torch_dtype").is_string()) r.fail("torch_dtype", expected);
    c.torch_dtype = j.at("torch_dtype").get<std::string>();
    if (c.torch_dtype != "float32" && c.torch_dtype != "bfloat16" && c.torch_dtype != "float16") {
      r.fail("torch_dtype", expected);
    }
  }
  c.bos_token_id = r.token_id("bos_token_id");
  c.eos_token_ids = r.token_ids("eos_token_id");
  for (const std::int64_t id : c.eos_token_ids) {
    if (id >= c.vocab_size) r.fail("eos_token_id", fmt::format("must be below vocab_size = {}", c.vocab_size));
  }
  if (c.bos_token_id && *c.bos_token_id >= c.vocab_size) {
    r.fail("bos_token_id", fmt::format("must be below vocab_size = {}", c.vocab_size));
  }
  return c;
}

namespace {

// A Hugging Face JSON file of a model folder, parsed strictly (a key given twice refused).
json read_config_json(const std::filesystem::path& file, const char* what) {
  std::ifstream in(file);
  if (!in) throw InputError(fmt::format("{}: cannot open '{}'", what, file.string()));
  try {
    return parse_json_strict(in, file.string());
  } catch (const json::parse_error& e) {
    throw InputError(fmt::format("{}: not valid JSON: {}", file.string(), e.what()));
  }
}

}  // namespace

ModelConfig load_model_config(const std::filesystem::path& file_or_folder) {
  const std::filesystem::path file = std::filesystem::is_directory(file_or_folder)
                                         ? file_or_folder / "config.json"
                                         : file_or_folder;
  if (!std::filesystem::exists(file_or_folder)) {
    throw InputError(fmt::format("model config: '{}' does not exist (expected a model folder or its config.json)",
                                 file_or_folder.string()));
  }
  return parse_model_config(read_config_json(file, "model config"), file.string());
}

std::vector<std::int64_t> load_generation_eos_token_ids(const std::filesystem::path& folder, const ModelConfig& config) {
  const std::filesystem::path file = folder / "generation_config.json";
  if (!std::filesystem::exists(file)) return {};
  const json j = read_config_json(file, "generation config");
  if (!j.is_object()) throw InputError(fmt::format("{}: expected a JSON object", file.string()));
  const FieldReader r(j, file.string());
  std::vector<std::int64_t> ids = r.token_ids("eos_token_id");
  for (const std::int64_t id : ids) {
    if (id >= config.vocab_size) {
      r.fail("eos_token_id", fmt::format("must be below config.json's vocab_size = {}", config.vocab_size));
    }
  }
  return ids;
}

std::vector<std::int32_t> stop_token_ids(const std::filesystem::path& folder, const ModelConfig& config,
                                         std::optional<std::int32_t> tokenizer_eos) {
  std::vector<std::int64_t> all = config.eos_token_ids;
  for (const std::int64_t id : load_generation_eos_token_ids(folder, config)) all.push_back(id);
  if (tokenizer_eos) all.push_back(*tokenizer_eos);
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  // Every id is below vocab_size (checked on load), which a Transformer holds as int64
  // but no real vocabulary brings near 2^31; the tokenizer's are int32 already.
  return std::vector<std::int32_t>(all.begin(), all.end());
}

nlohmann::ordered_json to_json(const ModelConfig& c) {
  nlohmann::ordered_json j;
  j["architectures"] = {architecture_name(c.architecture)};
  j["model_type"] = c.architecture == Architecture::kQwen2 ? "qwen2" : "llama";
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_key_value_heads"] = c.num_key_value_heads;
  j["head_dim"] = c.head_dim;
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["rope_theta"] = c.rope_theta;
  j["rope_scaling"] = nullptr;
  j["hidden_act"] = "silu";
  j["initializer_range"] = c.initializer_range;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  if (c.architecture == Architecture::kLlama) {
    j["attention_bias"] = c.qkv_bias;
    j["mlp_bias"] = false;
  } else {
    j["use_sliding_window"] = false;
  }
  j["torch_dtype"] = c.torch_dtype;
  if (c.bos_token_id) j["bos_token_id"] = *c.bos_token_id;
  if (c.eos_token_ids.size() == 1) {
    j["eos_token_id"] = c.eos_token_ids[0];
  } else if (!c.eos_token_ids.empty()) {
    j["eos_token_id"] = c.eos_token_ids;
  }
  return j;
}

}  // namespace disa::llm
