#include "llm/pipeline/propose.h"

#include <chrono>
#include <fstream>

#include <fmt/format.h>
#include <torch/torch.h>

#include "llm/model/scorer.h"
#include "llm/pipeline/loaded_model.h"
#include "llm/pipeline/rollout.h"
#include "llm/pipeline/stage_files.h"
#include "llm/pipeline/trajectory_file.h"
#include "src/atomic_file.h"
#include "src/input_error.h"

namespace disa::llm::pipeline {

ProposeOptions propose_options(StageConfig& c) {
  ProposeOptions o;
  o.reference = c.word("reference", "");
  if (o.reference.empty()) throw InputError("propose: reference (the reference model's folder) is required");
  o.proposal = c.word("proposal", "");
  o.task = c.word("task", o.task);
  o.data_dir = c.word("data_dir", "");
  o.prompts = c.integer("prompts", o.prompts, 1);
  o.samples = c.integer("samples", o.samples, 1);
  o.temperature = c.number("temperature", o.temperature, 0, kNoLimit, true);
  o.top_p = c.number("top_p", o.top_p, 0, 1.0 + 1e-12, true);
  o.allow_truncated_proposal = c.flag("allow_truncated_proposal", false);
  o.max_new_tokens = c.integer("max_new_tokens", o.max_new_tokens, 1);
  o.batch_size = c.integer("batch_size", o.batch_size, 1);
  o.chunk_prompts = c.integer("chunk_prompts", o.chunk_prompts, 1);
  o.seed = static_cast<std::uint64_t>(c.integer("seed", 1, 0));
  o.threads = static_cast<int>(c.integer("threads", 1, 1, 256));
  o.device = c.choice("device", "cpu", {"cpu", "cuda"});
  if (o.top_p < 1 && !o.allow_truncated_proposal) {
    throw InputError(fmt::format("propose: top_p={}: a truncated proposal misses mass pi_ref has, which biases log Zhat "
                                 "low; set allow_truncated_proposal=true to accept that",
                                 o.top_p));
  }
  return o;
}

nlohmann::ordered_json to_json(const ProposeOptions& o) {
  return {{"reference", o.reference.string()}, {"proposal", o.proposal.empty() ? o.reference.string() : o.proposal.string()},
          {"task", o.task},         {"data_dir", o.data_dir.string()},
          {"prompts", o.prompts},   {"samples", o.samples},
          {"temperature", o.temperature}, {"top_p", o.top_p},
          {"max_new_tokens", o.max_new_tokens}, {"chunk_prompts", o.chunk_prompts},
          {"seed", o.seed}};
}

namespace {

// A part on disk must hold exactly its prompts' samples, prompt-major (as written): a
// short or foreign part (a file edited, copied or cut by a crash of the disk) would
// otherwise pass into trajectories.jsonl and silently drop anchors downstream.
void check_part(const std::filesystem::path& path, const std::vector<TaskPrompt>& slice, std::int64_t samples) {
  const std::vector<Trajectory> t = read_trajectories(path);
  const std::size_t expected = slice.size() * static_cast<std::size_t>(samples);
  const auto refuse = [&](const std::string& why) {
    throw InputError(fmt::format("propose: '{}' {}; remove it to have it redone", path.string(), why));
  };
  if (t.size() != expected) {
    refuse(fmt::format("holds {} trajectories, expected {} ({} prompts x {} samples)", t.size(), expected,
                       slice.size(), samples));
  }
  for (std::size_t i = 0; i < t.size(); ++i) {
    const TaskPrompt& p = slice[i / static_cast<std::size_t>(samples)];
    const std::int64_t sample = static_cast<std::int64_t>(i % static_cast<std::size_t>(samples));
    if (t[i].prompt_id != p.id || t[i].sample != sample) {
      refuse(fmt::format("line {} is prompt '{}' sample {}, expected prompt '{}' sample {}", i + 1, t[i].prompt_id,
                         t[i].sample, p.id, sample));
    }
  }
}

}  // namespace

ProposeSummary run_propose(const ProposeOptions& o, const StageProgress& progress) {
  if (o.out.empty()) throw InputError("propose: --out is required");
  const auto start = std::chrono::steady_clock::now();
  torch::set_num_threads(o.threads);
  torch::NoGradGuard no_grad;
  const torch::Device device = parse_device(o.device);
  // Batch size and device are in the fingerprint: they never change a token, but the
  // padding of a batch and the device's kernels move log-probs in the last bits (~1e-6),
  // and a resume must not mix parts of two such runs. Threads do not change a bit.
  nlohmann::ordered_json fingerprint = to_json(o);
  fingerprint["batch_size"] = o.batch_size;
  fingerprint["device"] = o.device;

  LoadedModel reference = load_model(o.reference, device);
  const bool q_is_reference = o.proposal.empty() || o.proposal == o.reference;
  LoadedModel proposal_storage;
  if (!q_is_reference) {
    proposal_storage = load_model(o.proposal, device);
    if (proposal_storage.tokenizer->vocab_size() != reference.tokenizer->vocab_size() ||
        proposal_storage.eos != reference.eos || proposal_storage.stop_ids != reference.stop_ids) {
      throw InputError(fmt::format(
          "propose: the proposal's tokenizer or stop ids differ from the reference's (vocabulary {} vs {}, stop ids "
          "[{}] vs [{}])",
          proposal_storage.tokenizer->vocab_size(), reference.tokenizer->vocab_size(),
          fmt::join(proposal_storage.stop_ids, ", "), fmt::join(reference.stop_ids, ", ")));
    }
  }
  LoadedModel& q = q_is_reference ? reference : proposal_storage;
  // Sampler log-probs at temperature 1 without truncation are log pi_ref itself.
  const bool read_ref_from_sampler = q_is_reference && o.temperature == 1.0 && o.top_p == 1.0;

  const auto task = make_task(o.task, o.reference, o.data_dir, *reference.tokenizer);
  const std::vector<TaskPrompt> prompts = task->prompts(PromptSplit::kTrain, o.prompts);
  // The prompts themselves are part of what the folder holds: a task whose prompt list
  // changed (another task.json, another version) must not resume into old parts.
  std::string all_prompts;
  for (const TaskPrompt& p : prompts) all_prompts += p.id + '\n' + p.text + '\n';
  fingerprint["prompts_fingerprint"] = text_fingerprint(all_prompts);
  fingerprint["reference_fingerprint"] = model_fingerprint(o.reference);
  // Where rollouts stop (generation_config.json and the tokenizer are outside the weights'
  // fingerprint): a changed stop set must not resume into parts that stopped elsewhere.
  fingerprint["stop_token_ids"] = reference.stop_ids;
  if (!q_is_reference) fingerprint["proposal_fingerprint"] = model_fingerprint(o.proposal);
  claim_stage_folder(o.out, "propose", fingerprint);
  SamplingOptions sampling{.temperature = o.temperature, .top_p = o.top_p, .max_new_tokens = o.max_new_tokens,
                           .seed = o.seed};

  ProposeSummary s;
  s.prompts = static_cast<std::int64_t>(prompts.size());
  const std::size_t chunk = static_cast<std::size_t>(o.chunk_prompts);
  const std::size_t parts = (prompts.size() + chunk - 1) / chunk;
  double tokens = 0;
  std::filesystem::create_directories(o.out / "parts");
  for (std::size_t part = 0; part < parts; ++part) {
    const auto path = o.out / "parts" / fmt::format("part-{:05}.jsonl", part);
    const std::vector<TaskPrompt> slice(prompts.begin() + part * chunk,
                                        prompts.begin() + std::min(prompts.size(), (part + 1) * chunk));
    if (std::filesystem::exists(path)) {
      check_part(path, slice, o.samples);
      ++s.parts_reused;
      continue;
    }
    std::vector<Rollout> rollouts =
        roll_out(*q.model, *reference.tokenizer, reference.stop_ids, *task, slice, o.samples, sampling, o.batch_size);
    std::vector<std::vector<float>> ref_logprobs;
    if (!read_ref_from_sampler) {
      std::vector<ScoreRequest> requests;
      for (const Rollout& r : rollouts) requests.push_back({slice[r.prompt].tokens, r.completion.tokens});
      ref_logprobs = score(*reference.model, requests, o.batch_size);
    }
    std::vector<Trajectory> records;
    for (std::size_t i = 0; i < rollouts.size(); ++i) {
      const Rollout& r = rollouts[i];
      Trajectory t;
      t.prompt_index = slice[r.prompt].index;
      t.prompt_id = slice[r.prompt].id;
      t.prompt_tokens = slice[r.prompt].tokens;
      t.sample = r.sample;
      t.tokens = r.completion.tokens;
      t.response = r.response;
      t.finish = finish_reason_name(r.completion.finish);
      t.logq = r.completion.sampling_logprobs;
      t.logp_ref = read_ref_from_sampler ? r.completion.model_logprobs : ref_logprobs[i];
      // Non-finite log q or log pi_ref cannot reach a part: the sampler and the scorer
      // stop on them (a broken model), so no resume reuses a part holding nulls.
      for (const float v : t.logq) t.logq_sum += v;
      for (const float v : t.logp_ref) t.logp_ref_sum += v;
      t.reward = r.verdict.reward;
      t.reason = r.verdict.reason;
      t.signature = r.verdict.signature;
      t.strategy = r.verdict.strategy;
      tokens += static_cast<double>(t.tokens.size());
      records.push_back(std::move(t));
    }
    write_file_atomically(path, [&](std::ostream& out) { write_trajectories(out, records); });
    if (progress) {
      progress(static_cast<double>(part + 1) / static_cast<double>(parts),
               fmt::format("prompt {}/{}", std::min(prompts.size(), (part + 1) * chunk), prompts.size()));
    }
  }

  // Concatenate (re-reading validates every part, including reused ones).
  std::vector<Trajectory> all;
  for (std::size_t part = 0; part < parts; ++part) {
    std::vector<Trajectory> t = read_trajectories(o.out / "parts" / fmt::format("part-{:05}.jsonl", part));
    all.insert(all.end(), std::make_move_iterator(t.begin()), std::make_move_iterator(t.end()));
  }
  write_file_atomically(o.out / "trajectories.jsonl", [&](std::ostream& out) { write_trajectories(out, all); });
  s.trajectories = static_cast<std::int64_t>(all.size());
  for (const Trajectory& t : all) s.mean_reward += t.reward;
  s.mean_reward /= std::max<double>(1.0, static_cast<double>(all.size()));
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  s.tokens_per_second = tokens / std::max(s.seconds, 1e-9);
  nlohmann::ordered_json record;
  record["stage"] = "propose";
  record["options"] = fingerprint;
  record["logp_ref_source"] = read_ref_from_sampler ? "sampler (q is pi_ref at temperature 1)" : "teacher-forced scorer";
  record["prompts"] = s.prompts;
  record["trajectories"] = s.trajectories;
  record["mean_reward"] = s.mean_reward;
  record["parts_reused"] = s.parts_reused;
  record["seconds_this_invocation"] = s.seconds;
  write_json_atomically(o.out / "propose.json", record);
  return s;
}

}  // namespace disa::llm::pipeline
