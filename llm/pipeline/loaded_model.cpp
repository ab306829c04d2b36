#include "llm/pipeline/loaded_model.h"

#include <algorithm>
#include <set>
#include <vector>

#include <fmt/format.h>
#include <torch/cuda.h>

#include "llm/model/pretrained.h"
#include "llm/pipeline/trajectory_file.h"
#include "src/input_error.h"

namespace disa::llm::pipeline {

torch::Device parse_device(const std::string& name, const std::string& key) {
  if (name == "cpu") return torch::kCPU;
  if (name == "cuda") {
    if (!torch::cuda::is_available()) throw InputError(fmt::format("{}=cuda: this LibTorch build or machine has no CUDA", key));
    return torch::kCUDA;
  }
  throw InputError(fmt::format("{}={}: must be cpu or cuda", key, name));
}

std::string model_fingerprint(const std::filesystem::path& folder) {
  // The tokenizer's files as well as the weights: a tokenizer changed at the same path
  // would resume into parts and samples tokenized the old way. tokenizer.json,
  // tokenizer_config.json and chat_template.jinja are what load_tokenizer reads; vocab.json
  // and merges.txt are the same vocabulary in the slow tokenizer's form (not read here, but
  // a folder whose copy of them changed holds another tokenizer). generation_config.json is
  // left out: its eos_token_id is all the stages read of it, and they record the stop set
  // itself (stop_token_ids), which names that change, not a hash, when it refuses a resume.
  static const std::set<std::string> kTokenizerFiles = {"tokenizer.json", "tokenizer_config.json",
                                                        "chat_template.jinja", "vocab.json", "merges.txt"};
  std::vector<std::filesystem::path> files;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(folder, error)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() &&
        (name == "config.json" || kTokenizerFiles.count(name) > 0 || entry.path().extension() == ".safetensors")) {
      files.push_back(entry.path());
    }
  }
  if (error) throw InputError(fmt::format("model '{}': cannot list it ({})", folder.string(), error.message()));
  if (files.empty()) throw InputError(fmt::format("model '{}': no config.json or *.safetensors in it", folder.string()));
  std::sort(files.begin(), files.end());
  std::string listing;
  for (const auto& f : files) listing += f.filename().string() + ' ' + file_fingerprint(f) + '\n';
  return text_fingerprint(listing);
}

LoadedModel load_model(const std::filesystem::path& folder, torch::Device device) {
  LoadedModel m;
  m.model = load_pretrained(folder, torch::kFloat32);
  m.model->to(device);
  m.tokenizer = load_tokenizer(folder);
  if (!m.tokenizer->special_ids().eos) {
    throw InputError(fmt::format("model '{}': its tokenizer has no EOS token", folder.string()));
  }
  m.eos = *m.tokenizer->special_ids().eos;
  m.stop_ids = stop_token_ids(folder, m.model->config(), m.eos);
  match_output_vocabulary(*m.model, *m.tokenizer, folder.string());
  return m;
}

std::vector<std::int32_t> stop_token_ids_of(const std::filesystem::path& folder) {
  const ModelConfig config = load_model_config(folder);
  const std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(folder);
  return stop_token_ids(folder, config, tokenizer->special_ids().eos);
}

void check_tokenizer_fits(const Tokenizer& tokenizer, std::int64_t rows, const std::string& folder) {
  const std::int64_t ids = tokenizer.vocab_size();
  if (ids > rows) {
    throw InputError(fmt::format("model '{}': its tokenizer has {} ids but the model only {} output rows (vocab_size)",
                                 folder, ids, rows));
  }
  // The logits cover every id below the tokenizer's size, so an id it leaves undefined (the
  // tokenizer loader accepts gaps, e.g. <|endoftext|> at 400 with 302..399 unused) could be
  // sampled and then not decoded ("token id 388 is not in the vocabulary", nothing written).
  // Refused here rather than masked to -inf in the logits, which would reach every
  // distribution the model defines (sampling, scoring, the training losses' checks).
  for (std::int32_t id = 0; id < ids; ++id) {
    if (tokenizer.id_to_token(id)) continue;
    std::int32_t end = id + 1, missing = 0;
    while (end < ids && !tokenizer.id_to_token(end)) ++end;
    for (std::int32_t other = 0; other < ids; ++other) missing += tokenizer.id_to_token(other) ? 0 : 1;
    throw InputError(fmt::format(
        "model '{}': its tokenizer defines no token for id {} ({} of its ids 0..{} are undefined, the first run "
        "{}..{}); the model could sample such an id and nothing could decode it: give the tokenizer ids without "
        "gaps",
        folder, id, missing, ids - 1, id, end - 1));
  }
}

void match_output_vocabulary(TransformerImpl& model, const Tokenizer& tokenizer, const std::string& folder) {
  check_tokenizer_fits(tokenizer, model.config().vocab_size, folder);
  model.set_output_vocabulary(tokenizer.vocab_size());
}

std::span<const std::int32_t> response_tokens(const std::vector<std::int32_t>& stop_ids,
                                              const std::vector<std::int32_t>& tokens) {
  std::size_t n = tokens.size();
  if (n > 0 && std::find(stop_ids.begin(), stop_ids.end(), tokens[n - 1]) != stop_ids.end()) --n;
  return {tokens.data(), n};
}

std::string decode_response(const Tokenizer& tokenizer, const std::vector<std::int32_t>& stop_ids,
                            const std::vector<std::int32_t>& tokens) {
  return tokenizer.decode(response_tokens(stop_ids, tokens));
}

}  // namespace disa::llm::pipeline
