#include "llm/pipeline/trajectory_file.h"

#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "src/input_error.h"
#include "src/json_strict.h"

namespace disa::llm::pipeline {
namespace {

using json = nlohmann::json;

std::vector<float> number_list(const json& j, const char* field, const std::string& where) {
  if (!j.contains(field) || !j[field].is_array()) throw InputError(fmt::format("{}: field '{}' must be a list", where, field));
  std::vector<float> out;
  out.reserve(j[field].size());
  for (const json& v : j[field]) {
    if (!v.is_number()) throw InputError(fmt::format("{}: field '{}' holds {}, not a number", where, field, json_excerpt(v)));
    out.push_back(v.get<float>());
  }
  return out;
}

// An integer in [0, max] as JSON wrote it: 0.9 or 1e30 through a double and a cast would
// become another index (or undefined behaviour), and 2^31 through get<int32_t>() would
// wrap to a negative token id. The writer writes integers, so anything else is damage.
std::int64_t whole_number(const json& v, const std::string& field, std::int64_t max, const std::string& where) {
  const bool in_range = v.is_number_unsigned()
                            ? v.get<std::uint64_t>() <= static_cast<std::uint64_t>(max)
                            : v.is_number_integer() && v.get<std::int64_t>() >= 0 && v.get<std::int64_t>() <= max;
  if (!in_range) {
    throw InputError(
        fmt::format("{}: field '{}' = {} must be an integer in [0, {}]", where, field, json_excerpt(v), max));
  }
  return v.get<std::int64_t>();
}

std::int64_t whole_number(const json& j, const char* field, const std::string& where) {
  if (!j.contains(field)) throw InputError(fmt::format("{}: field '{}' is missing", where, field));
  return whole_number(j[field], field, std::numeric_limits<std::int64_t>::max(), where);
}

std::vector<std::int32_t> token_list(const json& j, const char* field, const std::string& where) {
  if (!j.contains(field) || !j[field].is_array())
    throw InputError(fmt::format("{}: field '{}' must be a list", where, field));
  std::vector<std::int32_t> out;
  out.reserve(j[field].size());
  for (std::size_t k = 0; k < j[field].size(); ++k) {
    const std::int64_t id =
        whole_number(j[field][k], fmt::format("{}[{}]", field, k), std::numeric_limits<std::int32_t>::max(), where);
    out.push_back(static_cast<std::int32_t>(id));
  }
  return out;
}

double finite_number(const json& j, const char* field, const std::string& where) {
  if (!j.contains(field) || !j[field].is_number()) throw InputError(fmt::format("{}: field '{}' must be a number", where, field));
  const double v = j[field].get<double>();
  if (!std::isfinite(v)) throw InputError(fmt::format("{}: field '{}' = {} is not finite", where, field, v));
  return v;
}

std::string text(const json& j, const char* field, const std::string& where) {
  if (!j.contains(field) || !j[field].is_string()) throw InputError(fmt::format("{}: field '{}' must be a string", where, field));
  return j[field].get<std::string>();
}

}  // namespace

nlohmann::ordered_json to_json(const Trajectory& t) {
  nlohmann::ordered_json j;
  j["prompt_index"] = t.prompt_index;
  j["prompt_id"] = t.prompt_id;
  j["prompt_tokens"] = t.prompt_tokens;
  j["sample"] = t.sample;
  j["tokens"] = t.tokens;
  j["response"] = t.response;
  j["finish"] = t.finish;
  j["logq"] = t.logq;
  j["logp_ref"] = t.logp_ref;
  j["logq_sum"] = t.logq_sum;
  j["logp_ref_sum"] = t.logp_ref_sum;
  j["reward"] = t.reward;
  j["reason"] = t.reason;
  j["signature"] = t.signature;
  j["strategy"] = t.strategy;
  return j;
}

Trajectory trajectory_from_json(const json& j, const std::string& where) {
  if (!j.is_object()) throw InputError(fmt::format("{}: a trajectory must be a JSON object", where));
  Trajectory t;
  t.prompt_index = whole_number(j, "prompt_index", where);
  t.prompt_id = text(j, "prompt_id", where);
  t.prompt_tokens = token_list(j, "prompt_tokens", where);
  t.sample = whole_number(j, "sample", where);
  t.tokens = token_list(j, "tokens", where);
  t.response = text(j, "response", where);
  t.finish = text(j, "finish", where);
  // finish_reason_name's values (llm/model/sampler.h): what a rollout can end with.
  if (t.finish != "eos" && t.finish != "stop" && t.finish != "length") {
    throw InputError(
        fmt::format("{}: field 'finish' = '{}' must be eos, stop or length", where, text_excerpt(t.finish)));
  }
  t.logq = number_list(j, "logq", where);
  t.logp_ref = number_list(j, "logp_ref", where);
  t.logq_sum = finite_number(j, "logq_sum", where);
  t.logp_ref_sum = finite_number(j, "logp_ref_sum", where);
  t.reward = finite_number(j, "reward", where);
  t.reason = text(j, "reason", where);
  t.signature = text(j, "signature", where);
  t.strategy = text(j, "strategy", where);
  if (t.prompt_tokens.empty()) throw InputError(fmt::format("{}: field 'prompt_tokens' is empty", where));
  if (t.logq.size() != t.tokens.size() || t.logp_ref.size() != t.tokens.size()) {
    throw InputError(fmt::format("{}: 'tokens', 'logq' and 'logp_ref' have lengths {}, {}, {} (must be equal)", where,
                                 t.tokens.size(), t.logq.size(), t.logp_ref.size()));
  }
  for (std::size_t k = 0; k < t.tokens.size(); ++k) {
    if (!std::isfinite(t.logq[k]) || !std::isfinite(t.logp_ref[k])) {
      throw InputError(fmt::format("{}: token {} has a non-finite log-prob (logq {}, logp_ref {})", where, k,
                                   t.logq[k], t.logp_ref[k]));
    }
    // A probability is at most 1. The writers' log-probs of the likeliest token are x - max -
    // log(sum), <= 0 in exact float arithmetic; kLogProbSlack leaves room for a fast-math log
    // of a sum just above 1 (errors ~5e-7), while a positive log-prob of a hand-edited or
    // foreign file (log w too high by it) is refused.
    if (t.logq[k] > kLogProbSlack || t.logp_ref[k] > kLogProbSlack) {
      throw InputError(
          fmt::format("{}: token {} has a positive log-prob (logq {}, logp_ref {}; at most {} allowed for "
                      "rounding)",
                      where, k, t.logq[k], t.logp_ref[k], kLogProbSlack));
    }
  }
  // The anchor reads the sums, the trainers the tokens: they must agree (a file edited or
  // spliced by hand would otherwise train against one sequence and anchor another).
  // Tolerance 1e-5 relative to sum |v|: a writer summing in float32 passes, a stale sum not.
  const auto check_sum = [&](const std::vector<float>& v, double stored, const char* field, const char* list) {
    double sum = 0, magnitude = 0;
    for (const float x : v) {
      sum += x;
      magnitude += std::fabs(x);
    }
    if (!(std::fabs(sum - stored) <= 1e-5 * (1.0 + magnitude))) {
      throw InputError(fmt::format("{}: '{}' is {} but its '{}' add up to {}", where, field, stored, list, sum));
    }
  };
  check_sum(t.logq, t.logq_sum, "logq_sum", "logq");
  check_sum(t.logp_ref, t.logp_ref_sum, "logp_ref_sum", "logp_ref");
  return t;
}

void write_trajectories(std::ostream& out, const std::vector<Trajectory>& trajectories) {
  for (const Trajectory& t : trajectories) out << to_json(t).dump() << '\n';
}

std::vector<Trajectory> read_trajectories(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("trajectory file '{}': cannot read it", path.string()));
  std::vector<Trajectory> out;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    if (line.empty() || line == "\r") continue;
    const std::string where = fmt::format("trajectory file '{}' line {}", path.string(), number);
    json j;
    try {
      j = parse_json_strict(line, where);
    } catch (const json::exception& e) {
      throw InputError(fmt::format("{}: not JSON ({})", where, e.what()));
    }
    out.push_back(trajectory_from_json(j, where));
  }
  return out;
}

namespace {
constexpr std::uint64_t kFnvOffset = 1469598103934665603ull, kFnvPrime = 1099511628211ull;
std::uint64_t fnv1a(std::uint64_t h, const char* data, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) h = (h ^ static_cast<unsigned char>(data[i])) * kFnvPrime;
  return h;
}
}  // namespace

std::string file_fingerprint(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("'{}': cannot read it to fingerprint it", path.string()));
  std::uint64_t h = kFnvOffset;
  char buffer[1 << 16];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) h = fnv1a(h, buffer, static_cast<std::size_t>(in.gcount()));
  return fmt::format("{:016x}", h);
}

std::string text_fingerprint(std::string_view text) {
  return fmt::format("{:016x}", fnv1a(kFnvOffset, text.data(), text.size()));
}

}  // namespace disa::llm::pipeline
