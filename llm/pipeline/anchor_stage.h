// Stage 2, `disa llm anchor`: per prompt, log Zhat(x) by importance sampling over the
// proposal trajectories (src/is_estimator.h), with its diagnostics, frozen into an anchor
// file (src/anchor.h's JSONL) that every later stage reads and fingerprints.
//
//   log w_i = sum_t logp_ref[i,t] + beta r_i - sum_t logq[i,t]
//   log Zhat = logsumexp_i log w_i - log N;  ESS, chi2_hat, k_hat (PSIS), CI (delta method)
//
// Policy for an unreliable estimate (IsEstimate::reliable() false: k_hat above min(1 - 1/log10 N, 0.7), all
// weights zero, a single sample; or ESS below min_ess; or no sample of the prompt was
// rewarded, flag "no_reward_observed"):
//   drop (default)  the prompt is flagged "policy:dropped" and DISA does not train on it:
//                   a wrong frozen anchor biases every update of that prompt (THEORY.md
//                   item 9), while leaving one prompt out only removes data
//   keep            used as estimated, flagged "policy:kept_unreliable"
//   psis            the PSIS-smoothed log Zhat replaces it when available (flag
//                   "policy:psis"), else dropped; no_reward_observed is always dropped
//                   (no smoothing supplies a reward the samples never showed)
//
//   OUT/anchors.jsonl   the frozen anchors (one per prompt, every flag recorded)
//   OUT/anchor.json     options, counts, the anchor file's fingerprint (FNV-1a 64)
// Keys: trajectories (required), beta (1), policy (drop), min_ess (2), ci_level (0.95).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "llm/pipeline/stage_config.h"
#include "src/anchor.h"

namespace disa::llm::pipeline {

struct AnchorOptions {
  std::filesystem::path trajectories, out;
  double beta = 1.0;
  std::string policy = "drop";
  double min_ess = 2.0;
  double ci_level = 0.95;
};

// "no_reward_observed": disa::kNoRewardObserved (src/is_estimator.h says why it is
// unreliable and why all samples correct is not).
using disa::kNoRewardObserved;

AnchorOptions anchor_options(StageConfig& config);

struct AnchorSummary {
  std::int64_t prompts = 0, dropped = 0, unreliable = 0;
  double mean_log_z_hat = 0;     // over the usable anchors (nan when every prompt is dropped)
  double mean_ess_fraction = 0;  // over every prompt: how well q covers p*
  std::string fingerprint;
};

AnchorSummary run_anchor(const AnchorOptions& options);

// The anchors training may use: prompt id -> frozen log Zhat (dropped prompts absent).
// They must belong to the run, else an InputError naming both values: the anchor.json
// beside the file (the anchor stage writes one) must name `trajectories`' fingerprint,
// and with `beta` given every record's beta must equal it (log Zhat at beta 2 is the
// wrong anchor for a tb head at beta 1). std::nullopt: methods that use only which
// prompts survived, not the values.
std::map<std::string, double> usable_anchors(const std::filesystem::path& anchors_file,
                                             const std::filesystem::path& trajectories, std::optional<double> beta);

// The records training uses (not dropped, finite log Zhat): prompt id -> log Zhat. No
// checks; eval reads which prompts were trained with it.
std::map<std::string, double> kept_anchors(const std::vector<AnchorRecord>& records);

}  // namespace disa::llm::pipeline
