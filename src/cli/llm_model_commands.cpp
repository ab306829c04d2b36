// disa llm init | sample | score: the transformer of llm/model from the command line.
//
//   disa llm init --config config.json --out DIR --seed 1 [--dtype bfloat16] [--tokenizer tokenizer.json] [--force]
//   disa llm sample --model DIR --prompts p.jsonl --out s.jsonl [--temperature 1 --top-p 1 --top-k 0
//                   --max-new-tokens 128 --seed 0 --batch-size 8 --samples-per-prompt 1 --stop STR ...
//                   --lora ADAPTER_DIR --dtype float32]
//   disa llm score --model DIR --input s.jsonl --out scored.jsonl [--batch-size 8 --temperature 1 --lora DIR
//                  --dtype float32]
//
// init writes random weights in HF layout (config.json + model.safetensors; seeded, the
// same on every machine), for tests and benchmarks; a folder that already holds a
// model (model.safetensors or config.json) only with --force, a sharded one never.
// Prompt lines: a JSON string (text), or an object with "prompt" (text) or "prompt_ids".
// Text needs DIR/tokenizer.json. Each sample line holds prompt_index, sample_index, prompt,
// prompt_ids, token_ids, text (when a tokenizer is there), finish_reason, logprobs (the
// model's, temperature 1) and sampling_logprobs (after temperature / top-k / top-p).
// Row r = prompt_index * samples_per_prompt + sample_index draws from its own random
// stream, so the tokens do not depend on --batch-size. That needs float32, which is why
// sample and score run every checkpoint in float32 (bf16 upcasts exactly), as the
// pipeline does: in bfloat16 the padding of a batch changes matmul shapes and moves
// activations by whole bf16 steps, enough to change sampled tokens (3 to 5 of 32 rows of
// a small random bf16 model differed between --batch-size 1 and 32) and scores.
// --dtype bfloat16 halves the memory and accepts that.
// Stop ids: config.json's eos_token_id, generation_config.json's (llm/model/model_config.h)
// and the tokenizer's EOS, as Hugging Face generate() stops at generation_config's.
// Score lines: "prompt" or "prompt_ids", and "completion" (text) or "token_ids", the ids
// scored when both are given -- a sample file scores as it is. Output: the input line plus
// logprobs and sum_logprob.
// Outputs are written atomically once everything has run.
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "llm/model/lora.h"
#include "llm/model/pretrained.h"
#include "llm/model/sampler.h"
#include "llm/model/scorer.h"
#include "llm/pipeline/loaded_model.h"
#include "llm/tokenizer/tokenizer.h"
#include "src/atomic_file.h"
#include "src/byte_size.h"
#include "src/cli/commands.h"
#include "src/input_error.h"
#include "src/input_file.h"
#include "src/json_strict.h"
#include "src/output_folder.h"
#include "toy_envs/tree.h"  // tree_memory_budget

namespace disa::cli {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

std::unique_ptr<llm::Tokenizer> tokenizer_of(const std::filesystem::path& model_dir) {
  if (!std::filesystem::exists(model_dir / "tokenizer.json")) return nullptr;
  return llm::load_tokenizer(model_dir);
}

// --dtype: float32 (the default; batch-independent outputs) or bfloat16 (see the top).
torch::Dtype run_dtype(const std::string& name) {
  if (name != "float32" && name != "bfloat16") {
    throw InputError(fmt::format("--dtype = {}: expected float32 or bfloat16", name));
  }
  return llm::torch_dtype_from_name(name);
}

llm::Transformer open_model(const std::string& dir, const std::string& lora, const std::string& dtype) {
  const torch::Dtype run_as = run_dtype(dtype);
  llm::Transformer model{nullptr};
  try {
    model = llm::load_pretrained(dir, run_as);
  } catch (const InputError& e) {
    throw InputError(fmt::format("--model {}: {}", dir, e.what()));
  }
  if (!lora.empty()) {
    try {
      llm::load_lora(*model, lora);
    } catch (const InputError& e) {
      throw InputError(fmt::format("--lora {}: {}", lora, e.what()));
    }
  }
  model->eval();
  return model;
}

std::vector<json> read_jsonl(const std::string& path, const std::string& option) {
  refuse_folder_input(path, option);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot read '{}'", option, path));
  std::vector<json> lines;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    try {
      lines.push_back(parse_json_strict(line, fmt::format("{} {} line {}", option, path, number)));
    } catch (const json::exception& e) {
      throw InputError(fmt::format("{} {} line {}: not JSON ({})", option, path, number, e.what()));
    }
  }
  check_read_completed(in, path, option);
  if (lines.empty()) throw InputError(fmt::format("{}: '{}' has no lines", option, path));
  return lines;
}

