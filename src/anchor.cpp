#include "src/anchor.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <optional>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "src/atomic_file.h"
#include "src/input_error.h"
#include "src/json_number.h"
#include "src/json_strict.h"

namespace disa {
namespace {

using nlohmann::ordered_json;

double read_number(const ordered_json& v, const std::string& where) {
  if (const std::optional<double> x = from_json_number(v)) return *x;
  throw InputError(
      fmt::format("{}: expected a number (or \"inf\", \"-inf\", \"nan\"), got {}", where, json_excerpt(v)));
}

// The keys save_anchors writes, in its order. A key outside them is refused: a misspelt
// "log_zhat" would otherwise be ignored and reported as "log_Zhat" missing at best, and a
// file from another tool read as if it were an anchor file.
constexpr const char* kKeys[] = {"prompt", "log_Zhat", "n", "ess", "chi2_hat", "k_hat", "ci_low", "ci_high",
                                 "ci_method", "log_Zhat_psis", "max_weight", "proposal", "beta", "seed", "flags"};

void refuse_unknown_keys(const ordered_json& obj, const std::string& where) {
  for (const auto& [key, value] : obj.items()) {
    if (std::find(std::begin(kKeys), std::end(kKeys), key) == std::end(kKeys)) {
      throw InputError(fmt::format("{}: unknown key \"{}\" (an anchor record has: {})", where, text_excerpt(key),
                                   fmt::join(kKeys, ", ")));
    }
  }
}

const ordered_json& field(const ordered_json& obj, const char* key, const std::string& where) {
  const auto it = obj.find(key);
  if (it == obj.end()) throw InputError(fmt::format("{}: missing \"{}\"", where, key));
  return *it;
}

}  // namespace

AnchorRecord make_anchor(const std::string& prompt, const IsEstimate& e, const std::string& proposal, double beta,
                         std::uint64_t seed) {
  AnchorRecord a;
  a.prompt = prompt;
  a.log_z_hat = e.log_z_hat;
  a.n = e.n;
  a.ess = e.ess;
  a.chi2_hat = e.chi2_hat;
  a.k_hat = e.k_hat;
  a.ci_low = e.ci_low;
  a.ci_high = e.ci_high;
  a.ci_method = e.ci_method;
  a.log_z_psis = e.log_z_psis;
  a.max_weight = e.max_weight;
  a.proposal = proposal;
  a.beta = beta;
  a.seed = seed;
  a.flags = e.flags;
  return a;
}

void save_anchors(const std::vector<AnchorRecord>& anchors, const std::string& path) {
  write_file_atomically(path, [&](std::ostream& out) {
    for (const AnchorRecord& a : anchors) {
      ordered_json j;
      j["prompt"] = a.prompt;
      j["log_Zhat"] = to_json_number(a.log_z_hat);
      j["n"] = a.n;
      j["ess"] = to_json_number(a.ess);
      j["chi2_hat"] = to_json_number(a.chi2_hat);
      j["k_hat"] = to_json_number(a.k_hat);
      j["ci_low"] = to_json_number(a.ci_low);
      j["ci_high"] = to_json_number(a.ci_high);
      j["ci_method"] = a.ci_method;
      j["log_Zhat_psis"] = to_json_number(a.log_z_psis);
      j["max_weight"] = to_json_number(a.max_weight);
      j["proposal"] = a.proposal;
      j["beta"] = to_json_number(a.beta);
      j["seed"] = a.seed;
      j["flags"] = a.flags;
      // dump() writes doubles in shortest round-trip form, so the file is lossless.
      out << j.dump() << '\n';
    }
  });
}

std::vector<AnchorRecord> parse_anchors(const std::string& text, const std::string& source) {
  std::vector<AnchorRecord> out;
  std::map<std::string, int> line_of_prompt;  // one anchor per prompt: a second would be ambiguous
  std::istringstream in(text);
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = fmt::format("{}:{}", source, line_no);
    ordered_json j;
    try {
      j = parse_ordered_json_strict(line, where);
    } catch (const nlohmann::json::exception& e) {
      throw InputError(fmt::format("{}: not valid JSON ({})", where, e.what()));
    }
    if (!j.is_object()) throw InputError(fmt::format("{}: expected an object", where));
    refuse_unknown_keys(j, where);
    AnchorRecord a;
    const auto text_field = [&](const char* key) {
      const ordered_json& v = field(j, key, where);
      if (!v.is_string()) {
        throw InputError(fmt::format("{}: {}: expected a string, got {}", where, key, json_excerpt(v)));
      }
      return v.get<std::string>();
    };
    const auto num_field = [&](const char* key) { return read_number(field(j, key, where), where + ": " + key); };
    a.prompt = text_field("prompt");
    if (const auto [it, fresh] = line_of_prompt.try_emplace(a.prompt, line_no); !fresh) {
      throw InputError(fmt::format("{}: prompt '{}' already has an anchor (line {})", where, a.prompt, it->second));
    }
    a.log_z_hat = num_field("log_Zhat");
    const ordered_json& n = field(j, "n", where);
    if (!n.is_number_integer() || n.get<std::int64_t>() < 1) {
      throw InputError(fmt::format("{}: n: expected a positive integer, got {}", where, json_excerpt(n)));
    }
    a.n = n.get<std::int64_t>();
    a.ess = num_field("ess");
    a.chi2_hat = num_field("chi2_hat");
    a.k_hat = num_field("k_hat");
    a.ci_low = num_field("ci_low");
    a.ci_high = num_field("ci_high");
    a.ci_method = text_field("ci_method");
    a.log_z_psis = num_field("log_Zhat_psis");
    a.max_weight = num_field("max_weight");
    a.proposal = text_field("proposal");
    a.beta = num_field("beta");
    const ordered_json& seed = field(j, "seed", where);
    if (!seed.is_number_unsigned() && !(seed.is_number_integer() && seed.get<std::int64_t>() >= 0)) {
      throw InputError(fmt::format("{}: seed: expected a non-negative integer, got {}", where, json_excerpt(seed)));
    }
    a.seed = seed.get<std::uint64_t>();
    const ordered_json& flags = field(j, "flags", where);
    if (!flags.is_array()) throw InputError(fmt::format("{}: flags: expected an array of strings", where));
    for (const auto& f : flags) {
      if (!f.is_string()) throw InputError(fmt::format("{}: flags: expected strings, got {}", where, json_excerpt(f)));
      a.flags.push_back(f.get<std::string>());
    }
    if (std::isnan(a.log_z_hat) || a.log_z_hat == std::numeric_limits<double>::infinity()) {
      throw InputError(fmt::format("{}: log_Zhat: must be finite or -inf, got {}", where, a.log_z_hat));
    }
    // What the writer (`disa anchor`, the pipeline's anchor stage) can have written: beta
    // is checked > 0 and finite there (THEORY.md), and a CI is never reversed (NaN ends,
    // from an estimate without one, are left as they are).
    if (!(a.beta > 0.0) || !std::isfinite(a.beta)) {
      throw InputError(fmt::format("{}: beta: must be a finite number > 0, got {}", where, a.beta));
    }
    if (a.ci_low > a.ci_high) {
      throw InputError(fmt::format("{}: ci_low {} is above ci_high {}", where, a.ci_low, a.ci_high));
    }
    out.push_back(std::move(a));
  }
  return out;
}

std::vector<AnchorRecord> load_anchors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot open for reading", path));
  return parse_anchors({std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()}, path);
}

}  // namespace disa
