#include "llm/pipeline/stage_files.h"

#include <fstream>
#include <vector>

#include <fmt/format.h>

#include "src/atomic_file.h"
#include "src/input_error.h"
#include "src/json_strict.h"
#include "src/output_folder.h"

namespace disa::llm::pipeline {

nlohmann::json read_json_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw InputError(fmt::format("'{}': cannot read it", path.string()));
  try {
    return parse_json_strict(in, fmt::format("'{}'", path.string()));
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("'{}': not JSON ({})", path.string(), e.what()));
  }
}

void write_json_atomically(const std::filesystem::path& path, const nlohmann::ordered_json& value) {
  write_file_atomically(path, [&](std::ostream& out) { out << value.dump(2) << '\n'; });
}

namespace {

// True when `out` holds no file besides options.json and the lock (empty subfolders aside).
bool holds_only_options(const std::filesystem::path& out) {
  for (const auto& entry : std::filesystem::recursive_directory_iterator(out)) {
    if (!entry.is_directory() && entry.path() != out / "options.json" && entry.path() != out / ".lock") return false;
  }
  return true;
}

}  // namespace

namespace {

std::optional<std::string> first_difference_under(const std::string& prefix, const nlohmann::json& old,
                                                  const nlohmann::json& now) {
  for (const auto& [key, value] : now.items()) {
    if (old.contains(key) && old[key] == value) continue;
    // Into nested objects, so that the message names the entry that changed
    // ("model_fingerprints.disa"), not a whole map cut to its first 80 bytes.
    if (old.contains(key) && old[key].is_object() && value.is_object()) {
      return first_difference_under(prefix + key + ".", old[key], value);
    }
    // Values as JSON cut to one short line (a models map or a fingerprint list can be long).
    return fmt::format("{}{} (was {}, now {})", prefix, key, old.contains(key) ? json_excerpt(old[key]) : "absent",
                       json_excerpt(value));
  }
  for (const auto& [key, value] : old.items()) {
    if (!now.contains(key)) return fmt::format("{}{} (was {}, now absent)", prefix, key, json_excerpt(value));
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> first_difference(const nlohmann::json& old, const nlohmann::json& now) {
  if (!old.is_object() || !now.is_object()) return old == now ? std::nullopt : std::optional<std::string>("options");
  return first_difference_under("", old, now);
}

std::filesystem::path canonical_stage_path(const std::filesystem::path& path) {
  if (path.empty()) return path;
  return std::filesystem::weakly_canonical(std::filesystem::absolute(path));
}

void claim_stage_folder(const std::filesystem::path& out, const std::string& stage,
                        const nlohmann::ordered_json& options) {
  // A file as --out (or under one), or a folder that cannot be written, named as the
  // other commands name it rather than as a raw filesystem error.
  prepare_output_folder(out, "--out");
  const auto path = out / "options.json";
  // One live process per folder: without the lock a second run could take over a folder
  // whose first run has not written its first output yet, and both would write parts
  // under one options.json. The sweep of a killed run's temporaries (which would keep a
  // folder holding only options.json from being taken over) runs only in a folder that
  // already is a stage's (its options.json): a new --out is swept by nothing. Stages write
  // in OUT, OUT/parts and OUT/samples/MODEL: two levels down.
  if (lock_output_folder(out, stage) && std::filesystem::exists(path)) remove_stale_temporaries(out, 2);
  const nlohmann::ordered_json record{{"stage", stage}, {"options", options}};
  if (std::filesystem::exists(path)) {
    const nlohmann::json old = read_json_file(path);
    const nlohmann::json now = nlohmann::json::parse(record.dump());
    if (old == now) return;  // the same run: resume
    if (holds_only_options(out)) {
      // A run refused or failed before its first output (a truncated input, a prompt count
      // the task cannot give): nothing to lose or to mix, so the corrected rerun goes on.
      write_json_atomically(path, record);
      return;
    }
    std::string differs = "stage";
    if (old.value("stage", "") == stage && old.contains("options")) {
      differs = first_difference(old["options"], now["options"]).value_or("options");
    }
    throw InputError(fmt::format("{}: '{}' holds a run with other options ({}); use another --out or remove it",
                                 stage, out.string(), differs));
  }
  write_json_atomically(path, record);
}

}  // namespace disa::llm::pipeline
