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
//                   "policy:psis"), else dropped; no_reward_observed and
//                   proposal_misses_target_mass are always dropped (no smoothing supplies
//                   a reward the samples never showed, or mass the proposal never drew).
//                   Only log_Zhat changes: n, ess, chi2_hat, k_hat, max_weight and
//                   ci_low / ci_high stay those of the raw estimate, so the interval is
//                   centred on the raw log Zhat (delta method) and need not contain the
//                   recorded log_Zhat; no interval is computed for the smoothed value
//                   (log_Zhat_psis holds it too)
// A proposal sampled with top_p < 1 (the propose.json beside the trajectories says so;
// trajectories without one are taken as untruncated) misses mass pi_ref has: every
// estimate then carries "proposal_misses_target_mass" (kProposalMissesTargetMass), which
// makes it unreliable, so only policy=keep trains on such anchors.
// The trajectories are refused (InputError naming the file and the trajectories' positions)
// when a (prompt_id, sample) pair repeats or one prompt_id comes with two prompt_index or
// prompt_tokens values.
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
// "proposal_misses_target_mass": set on every estimate of a truncated proposal (top_p < 1).
using disa::kProposalMissesTargetMass;

AnchorOptions anchor_options(StageConfig& config);

struct AnchorSummary {
  std::int64_t prompts = 0, dropped = 0, unreliable = 0;
  // Why, over the unreliable estimates: each flag that makes one unreliable, and
  // "ess_below_min_ess", with the number of estimates carrying it (one may carry several).
  std::map<std::string, std::int64_t> unreliable_reasons;
  double mean_log_z_hat = 0;     // over the usable anchors (nan when every prompt is dropped)
  double mean_ess_fraction = 0;  // over every prompt: how well q covers p*
  std::string fingerprint;
};

AnchorSummary run_anchor(const AnchorOptions& options);
// "12 unreliable (k_hat_above_threshold 9, no_reward_observed 3)", or "0 unreliable".
std::string describe_unreliable(const AnchorSummary& summary);

// The records of an anchor stage's anchors.jsonl: the anchor.json beside it must exist and
// its anchors_fingerprint be the file's, else an InputError naming both fingerprints and
// the file (an edited anchors.jsonl, or another run's beside a copied anchor.json).
std::vector<AnchorRecord> load_stage_anchors(const std::filesystem::path& anchors_file);

// The anchors training may use: prompt id -> frozen log Zhat (dropped prompts absent).
// They must belong to the run, else an InputError naming both values: the anchor.json
// beside the file (the anchor stage writes one) must name the file's own fingerprint
// (load_stage_anchors) and `trajectories`' fingerprint, and with `beta` given every
// record's beta must equal it (log Zhat at beta 2 is the
// wrong anchor for a tb head at beta 1). std::nullopt: methods that use only which
// prompts survived, not the values.
std::map<std::string, double> usable_anchors(const std::filesystem::path& anchors_file,
                                             const std::filesystem::path& trajectories, std::optional<double> beta);

// The records training uses (not dropped, finite log Zhat): prompt id -> log Zhat. No
// checks; eval reads which prompts were trained with it.
std::map<std::string, double> kept_anchors(const std::vector<AnchorRecord>& records);

}  // namespace disa::llm::pipeline
