// The proposal trajectories: what `disa llm propose` writes and `anchor` and `train` read.
//
// JSONL, one trajectory per line (records of one prompt are contiguous, in sample order):
//   {"prompt_index":3,"prompt_id":"countdown-train-3","prompt_tokens":[...],"sample":0,
//    "tokens":[...],"response":"3*(5+7)","finish":"eos",
//    "logq":[...],"logp_ref":[...],"logq_sum":-4.1,"logp_ref_sum":-4.1,
//    "reward":1,"reason":"correct","signature":"...","strategy":"..."}
// logq[t] = log q(y_t | x, y_<t) of the distribution the token was drawn from (after
// temperature / top-p), logp_ref[t] = log pi_ref(y_t | ...) of the reference model; the
// importance log-weight of the record is logp_ref_sum + beta reward - logq_sum.
// Why JSONL and not a binary format: the files are small next to the model (tens of
// tokens per record here; ~1 KB per record at Qwen scale), a person can read and grep
// them, every consumer here already parses JSON, and line records append and shard
// (`propose` writes chunk files and concatenates them; docs/scaling.md). Log-probs are
// written with float precision (shortest round trip), which is what the model produced.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace disa::llm::pipeline {

struct Trajectory {
  std::int64_t prompt_index = 0;
  std::string prompt_id;
  std::vector<std::int32_t> prompt_tokens;
  std::int64_t sample = 0;
  std::vector<std::int32_t> tokens;  // the completion, EOS included when it ended there
  std::string response;              // decoded, without the stop token (EOS)
  std::string finish;                // "eos", "stop", "length"
  std::vector<float> logq;           // per completion token
  std::vector<float> logp_ref;       // per completion token
  double logq_sum = 0;
  double logp_ref_sum = 0;
  double reward = 0;
  std::string reason;
  std::string signature;
  std::string strategy;
};

// How far above 0 a stored log-prob may be: rounding of the writers' log-softmax (a fast-math
// log of a sum just above 1), not a probability above 1.
inline constexpr double kLogProbSlack = 1e-6;

nlohmann::ordered_json to_json(const Trajectory& t);
// Validates every field; errors name `where`, the field and its value: prompt_index, sample
// and every token id integers (JSON integers, not 1.0 or 0.9) >= 0, token ids < 2^31;
// finish one of eos, stop, length; tokens, logq and logp_ref of equal lengths; log-probs
// finite and <= kLogProbSlack; logq_sum and logp_ref_sum their lists' sums.
Trajectory trajectory_from_json(const nlohmann::json& j, const std::string& where);

// One line per trajectory, appended to `out`.
void write_trajectories(std::ostream& out, const std::vector<Trajectory>& trajectories);
// Reads a whole file; errors name the file, the line and the field.
std::vector<Trajectory> read_trajectories(const std::filesystem::path& path);

// 64-bit FNV-1a of a file's bytes, as 16 hex digits: the fingerprint of a frozen input
// (the anchor file) recorded in every later output. A content check, not a security one.
std::string file_fingerprint(const std::filesystem::path& path);
std::string text_fingerprint(std::string_view text);  // the same hash of a string

}  // namespace disa::llm::pipeline
