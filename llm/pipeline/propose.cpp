#include "llm/pipeline/propose.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <tuple>
#include <utility>

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

namespace {

// "m/M" with 0 <= m < M, both plain decimal integers.
std::pair<std::int64_t, std::int64_t> parse_shard(const std::string& text) {
  const auto refuse = [&] {
    return InputError(fmt::format("propose: shard='{}': expected INDEX/COUNT with 0 <= INDEX < COUNT (e.g. 0/4)", text));
  };
  const std::size_t slash = text.find('/');
  if (slash == std::string::npos) throw refuse();
  const auto read = [&](std::size_t begin, std::size_t end) {
    std::int64_t v = -1;
    const auto [ptr, ec] = std::from_chars(text.data() + begin, text.data() + end, v);
    if (begin == end || ec != std::errc() || ptr != text.data() + end) throw refuse();
    return v;
  };
  const std::int64_t index = read(0, slash), count = read(slash + 1, text.size());
  if (index < 0 || count < 1 || index >= count) throw refuse();
  return {index, count};
}

}  // namespace

ProposeOptions propose_options(StageConfig& c) {
  ProposeOptions o;
  o.reference = canonical_stage_path(c.word("reference", ""));
  if (o.reference.empty()) throw InputError("propose: reference (the reference model's folder) is required");
  o.proposal = canonical_stage_path(c.word("proposal", ""));
  o.task = c.word("task", o.task);
  o.data_dir = canonical_stage_path(c.word("data_dir", ""));
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
  const std::string shard = c.word("shard", "0/1");
  std::tie(o.shard_index, o.shard_count) = parse_shard(shard);
  const std::string from = c.word("shards_from", "");
  for (std::size_t begin = 0; !from.empty() && begin <= from.size();) {
    const std::size_t end = std::min(from.find(',', begin), from.size());
    if (end == begin) throw InputError(fmt::format("propose: shards_from='{}': an empty folder name", from));
    o.shards_from.push_back(canonical_stage_path(from.substr(begin, end - begin)));
    begin = end + 1;
  }
  if (o.shard_count > 1 && !o.shards_from.empty()) {
    throw InputError(fmt::format("propose: shard={} with shards_from: parts are taken from shard folders by the run "
                                 "that completes the folder (no shard key), not by a shard",
                                 shard));
  }
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

// A folder parts are taken from (shards_from) must be a propose folder whose options are
// this run's, its shard and folder paths aside: then its parts are the parts this run
// would sample.
void check_source_folder(const std::filesystem::path& dir, const nlohmann::ordered_json& fingerprint) {
  const auto path = dir / "options.json";
  if (!std::filesystem::is_regular_file(path)) {
    throw InputError(fmt::format("propose: shards_from '{}' holds no options.json: not a propose folder", dir.string()));
  }
  const nlohmann::json record = read_json_file(path);
  if (!record.is_object() || record.value("stage", "") != "propose" || !record.contains("options") ||
      !record["options"].is_object()) {
    throw InputError(fmt::format("propose: shards_from '{}' is not a propose folder (its options.json)", dir.string()));
  }
  // Folder paths are where the shard's machine kept the models and data: the content is
  // what must agree, and the weights' and prompts' fingerprints say it does.
  nlohmann::json theirs = record["options"], ours = nlohmann::json::parse(fingerprint.dump());
  for (const char* key : {"shard", "reference", "proposal", "data_dir"}) theirs.erase(key);
  for (const char* key : {"reference", "proposal", "data_dir"}) ours.erase(key);
  if (const auto d = first_difference(theirs, ours)) {
    throw InputError(fmt::format("propose: shards_from '{}' was sampled with other options ({}): its parts are not "
                                 "this run's",
                                 dir.string(), *d));
  }
}

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("propose: cannot read '{}'", path.string()));
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

