// bench_sampler [--model=DIR] [--batches=1,8,64] [--new-tokens=128] [--prompt-tokens=16] [--threads=N] [--repeats=3]
//
// Sampling throughput of llm/model/sampler.h with the KV cache on a model folder (--model, e.g.
// the in-house model of `disa llm pretrain`) or by default a small random model
// (Qwen2 layout: 4 layers, hidden 256, 4 heads, 2 kv heads, intermediate 704, a
// character-level vocabulary of 100), temperature 1 with top-p 0.95, no EOS so every row
// generates all new tokens. Prints generated tokens per second (batch x new tokens / wall
// time, prompt prefill included; best of --repeats) for each batch size, and the machine
// (CPU, threads, and the BLAS library actually loaded, which dominates the time).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <torch/torch.h>

#include "bench/bench_args.h"
#include "llm/model/pretrained.h"
#include "llm/model/sampler.h"

namespace {

std::string cpu_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown CPU";
}

// The BLAS LibTorch's CPU matmuls ended up calling (Debian's libtorch uses whatever
// libblas.so.3 the alternatives system points at; the reference BLAS is ~10x slower than
// OpenBLAS, and these timings are mostly sgemm).
std::string blas_libraries() {
  std::ifstream in("/proc/self/maps");
  std::set<std::string> found;
  std::string line;
  while (std::getline(in, line)) {
    const std::size_t slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    if (path.find("blas") != std::string::npos || path.find("mkl") != std::string::npos ||
        path.find("blis") != std::string::npos) {
      std::error_code ec;
      const auto real = std::filesystem::canonical(path, ec);
      found.insert(ec ? path : real.string());
    }
  }
  std::string out;
  for (const std::string& f : found) out += (out.empty() ? "" : ", ") + f;
  return out.empty() ? "none found in /proc/self/maps" : out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::int64_t> batches = {1, 8, 64};
  std::int64_t new_tokens = 128, prompt_tokens = 16, repeats = 3;
  int threads = 0;
  std::string model_dir;  // empty: the built-in random model
  try {
    using disa::bench::take_flag;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (!(take_flag(a, "--model", &model_dir) || take_flag(a, "--batches", &batches) ||
            take_flag(a, "--new-tokens", &new_tokens) || take_flag(a, "--prompt-tokens", &prompt_tokens) ||
            take_flag(a, "--threads", &threads) || take_flag(a, "--repeats", &repeats))) {
        std::fprintf(stderr, "bench_sampler: unknown argument '%s'\n", argv[i]);
        return 2;
      }
    }
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "bench_sampler: %s\n", e.what());
    return 2;
  }
  const bool positive_batches = std::all_of(batches.begin(), batches.end(), [](std::int64_t b) { return b >= 1; });
  if (!positive_batches || new_tokens < 1 || prompt_tokens < 1 || repeats < 1) {
    std::fprintf(stderr, "bench_sampler: --batches (each), --new-tokens, --prompt-tokens and --repeats must be >= 1\n");
    return 2;
  }
  if (threads > 0) torch::set_num_threads(threads);

  const nlohmann::json config = {{"architectures", {"Qwen2ForCausalLM"}},
                                 {"vocab_size", 100},
                                 {"hidden_size", 256},
                                 {"intermediate_size", 704},
                                 {"num_hidden_layers", 4},
                                 {"num_attention_heads", 4},
                                 {"num_key_value_heads", 2},
                                 {"max_position_embeddings", 1024},
                                 {"rms_norm_eps", 1e-6},
                                 {"tie_word_embeddings", true}};
  disa::llm::Transformer model = model_dir.empty()
                                     ? disa::llm::init_random(disa::llm::parse_model_config(config), 1)
                                     : disa::llm::load_pretrained(model_dir, torch::kFloat32);
  const disa::llm::ModelConfig& c = model->config();
  std::int64_t params = 0;
  for (const auto& p : model->parameters()) params += p.numel();

  fmt::print("machine: {} ({} hardware threads), LibTorch {} with {} intra-op threads\n", cpu_name(),
             std::thread::hardware_concurrency(), TORCH_VERSION, torch::get_num_threads());
  fmt::print("BLAS: {}\n", blas_libraries());
  fmt::print("model: {}, {} layers, hidden {}, {} heads / {} kv, vocab {}, {} parameters, float32, CPU\n",
             model_dir.empty() ? std::string("random Qwen2 layout") : model_dir, c.num_hidden_layers, c.hidden_size,
             c.num_attention_heads, c.num_key_value_heads, c.vocab_size, params);
  fmt::print("sampling: temperature 1, top-p 0.95, {} prompt tokens, {} new tokens, best of {}\n", prompt_tokens,
             new_tokens, repeats);
  fmt::print("{:>6} {:>12} {:>14}\n", "batch", "seconds", "tokens/s");

  const disa::llm::SamplingOptions options{.temperature = 1.0, .top_p = 0.95, .max_new_tokens = new_tokens, .seed = 1};
  for (const std::int64_t batch : batches) {
    std::vector<std::vector<std::int32_t>> prompts(batch);
    for (std::int64_t r = 0; r < batch; ++r) {
      for (std::int64_t t = 0; t < prompt_tokens; ++t) {
        prompts[r].push_back(static_cast<std::int32_t>((r * 7 + t * 13) % std::min<std::int64_t>(c.vocab_size, 100)));
      }
    }
    disa::llm::sample(*model, prompts, {.max_new_tokens = 4});  // warm-up: allocator, thread pool
    double best = 1e300;
    std::int64_t generated = 0;
    for (std::int64_t k = 0; k < repeats; ++k) {
      const auto start = std::chrono::steady_clock::now();
      const auto out = disa::llm::sample(*model, prompts, options);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      generated = 0;
      for (const auto& c : out) generated += static_cast<std::int64_t>(c.tokens.size());
      best = std::min(best, seconds);
    }
    fmt::print("{:>6} {:>12.3f} {:>14.1f}\n", batch, best, generated / best);
  }
  return 0;
}