std::vector<std::int32_t> ids_field(const json& v, const std::string& where) {
  if (!v.is_array()) throw InputError(fmt::format("{}: expected an array of token ids", where));
  std::vector<std::int32_t> ids;
  for (const json& e : v) {
    if (!e.is_number_integer() || e.get<std::int64_t>() < 0 || e.get<std::int64_t>() > INT32_MAX) {
      throw InputError(fmt::format("{}: {} is not a token id", where, json_excerpt(e)));
    }
    ids.push_back(e.get<std::int32_t>());
  }
  return ids;
}

// Ids of a text field or an id field of `line` (text is encoded with the tokenizer).
std::vector<std::int32_t> token_field(const json& line, const char* text_key, const char* ids_key,
                                      const llm::Tokenizer* tokenizer, const std::string& where,
                                      std::optional<std::string>* text_out) {
  if (line.is_string() && std::string(text_key) == "prompt") {
    *text_out = line.get<std::string>();
  } else if (line.is_object() && line.contains(ids_key)) {
    // The ids are what is sampled or scored (a sample file carries both, text decoded from
    // them); a text beside them is kept for the record, not dropped to null.
    if (line.contains(text_key) && line.at(text_key).is_string()) *text_out = line.at(text_key).get<std::string>();
    return ids_field(line.at(ids_key), fmt::format("{}: field '{}'", where, ids_key));
  } else if (line.is_object() && line.contains(text_key) && line.at(text_key).is_string()) {
    *text_out = line.at(text_key).get<std::string>();
  } else {
    throw InputError(fmt::format("{}: needs \"{}\" (text) or \"{}\" (ids)", where, text_key, ids_key));
  }
  if (tokenizer == nullptr) {
    throw InputError(fmt::format("{}: field '{}' is text but the model folder has no tokenizer.json; give \"{}\"",
                                 where, text_key, ids_key));
  }
  try {
    return tokenizer->encode(**text_out);
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: field '{}': {}", where, text_key, e.what()));
  }
}

// An id the model has no row for, named by its line and field here: deeper, the model's
// own error names only a batch row.
void check_ids_below(const std::vector<std::int32_t>& ids, std::int64_t limit, const std::string& where,
                     const char* field, const char* what) {
  for (std::size_t k = 0; k < ids.size(); ++k) {
    if (ids[k] >= limit) {
      throw InputError(fmt::format("{}: field '{}' token {}: id {} is outside the model's {} [0, {})", where, field, k,
                                   ids[k], what, limit));
    }
  }
}

ordered_json float_array(const std::vector<float>& v) {
  ordered_json a = ordered_json::array();
  for (const float x : v) a.push_back(static_cast<double>(x));
  return a;
}

void write_jsonl(const std::string& path, const std::vector<ordered_json>& lines) {
  write_file_atomically(path, [&](std::ostream& out) {
    for (const ordered_json& l : lines) out << l.dump() << '\n';
  });
}

// ---- init ---------------------------------------------------------------------------

struct InitArgs {
  std::string config, out, dtype = "float32", tokenizer;
  std::uint64_t seed = 0;
  bool force = false;
};