ProposeSummary run_propose(const ProposeOptions& o, const StageProgress& progress) {
  if (o.out.empty()) throw InputError("propose: --out is required");
  const auto start = std::chrono::steady_clock::now();
  torch::set_num_threads(o.threads);
  torch::NoGradGuard no_grad;
  // Batch size and device are in the fingerprint: they never change a token, but the
  // padding of a batch and the device's kernels move log-probs in the last bits (~1e-6),
  // and a resume must not mix parts of two such runs. Threads do not change a bit.
  nlohmann::ordered_json fingerprint = to_json(o);
  fingerprint["batch_size"] = o.batch_size;
  fingerprint["device"] = o.device;

  // The models are loaded (on `device`) only when a part is to be sampled: a run that
  // completes a folder from shards (shards_from) or resumes a finished one needs the
  // tokenizer for the prompts, not the weights, nor the shards' device.
  const std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(o.reference);
  const std::vector<std::int32_t> stop_ids = stop_token_ids_of(o.reference);
  const bool q_is_reference = o.proposal.empty() || o.proposal == o.reference;
  std::optional<LoadedModel> reference, proposal_storage;
  const auto load_models = [&] {
    if (reference) return;
    const torch::Device device = parse_device(o.device);
    reference = load_model(o.reference, device);
    if (!q_is_reference) {
      proposal_storage = load_model(o.proposal, device);
      if (proposal_storage->tokenizer->vocab_size() != reference->tokenizer->vocab_size() ||
          proposal_storage->eos != reference->eos || proposal_storage->stop_ids != reference->stop_ids) {
        throw InputError(fmt::format(
            "propose: the proposal's tokenizer or stop ids differ from the reference's (vocabulary {} vs {}, stop ids "
            "[{}] vs [{}])",
            proposal_storage->tokenizer->vocab_size(), reference->tokenizer->vocab_size(),
            fmt::join(proposal_storage->stop_ids, ", "), fmt::join(reference->stop_ids, ", ")));
      }
    }
  };
  // Sampler log-probs at temperature 1 without truncation are log pi_ref itself.
  const bool read_ref_from_sampler = q_is_reference && o.temperature == 1.0 && o.top_p == 1.0;

  const auto task = make_task(o.task, o.reference, o.data_dir, *tokenizer);
  const std::vector<TaskPrompt> prompts = task->prompts(PromptSplit::kTrain, o.prompts);
  // The prompts themselves are part of what the folder holds: a task whose prompt list
  // changed (another task.json, another version) must not resume into old parts.
  fingerprint["prompts_fingerprint"] = prompts_fingerprint(prompts);
  fingerprint["reference_fingerprint"] = model_fingerprint(o.reference);
  // Where rollouts stop (generation_config.json is outside the model's fingerprint): a
  // changed stop set must not resume into parts that stopped elsewhere.
  fingerprint["stop_token_ids"] = stop_ids;
  fingerprint["truncated_rollouts"] = kTruncatedRolloutsRule;
  if (!q_is_reference) fingerprint["proposal_fingerprint"] = model_fingerprint(o.proposal);
  // Checked before anything is written: a wrong source folder ends the run, not a part.
  for (const std::filesystem::path& dir : o.shards_from) check_source_folder(dir, fingerprint);
  // A shard's folder holds some parts only; the shard key keeps it from ever being taken
  // for (or resumed as) a whole run's folder.
  const bool is_shard = o.shard_count > 1;
  const std::string shard = fmt::format("{}/{}", o.shard_index, o.shard_count);
  nlohmann::ordered_json claim = fingerprint;
  if (is_shard) claim["shard"] = shard;
  claim_stage_folder(o.out, "propose", claim);
  SamplingOptions sampling{.temperature = o.temperature, .top_p = o.top_p, .max_new_tokens = o.max_new_tokens,
                           .seed = o.seed};

  ProposeSummary s;
  const std::size_t chunk = static_cast<std::size_t>(o.chunk_prompts);
  const std::size_t parts = (prompts.size() + chunk - 1) / chunk;
  double tokens = 0;
  std::filesystem::create_directories(o.out / "parts");
  const auto part_name = [](std::size_t part) { return fmt::format("part-{:05}.jsonl", part); };
  std::vector<std::size_t> mine;  // the parts this run writes
  for (std::size_t part = 0; part < parts; ++part) {
    if (!is_shard || part % static_cast<std::size_t>(o.shard_count) == static_cast<std::size_t>(o.shard_index)) {
      mine.push_back(part);
    }
  }
  s.parts = static_cast<std::int64_t>(mine.size());
  s.parts_total = static_cast<std::int64_t>(parts);
  for (const std::size_t part : mine) {
    s.prompts += static_cast<std::int64_t>(std::min(prompts.size(), (part + 1) * chunk) - part * chunk);
  }
  const auto report = [&](std::size_t done) {
    if (progress) {
      progress(static_cast<double>(done) / static_cast<double>(std::max<std::size_t>(1, mine.size())),
               fmt::format("part {}/{}{}", done, mine.size(), is_shard ? " of shard " + shard : ""));
    }
  };
  for (std::size_t k = 0; k < mine.size(); ++k) {
    const std::size_t part = mine[k];
    const auto path = o.out / "parts" / part_name(part);
    const std::vector<TaskPrompt> slice(prompts.begin() + part * chunk,
                                        prompts.begin() + std::min(prompts.size(), (part + 1) * chunk));
    if (std::filesystem::exists(path)) {
      check_part(path, slice, o.samples);
      ++s.parts_reused;
      continue;
    }
    const auto source = std::find_if(o.shards_from.begin(), o.shards_from.end(), [&](const std::filesystem::path& dir) {
      return std::filesystem::exists(dir / "parts" / part_name(part));
    });
    if (source != o.shards_from.end()) {
      const auto from = *source / "parts" / part_name(part);
      check_part(from, slice, o.samples);
      const std::string bytes = read_bytes(from);
      write_file_atomically(path, [&](std::ostream& out) { out << bytes; });
      ++s.parts_copied;
      report(k + 1);
      continue;
    }
    load_models();
    LoadedModel& q = q_is_reference ? *reference : *proposal_storage;
    std::vector<Rollout> rollouts = roll_out(*q.model, *reference->tokenizer, reference->stop_ids, *task, slice,
                                             o.samples, sampling, o.batch_size, "samples");
    std::vector<std::vector<float>> ref_logprobs;
    if (!read_ref_from_sampler) {
      std::vector<ScoreRequest> requests;
      for (const Rollout& r : rollouts) requests.push_back({slice[r.prompt].tokens, r.completion.tokens});
      ref_logprobs = score(*reference->model, requests, o.batch_size);
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
    report(k + 1);
  }

  // Concatenate (re-reading validates every part, including reused ones); a shard only
  // re-reads its own.
  std::vector<Trajectory> all;
  for (const std::size_t part : mine) {
    std::vector<Trajectory> t = read_trajectories(o.out / "parts" / part_name(part));
    all.insert(all.end(), std::make_move_iterator(t.begin()), std::make_move_iterator(t.end()));
  }
  if (!is_shard) {
    write_file_atomically(o.out / "trajectories.jsonl", [&](std::ostream& out) { write_trajectories(out, all); });
  }
  s.trajectories = static_cast<std::int64_t>(all.size());
  for (const Trajectory& t : all) s.mean_reward += t.reward;
  s.mean_reward /= std::max<double>(1.0, static_cast<double>(all.size()));
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  s.tokens_per_second = tokens / std::max(s.seconds, 1e-9);
  nlohmann::ordered_json record;
  record["stage"] = "propose";
  record["options"] = claim;
  if (is_shard) {
    record["shard"] = shard;
    record["parts_this_shard"] = mine.size();
    record["parts_total"] = parts;
  }
  record["logp_ref_source"] = read_ref_from_sampler ? "sampler (q is pi_ref at temperature 1)" : "teacher-forced scorer";
  record["prompts"] = s.prompts;
  record["trajectories"] = s.trajectories;
  record["mean_reward"] = s.mean_reward;
  record["parts_reused"] = s.parts_reused;
  record["parts_copied"] = s.parts_copied;
  record["seconds_this_invocation"] = s.seconds;
  write_json_atomically(o.out / "propose.json", record);
  return s;
}

}  // namespace disa::llm::pipeline
