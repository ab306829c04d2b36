#include "llm/pipeline/anchor_stage.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "llm/pipeline/stage_files.h"
#include "llm/pipeline/trajectory_file.h"
#include "src/anchor.h"
#include "src/input_error.h"
#include "src/is_estimator.h"
#include "src/json_number.h"

namespace disa::llm::pipeline {

AnchorOptions anchor_options(StageConfig& c) {
  AnchorOptions o;
  o.trajectories = c.word("trajectories", "");
  if (o.trajectories.empty()) throw InputError("anchor: trajectories (the propose stage's trajectories.jsonl) is required");
  o.beta = c.number("beta", o.beta, 0, kNoLimit, true);
  o.policy = c.choice("policy", o.policy, {"drop", "keep", "psis"});
  o.min_ess = c.number("min_ess", o.min_ess, 0, kNoLimit);
  o.ci_level = c.number("ci_level", o.ci_level, 0, 1, true);
  return o;
}

AnchorSummary run_anchor(const AnchorOptions& o) {
  if (o.out.empty()) throw InputError("anchor: --out is required");
  const std::string trajectories_fingerprint = file_fingerprint(o.trajectories);
  const nlohmann::ordered_json options{{"trajectories", o.trajectories.string()},
                                       {"trajectories_fingerprint", trajectories_fingerprint},
                                       {"beta", o.beta},
                                       {"policy", o.policy},
                                       {"min_ess", o.min_ess},
                                       {"ci_level", o.ci_level}};
  claim_stage_folder(o.out, "anchor", options);

  // Group by prompt, keeping the file's prompt order.
  const std::vector<Trajectory> all = read_trajectories(o.trajectories);
  std::vector<std::string> order;
  std::map<std::string, std::vector<double>> log_w;
  std::map<std::string, std::pair<double, double>> reward_range;  // min, max per prompt
  for (const Trajectory& t : all) {
    auto [it, fresh] = log_w.try_emplace(t.prompt_id);
    if (fresh) order.push_back(t.prompt_id), reward_range[t.prompt_id] = {t.reward, t.reward};
    it->second.push_back(t.logp_ref_sum + o.beta * t.reward - t.logq_sum);
    auto& [low, high] = reward_range[t.prompt_id];
    low = std::min(low, t.reward), high = std::max(high, t.reward);
  }
  if (order.empty()) throw InputError(fmt::format("anchor: '{}' holds no trajectory", o.trajectories.string()));

  IsOptions is;
  is.ci_level = o.ci_level;
  AnchorSummary s;
  std::int64_t usable = 0;
  std::vector<AnchorRecord> anchors;
  for (const std::string& id : order) {
    const IsEstimate e = estimate_log_partition(log_w[id], is);
    AnchorRecord a = make_anchor(id, e, "propose:" + o.trajectories.string(), o.beta, 0);
    const bool no_reward = e.n > 1 && reward_range[id].second <= 0.0;  // every sample failed
    if (no_reward) a.flags.push_back(kNoRewardObserved);
    const bool unreliable = !e.reliable() || e.ess < o.min_ess || no_reward;
    if (unreliable) {
      ++s.unreliable;
      if (o.policy == "keep") {
        a.flags.push_back("policy:kept_unreliable");
      } else if (o.policy == "psis" && std::isfinite(e.log_z_psis) && !no_reward) {
        // Smoothing the weights' tail cannot supply the reward variation no sample showed.
        a.log_z_hat = e.log_z_psis;
        a.flags.push_back("policy:psis");
      } else {
        a.flags.push_back("policy:dropped");
        ++s.dropped;
      }
    }
    // Over the anchors training uses (as usable_anchors reads them), not the dropped ones.
    if (std::find(a.flags.begin(), a.flags.end(), "policy:dropped") == a.flags.end() && std::isfinite(a.log_z_hat)) {
      s.mean_log_z_hat += a.log_z_hat;
      ++usable;
    }
    s.mean_ess_fraction += e.ess_fraction;
    anchors.push_back(std::move(a));
  }
  s.prompts = static_cast<std::int64_t>(anchors.size());
  s.mean_log_z_hat = usable > 0 ? s.mean_log_z_hat / static_cast<double>(usable) : NAN;
  s.mean_ess_fraction /= static_cast<double>(s.prompts);
  save_anchors(anchors, (o.out / "anchors.jsonl").string());
  s.fingerprint = file_fingerprint(o.out / "anchors.jsonl");
  nlohmann::ordered_json record{{"stage", "anchor"},
                                {"options", options},
                                {"prompts", s.prompts},
                                {"unreliable", s.unreliable},
                                {"dropped", s.dropped},
                                {"mean_log_z_hat", to_json_number(s.mean_log_z_hat)},
                                {"mean_ess_fraction", s.mean_ess_fraction},
                                {"anchors_fingerprint", s.fingerprint}};
  write_json_atomically(o.out / "anchor.json", record);
  return s;
}

std::map<std::string, double> usable_anchors(const std::filesystem::path& anchors_file,
                                             const std::filesystem::path& trajectories, std::optional<double> beta) {
  // anchor.json (written by the anchor stage beside its anchors) is what ties the anchors to
  // the trajectories they were estimated from; without it anchors of other samples (another
  // seed, another proposal) would train unnoticed, so they are refused.
  const std::filesystem::path record = anchors_file.parent_path() / "anchor.json";
  if (!std::filesystem::exists(record)) {
    throw InputError(fmt::format("anchors '{}' have no anchor.json beside them, so nothing says which trajectories "
                                 "they were estimated from: anchor '{}' with `disa llm anchor` and give its anchors",
                                 anchors_file.string(), trajectories.string()));
  }
  {
    const nlohmann::json made = read_json_file(record);
    const std::string theirs = made.at("options").value("trajectories_fingerprint", std::string());
    const std::string ours = file_fingerprint(trajectories);
    if (theirs != ours) {
      throw InputError(fmt::format("anchors '{}' were estimated from trajectories with fingerprint {} ({}), not from "
                                   "'{}' (fingerprint {}): give the anchors of these trajectories",
                                   anchors_file.string(), theirs, record.string(), trajectories.string(), ours));
    }
  }
  const std::vector<AnchorRecord> records = load_anchors(anchors_file.string());
  for (const AnchorRecord& a : records) {
    if (beta && a.beta != *beta) {
      throw InputError(fmt::format("anchors '{}': prompt '{}' has beta={} but the loss head trains at beta={}: "
                                   "anchor at the training beta (anchor --set beta={})",
                                   anchors_file.string(), a.prompt, a.beta, *beta, *beta));
    }
  }
  return kept_anchors(records);
}

std::map<std::string, double> kept_anchors(const std::vector<AnchorRecord>& records) {
  std::map<std::string, double> out;
  for (const AnchorRecord& a : records) {
    if (std::find(a.flags.begin(), a.flags.end(), "policy:dropped") != a.flags.end()) continue;
    if (!std::isfinite(a.log_z_hat)) continue;
    out[a.prompt] = a.log_z_hat;
  }
  return out;
}

}  // namespace disa::llm::pipeline