void run_init(const InitArgs& a) {
  const llm::ModelConfig config = llm::load_model_config(a.config);
  if (a.dtype != "float32" && a.dtype != "bfloat16") {
    throw InputError(fmt::format("--dtype = {}: expected float32 or bfloat16", a.dtype));
  }
  // Every check before the first file is written: a tokenizer refused after the weights
  // were saved left a half-made model folder behind.
  if (!a.tokenizer.empty()) {
    try {
      // Refuse a tokenizer that would not load later, or not with this model: more ids than
      // output rows, or ids it leaves undefined (refused at every sample and score).
      const std::unique_ptr<llm::Tokenizer> tokenizer = llm::load_tokenizer(a.tokenizer);
      llm::pipeline::check_tokenizer_fits(*tokenizer, config.vocab_size, a.out);
    } catch (const InputError& e) {
      throw InputError(fmt::format("--tokenizer: {}", e.what()));
    }
  }
  // Random weights over a trained model.safetensors would lose it, while the folder's
  // checkpoint and metrics stayed to describe a model no longer there.
  // A sharded checkpoint has no model.safetensors: its config.json was replaced, and the
  // new file shadowed the shards (which --force would leave beside it).
  if (std::filesystem::exists(std::filesystem::path(a.out) / "model.safetensors.index.json")) {
    throw InputError(
        fmt::format("--out: '{}' holds a sharded model (model.safetensors.index.json); random weights "
                    "are not written over it, even with --force: use another --out",
                    a.out));
  }
  for (const char* held : {"model.safetensors", "config.json"}) {
    if (!a.force && std::filesystem::exists(std::filesystem::path(a.out) / held)) {
      throw InputError(
          fmt::format("--out: '{}' already holds a model ({}); give --force to replace it with random weights, or "
                      "another --out",
                      a.out, held));
    }
  }
  // A model refused at initialisation (an initializer_range that overflows the dtype,
  // weights above memory) left an empty --out behind: the folders made for it go again.
  std::filesystem::path first_made;
  for (std::filesystem::path p = std::filesystem::absolute(a.out).lexically_normal();
       !p.empty() && !std::filesystem::exists(p); p = p.parent_path()) {
    first_made = p;
    if (p == p.parent_path()) break;
  }
  prepare_output_folder(a.out, "--out");
  llm::Transformer model{nullptr};
  try {
    model = llm::init_random(config, a.seed, llm::torch_dtype_from_name(a.dtype));
  } catch (...) {
    std::error_code ec;
    for (std::filesystem::path p = std::filesystem::absolute(a.out).lexically_normal(); !first_made.empty();
         p = p.parent_path()) {
      if (!std::filesystem::remove(p, ec) || p == first_made) break;  // remove() keeps a folder that is not empty
    }
    throw;
  }
  llm::save_pretrained(*model, a.out, {{"disa_init_seed", std::to_string(a.seed)}});
  if (!a.tokenizer.empty()) {
    const std::filesystem::path source = std::filesystem::is_directory(a.tokenizer)
                                             ? std::filesystem::path(a.tokenizer) / "tokenizer.json"
                                             : std::filesystem::path(a.tokenizer);
    // With the files beside it that load_tokenizer reads: eos/pad and the chat template
    // (its default system turn) come from them.
    for (const char* name : {"tokenizer.json", "tokenizer_config.json", "chat_template.jinja"}) {
      const std::filesystem::path from = std::string(name) == "tokenizer.json" ? source : source.parent_path() / name;
      if (!std::filesystem::is_regular_file(from)) continue;
      std::ifstream in(from, std::ios::binary);
      const std::string text((std::istreambuf_iterator<char>(in)), {});
      write_file_atomically(std::filesystem::path(a.out) / name, [&](std::ostream& out) { out << text; },
                            /*binary=*/true);
    }
  }
  std::int64_t count = 0;
  for (const auto& p : model->parameters()) count += p.numel();
  fmt::print("wrote {} ({} parameters, seed {}) to {}\n", llm::architecture_name(config.architecture), count, a.seed,
             a.out);
}

// ---- sample -------------------------------------------------------------------------

struct SampleArgs {
  std::string model, prompts, out, lora, dtype = "float32";
  llm::SamplingOptions options;
  std::int64_t batch_size = 8, samples_per_prompt = 1;
};

