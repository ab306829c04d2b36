// Stage 1, `disa llm propose`: for every training prompt, N trajectories from a proposal
// model q, each with its tokens, log q per token (the distribution it was drawn from, after
// temperature / top-p), log pi_ref per token (teacher-forced by the reference; read off the
// sampler when q is the reference itself at temperature 1 without truncation), and the
// task verifier's reward.
//
//   OUT/propose.json        the options, counts, accuracy and timing (written last)
//   OUT/parts/part-NNNNN.jsonl  one file per chunk of prompts, each written atomically
//   OUT/trajectories.jsonl  the parts concatenated (llm/pipeline/trajectory_file.h)
// Resumable: a rerun into the same OUT with the same options skips the parts already
// there (a part is complete or absent); other options are refused, naming OUT.
//
// Keys (config file or --set): reference (folder, required), proposal (folder; default
// the reference), task (countdown), data_dir, prompts (256), samples (16), temperature (1),
// top_p (1), max_new_tokens (40), batch_size (256), chunk_prompts (32), seed (1),
// threads (1), device (cpu), shard (0/1), shards_from (none).
//
// Sharding over machines (docs/scaling.md): shard=m/M writes only the parts with
// part % M == m into its own OUT (no trajectories.jsonl; propose.json lists the shard).
// A part is a pure function of the options and its prompts, so it is the same bytes on
// any machine. A run without shard and with shards_from=DIR,DIR,... then takes every part
// it lacks from those folders (each a propose folder whose options equal this run's, the
// shard aside, else refused naming the folder and the option), validates and copies it,
// samples whatever none of them has, and concatenates as usual: trajectories.jsonl is the
// one-machine file byte for byte.
// With top_p < 1, q gives zero probability to tokens pi_ref can emit, so IS estimates
// of Z miss that mass (biased low): propose refuses it unless allow_truncated_proposal=true.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "llm/pipeline/stage_config.h"

namespace disa::llm::pipeline {

struct ProposeOptions {
  std::filesystem::path reference, proposal, out, data_dir;
  std::string task = "countdown";
  std::int64_t prompts = 256, samples = 16, max_new_tokens = 40, batch_size = 256, chunk_prompts = 32;
  double temperature = 1.0, top_p = 1.0;
  bool allow_truncated_proposal = false;
  std::uint64_t seed = 1;
  int threads = 1;
  std::string device = "cpu";
  std::int64_t shard_index = 0, shard_count = 1;        // shard=m/M
  std::vector<std::filesystem::path> shards_from;       // folders to take parts from
};

ProposeOptions propose_options(StageConfig& config);  // reads and checks the keys above
nlohmann::ordered_json to_json(const ProposeOptions& o);

struct ProposeSummary {
  // prompts, trajectories and parts: the run's, or this shard's own for a shard run (a shard
  // can have no parts: shard 5/8 of 3 parts); parts_total: the whole run's.
  std::int64_t prompts = 0, trajectories = 0, parts = 0, parts_total = 0, parts_reused = 0, parts_copied = 0;
  double mean_reward = 0, seconds = 0, tokens_per_second = 0;
};

using StageProgress = std::function<void(double fraction, const std::string& detail)>;
ProposeSummary run_propose(const ProposeOptions& options, const StageProgress& progress = {});

}  // namespace disa::llm::pipeline
