#include "llm/pipeline/anchor_stage.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <map>
#include <utility>

#include <fmt/format.h>

#include "llm/pipeline/stage_files.h"
#include "llm/pipeline/trajectory_file.h"
#include "src/anchor.h"
#include "src/input_error.h"
#include "src/is_estimator.h"
#include "src/json_number.h"
#include "src/json_strict.h"

namespace disa::llm::pipeline {

namespace {

// True when the propose.json beside `trajectories` (propose writes one) says the proposal
// was sampled with top_p < 1. Trajectories without one (made elsewhere, or copied alone)
// are taken as they were before propose.json was read here: untruncated.
bool proposal_was_truncated(const std::filesystem::path& trajectories) {
  const std::filesystem::path record = trajectories.parent_path() / "propose.json";
  if (!std::filesystem::exists(record)) return false;
  const nlohmann::json made = read_json_file(record);
  const nlohmann::json options = made.is_object() ? made.value("options", nlohmann::json()) : nlohmann::json();
  const nlohmann::json top_p = options.is_object() ? options.value("top_p", nlohmann::json()) : nlohmann::json();
  if (!top_p.is_number() || !(top_p.get<double>() > 0 && top_p.get<double>() <= 1)) {
    throw InputError(
        fmt::format("anchor: '{}': options.top_p = {} must be a number in (0, 1] (it says whether the "
                    "proposal beside it was truncated)",
                    record.string(), json_excerpt(top_p)));
  }
  return top_p.get<double>() < 1;
}

// The records of `anchors_file` and the anchor.json beside it, once that record is known to
// be this very file's: an anchors.jsonl edited, or another run's put beside a copied
// anchor.json, would otherwise pass every check made against the record. `hint` ends the
// error of a missing anchor.json (what to do instead).
std::pair<std::vector<AnchorRecord>, nlohmann::json> load_recorded_anchors(const std::filesystem::path& anchors_file,
                                                                           const std::string& hint) {
  const std::filesystem::path record = anchors_file.parent_path() / "anchor.json";
  if (!std::filesystem::exists(record)) {
    throw InputError(
        fmt::format("anchors '{}' have no anchor.json beside them, so nothing says which trajectories "
                    "they were estimated from: {}",
                    anchors_file.string(), hint));
  }
  nlohmann::json made = read_json_file(record);
  if (!made.is_object() || !made.contains("options") || !made["options"].is_object()) {
    throw InputError(fmt::format("'{}' is not an anchor stage's record (no options)", record.string()));
  }
  // Read once, fingerprinted and parsed from the same bytes.
  std::ifstream in(anchors_file, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot open for reading", anchors_file.string()));
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  const nlohmann::json recorded = made.value("anchors_fingerprint", nlohmann::json());
  const std::string theirs = recorded.is_string() ? recorded.get<std::string>() : json_excerpt(recorded);
  const std::string ours = text_fingerprint(text);
  if (theirs != ours) {
    throw InputError(
        fmt::format("anchors '{}' have fingerprint {}, but the anchor.json beside them ({}) records "
                    "anchors_fingerprint {}: the file was changed or is another run's; anchor again",
                    anchors_file.string(), ours, record.string(), theirs));
  }
  return {parse_anchors(text, anchors_file.string()), std::move(made)};
}

}  // namespace

AnchorOptions anchor_options(StageConfig& c) {
  AnchorOptions o;
  o.trajectories = canonical_stage_path(c.word("trajectories", ""));
  if (o.trajectories.empty()) throw InputError("anchor: trajectories (the propose stage's trajectories.jsonl) is required");
  o.beta = c.number("beta", o.beta, 0, kNoLimit, true);
  o.policy = c.choice("policy", o.policy, {"drop", "keep", "psis"});
  o.min_ess = c.number("min_ess", o.min_ess, 0, kNoLimit);
  o.ci_level = c.number("ci_level", o.ci_level, 0, 1, true);
  return o;
}

std::string describe_unreliable(const AnchorSummary& s) {
  std::string reasons;
  for (const auto& [flag, count] : s.unreliable_reasons) {
    reasons += fmt::format("{}{} {}", reasons.empty() ? "" : ", ", flag, count);
  }
  return reasons.empty() ? fmt::format("{} unreliable", s.unreliable)
                         : fmt::format("{} unreliable ({})", s.unreliable, reasons);
}

AnchorSummary run_anchor(const AnchorOptions& o) {
  if (o.out.empty()) throw InputError("anchor: --out is required");
  const std::string trajectories_fingerprint = file_fingerprint(o.trajectories);
  // In the options, so a finished folder is reused only for a proposal read the same way
  // (one anchored before the truncation was read would be reused unflagged).
  const bool truncated = proposal_was_truncated(o.trajectories);
  const nlohmann::ordered_json options{{"trajectories", o.trajectories.string()},
                                       {"trajectories_fingerprint", trajectories_fingerprint},
                                       {"proposal_truncated", truncated},
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
  std::map<std::string, std::size_t> first_of_prompt;             // its first trajectory, from 1
  std::map<std::pair<std::string, std::int64_t>, std::size_t> position_of_sample;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const Trajectory& t = all[i];
    // The estimator takes the N weights as independent draws: a sample counted twice
    // narrows the CI and raises the ESS with no new information.
    if (const auto [it, fresh] = position_of_sample.try_emplace({t.prompt_id, t.sample}, i + 1); !fresh) {
      throw InputError(
          fmt::format("anchor: '{}': prompt '{}' sample {} appears twice (trajectories {} and {}, in "
                      "file order): each sample must be drawn once",
                      o.trajectories.string(), t.prompt_id, t.sample, it->second, i + 1));
    }
    // One prompt id, one prompt: records of an id that disagree on it were spliced from two
    // runs, and their weights would be pooled into one anchor.
    if (const auto [it, fresh] = first_of_prompt.try_emplace(t.prompt_id, i + 1); !fresh) {
      const Trajectory& first = all[it->second - 1];
      const char* field = first.prompt_index != t.prompt_index     ? "prompt_index"
                          : first.prompt_tokens != t.prompt_tokens ? "prompt_tokens"
                                                                   : nullptr;
      if (field != nullptr) {
        throw InputError(
            fmt::format("anchor: '{}': prompt '{}' has another {} at trajectory {} than at trajectory {} "
                        "(in file order): records of one prompt id must be of one prompt",
                        o.trajectories.string(), t.prompt_id, field, i + 1, it->second));
      }
    }
    auto [it, fresh] = log_w.try_emplace(t.prompt_id);
    if (fresh) order.push_back(t.prompt_id), reward_range[t.prompt_id] = {t.reward, t.reward};
    it->second.push_back(t.logp_ref_sum + o.beta * t.reward - t.logq_sum);
    auto& [low, high] = reward_range[t.prompt_id];
    low = std::min(low, t.reward), high = std::max(high, t.reward);
  }
  if (order.empty()) throw InputError(fmt::format("anchor: '{}' holds no trajectory", o.trajectories.string()));

  // ESS never exceeds N: under the drop policy a min_ess above every prompt's N dropped
  // every prompt, and the stage ended with exit 0 and a mean log Zhat of nan over no kept
  // prompt (keep only flags them, psis may smooth them).
  std::size_t most_samples = 0;
  for (const auto& [id, w] : log_w) most_samples = std::max(most_samples, w.size());
  if (o.policy == "drop" && o.min_ess > static_cast<double>(most_samples)) {
    throw InputError(
        fmt::format("anchor: min_ess={} is above the {} samples a prompt has at most in '{}': an ESS "
                    "never exceeds N, so policy=drop would drop every prompt",
                    o.min_ess, most_samples, o.trajectories.string()));
  }
  IsOptions is;
  is.ci_level = o.ci_level;
  AnchorSummary s;
  std::int64_t usable = 0;
  std::vector<AnchorRecord> anchors;
  for (const std::string& id : order) {
    IsEstimate e;
    try {
      e = estimate_log_partition(log_w[id], is);
    } catch (const InputError& error) {  // "log_w[0]: +inf log-weight" named neither file nor prompt
      throw InputError(fmt::format("anchor: '{}': prompt '{}' (log w = log pi_ref + beta r - log q, beta {}): {}",
                                   o.trajectories.string(), id, o.beta, error.what()));
    }
    // q(y) = 0 where pi_ref(y) > 0: E[Zhat] = Z (1 - p*(cut mass)), a bias no diagnostic
    // of the samples can show, so the flag (which makes the estimate unreliable) is the
    // only place it is said.
    if (truncated) e.flags.push_back(kProposalMissesTargetMass);
    AnchorRecord a = make_anchor(id, e, "propose:" + o.trajectories.string(), o.beta, 0);
    const bool no_reward = e.n > 1 && reward_range[id].second <= 0.0;  // every sample failed
    if (no_reward) a.flags.push_back(kNoRewardObserved);
    const bool unreliable = !e.reliable() || e.ess < o.min_ess || no_reward;
    if (unreliable) {
      ++s.unreliable;
      for (const std::string& f : a.flags) {
        if (flag_makes_unreliable(f)) ++s.unreliable_reasons[f];
      }
      if (e.ess < o.min_ess) ++s.unreliable_reasons["ess_below_min_ess"];
      if (o.policy == "keep") {
        a.flags.push_back("policy:kept_unreliable");
      } else if (o.policy == "psis" && std::isfinite(e.log_z_psis) && !no_reward && !truncated) {
        // Smoothing the weights' tail cannot supply the reward variation no sample showed,
        // nor the mass the truncated proposal never drew.
        // Only log_Zhat is replaced: ci_low / ci_high stay the raw estimate's interval (its
        // midpoint is the raw log Zhat under the delta method). Moving them onto the smoothed
        // value would claim a width nobody measured (PSIS gives no standard error here, and
        // with k_hat above its cut the raw interval's coverage is itself unreliable); the anchor
        // file's description (anchor_stage.h) says so.
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
                                {"unreliable_reasons", s.unreliable_reasons},
                                {"dropped", s.dropped},
                                {"mean_log_z_hat", to_json_number(s.mean_log_z_hat)},
                                {"mean_ess_fraction", s.mean_ess_fraction},
                                {"anchors_fingerprint", s.fingerprint}};
  write_json_atomically(o.out / "anchor.json", record);
  return s;
}

std::vector<AnchorRecord> load_stage_anchors(const std::filesystem::path& anchors_file) {
  return load_recorded_anchors(anchors_file, "anchor the trajectories with `disa llm anchor` and give its anchors")
      .first;
}

std::map<std::string, double> usable_anchors(const std::filesystem::path& anchors_file,
                                             const std::filesystem::path& trajectories, std::optional<double> beta) {
  // anchor.json (written by the anchor stage beside its anchors) is what ties the anchors to
  // the trajectories they were estimated from; without it anchors of other samples (another
  // seed, another proposal) would train unnoticed, so they are refused.
  const auto [records, made] = load_recorded_anchors(
      anchors_file, fmt::format("anchor '{}' with `disa llm anchor` and give its anchors", trajectories.string()));
  {
    const std::filesystem::path record = anchors_file.parent_path() / "anchor.json";
    const std::string theirs = made.at("options").value("trajectories_fingerprint", std::string());
    const std::string ours = file_fingerprint(trajectories);
    if (theirs != ours) {
      throw InputError(fmt::format("anchors '{}' were estimated from trajectories with fingerprint {} ({}), not from "
                                   "'{}' (fingerprint {}): give the anchors of these trajectories",
                                   anchors_file.string(), theirs, record.string(), trajectories.string(), ours));
    }
  }
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