void run_sample(SampleArgs a) {
  if (a.batch_size <= 0) throw InputError(fmt::format("--batch-size = {} must be positive", a.batch_size));
  if (a.samples_per_prompt <= 0) {
    throw InputError(fmt::format("--samples-per-prompt = {} must be positive", a.samples_per_prompt));
  }
  llm::validate(a.options);
  prepare_output_file(a.out, "--out");
  refuse_output_over_input(a.out, "--out", a.prompts, "--prompts");
  llm::Transformer model = open_model(a.model, a.lora, a.dtype);
  const std::unique_ptr<llm::Tokenizer> tokenizer = tokenizer_of(a.model);
  if (tokenizer) llm::pipeline::match_output_vocabulary(*model, *tokenizer, a.model);
  try {
    a.options.eos_ids = llm::stop_token_ids(a.model, model->config(),
                                            tokenizer ? tokenizer->special_ids().eos : std::nullopt);
  } catch (const InputError& e) {
    throw InputError(fmt::format("--model {}: {}", a.model, e.what()));
  }
  if (!a.options.stop_strings.empty() && !tokenizer) {
    throw InputError(fmt::format("--stop needs {}/tokenizer.json to decode with", a.model));
  }
  llm::TextDecoder decode;
  if (tokenizer) decode = [&](std::span<const std::int32_t> ids) { return tokenizer->decode(ids); };

  struct Row {
    std::size_t prompt_index;
    std::int64_t sample_index;
    std::optional<std::string> text;
    std::vector<std::int32_t> ids;
  };
  std::vector<Row> rows;
  const std::vector<json> lines = read_jsonl(a.prompts, "--prompts");
  // Every sample is held until the output is written (its row, then its JSON line).
  const double budget = static_cast<double>(tree_memory_budget());
  double held = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    Row base{i, 0, std::nullopt, {}};
    base.ids = token_field(lines[i], "prompt", "prompt_ids", tokenizer.get(),
                           fmt::format("--prompts {} line {}", a.prompts, i + 1), &base.text);
    if (base.ids.empty()) throw InputError(fmt::format("--prompts {} line {}: empty prompt", a.prompts, i + 1));
    check_ids_below(base.ids, model->config().vocab_size, fmt::format("--prompts {} line {}", a.prompts, i + 1),
                    "prompt_ids", "vocabulary");
    held += static_cast<double>(a.samples_per_prompt) *
            llm::held_sample_bytes(static_cast<std::int64_t>(base.ids.size()), a.options.max_new_tokens);
    if (held > budget) {
      // Both options: --max-new-tokens 2^63-1 with one sample was reported as a sample count.
      throw InputError(
          fmt::format("--samples-per-prompt {} x --max-new-tokens {}: {} samples of each of {} prompts "
                      "(up to {} new tokens each) need more than the {} budget (80% of memory, "
                      "or DISA_MAX_TREE_BYTES) to hold until written; sample in several calls",
                      a.samples_per_prompt, a.options.max_new_tokens, a.samples_per_prompt, lines.size(),
                      a.options.max_new_tokens, byte_size(budget)));
    }
    for (std::int64_t k = 0; k < a.samples_per_prompt; ++k) {
      base.sample_index = k;
      rows.push_back(base);
    }
  }

  std::vector<ordered_json> out;
  for (std::size_t begin = 0; begin < rows.size(); begin += a.batch_size) {
    const std::size_t end = std::min(rows.size(), begin + static_cast<std::size_t>(a.batch_size));
    std::vector<std::vector<std::int32_t>> prompts;
    std::vector<std::uint64_t> row_ids;
    for (std::size_t r = begin; r < end; ++r) {
      prompts.push_back(rows[r].ids);
      row_ids.push_back(rows[r].prompt_index * a.samples_per_prompt + rows[r].sample_index);
    }
    const std::vector<llm::Completion> done = llm::sample(*model, prompts, a.options, row_ids, decode);
    for (std::size_t r = begin; r < end; ++r) {
      const llm::Completion& c = done[r - begin];
      ordered_json j;
      j["prompt_index"] = rows[r].prompt_index;
      j["sample_index"] = rows[r].sample_index;
      j["prompt"] = rows[r].text ? ordered_json(*rows[r].text) : ordered_json(nullptr);
      j["prompt_ids"] = rows[r].ids;
      j["token_ids"] = c.tokens;
      j["text"] = tokenizer ? ordered_json(tokenizer->decode(c.tokens)) : ordered_json(nullptr);
      j["finish_reason"] = llm::finish_reason_name(c.finish);
      j["logprobs"] = float_array(c.model_logprobs);
      j["sampling_logprobs"] = float_array(c.sampling_logprobs);
      out.push_back(std::move(j));
    }
  }
  write_jsonl(a.out, out);
  fmt::print("wrote {} samples ({} prompts) to {}\n", out.size(), lines.size(), a.out);
}

// ---- score --------------------------------------------------------------------------

struct ScoreArgs {
  std::string model, input, out, lora, dtype = "float32";
  std::int64_t batch_size = 8;
  double temperature = 1.0;
};

void run_score(const ScoreArgs& a) {
  if (a.batch_size <= 0) throw InputError(fmt::format("--batch-size = {} must be positive", a.batch_size));
  prepare_output_file(a.out, "--out");
  refuse_output_over_input(a.out, "--out", a.input, "--input");
  llm::Transformer model = open_model(a.model, a.lora, a.dtype);
  const std::unique_ptr<llm::Tokenizer> tokenizer = tokenizer_of(a.model);
  if (tokenizer) llm::pipeline::match_output_vocabulary(*model, *tokenizer, a.model);
  const std::vector<json> lines = read_jsonl(a.input, "--input");
  std::vector<llm::ScoreRequest> requests;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string where = fmt::format("--input {} line {}", a.input, i + 1);
    if (!lines[i].is_object()) throw InputError(where + ": expected a JSON object");
    std::optional<std::string> text;
    llm::ScoreRequest r;
    r.prompt = token_field(lines[i], "prompt", "prompt_ids", tokenizer.get(), where, &text);
    r.continuation = token_field(lines[i], "completion", "token_ids", tokenizer.get(), where, &text);
    if (r.prompt.empty()) throw InputError(where + ": empty prompt");
    check_ids_below(r.prompt, model->config().vocab_size, where, "prompt_ids", "vocabulary");
    check_ids_below(r.continuation, model->output_vocabulary(), where, "token_ids", "output vocabulary");
    requests.push_back(std::move(r));
  }
  const std::vector<std::vector<float>> scores = llm::score(*model, requests, a.batch_size, a.temperature);
  std::vector<ordered_json> out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    ordered_json j = ordered_json::parse(lines[i].dump());
    double total = 0;
    for (const float x : scores[i]) total += x;
    j["logprobs"] = float_array(scores[i]);
    j["sum_logprob"] = total;
    out.push_back(std::move(j));
  }
  write_jsonl(a.out, out);
  fmt::print("wrote {} scored lines to {}\n", out.size(), a.out);
}

}  // namespace

void add_llm_model_commands(CLI::App& llm) {
  auto init = std::make_shared<InitArgs>();
  CLI::App* i = llm.add_subcommand("init", "Write a randomly initialised model (HF layout: config.json + model.safetensors)");
  i->add_option("--config", init->config, "config.json (Qwen2ForCausalLM or LlamaForCausalLM)")->required();
  i->add_option("--out", init->out, "Output folder")->required();
  i->add_option("--seed", init->seed, "Seed of the weights")->required();
  i->add_option("--dtype", init->dtype, "float32 or bfloat16")->capture_default_str();
  i->add_option("--tokenizer", init->tokenizer, "Copy this tokenizer.json (or a folder's) into the model folder");
  i->add_flag("--force", init->force,
              "Replace the model (model.safetensors, config.json) an --out folder already holds");
  i->callback([init] { run_init(*init); });

  auto sample = std::make_shared<SampleArgs>();
  CLI::App* s = llm.add_subcommand("sample", "Sample completions of JSONL prompts with token log-probs");
  s->add_option("--model", sample->model, "Model folder (config.json, model.safetensors, tokenizer.json)")->required();
  s->add_option("--prompts", sample->prompts,
                "JSONL: a string, or {\"prompt\": text} / {\"prompt_ids\": [...]} (the ids win when both are given)")
      ->required();
  s->add_option("--out", sample->out, "Output JSONL")->required();
  s->add_option("--temperature", sample->options.temperature, "0 = greedy")->capture_default_str();
  s->add_option("--top-p", sample->options.top_p, "Nucleus mass in (0, 1]")->capture_default_str();
  s->add_option("--top-k", sample->options.top_k, "0 = off")->capture_default_str();
  s->add_option("--max-new-tokens", sample->options.max_new_tokens)->capture_default_str();
  s->add_option("--min-new-tokens", sample->options.min_new_tokens,
                "No EOS before this many tokens (Hugging Face's min_new_tokens); stop strings still stop")
      ->capture_default_str();
  s->add_option("--seed", sample->options.seed)->capture_default_str();
  s->add_option("--batch-size", sample->batch_size, "Rows per forward (does not change the tokens in float32)")
      ->capture_default_str();
  s->add_option("--samples-per-prompt", sample->samples_per_prompt)->capture_default_str();
  s->add_option("--stop", sample->options.stop_strings, "Stop string (repeatable); needs the tokenizer");
  s->add_option("--lora", sample->lora, "LoRA adapter folder (adapter_config.json + adapter_model.safetensors)");
  s->add_option("--dtype", sample->dtype,
                "Run the weights in float32 (any checkpoint; tokens independent of --batch-size) or bfloat16 "
                "(half the memory; padding then changes some tokens with the batch size)")
      ->capture_default_str();
  s->callback([sample] { run_sample(*sample); });

  auto score = std::make_shared<ScoreArgs>();
  CLI::App* c = llm.add_subcommand("score", "Teacher-forced per-token log-probs of completions after prompts");
  c->add_option("--model", score->model, "Model folder")->required();
  c->add_option("--input", score->input,
                "JSONL objects: prompt or prompt_ids, and completion or token_ids (the ids win when both are given: "
                "a sample file, which holds both, scores its token_ids)")
      ->required();
  c->add_option("--out", score->out, "Output JSONL")->required();
  c->add_option("--batch-size", score->batch_size)->capture_default_str();
  c->add_option("--temperature", score->temperature, "Divide the logits first")->capture_default_str();
  c->add_option("--lora", score->lora, "LoRA adapter folder");
  c->add_option("--dtype", score->dtype,
                "Run the weights in float32 (scores independent of --batch-size) or bfloat16 (half the memory; "
                "padding then moves scores with the batch size)")
      ->capture_default_str();
  c->callback([score] { run_score(*score); });
}

}  // namespace disa::cli
