// The folder conventions every stage shares, so that reruns resume and never mix runs:
// OUT/options.json holds the options that determine the stage's output; a rerun with
// other options into the same OUT is refused (naming OUT and the first key that
// differs), the same options resume. A folder holding nothing but options.json (a run
// refused or failed before its first output) is taken over by the new options, so the
// corrected rerun is not blocked. A folder is used by one live process at a time (an
// advisory lock on OUT/.lock, released when the process ends): another is refused.
// Every file is written atomically; the NAME.tmp-PID files a killed run left are removed
// when the folder is claimed under its lock.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace disa::llm::pipeline {

void claim_stage_folder(const std::filesystem::path& out, const std::string& stage,
                        const nlohmann::ordered_json& options);
// A folder or file named in a stage's options, in one spelling: absolute, with "." and ".."
// (and symlinks, where the path exists) resolved; empty stays empty. Options record paths
// and a resume compares them, so "P", "./P" and "/abs/P" must be one run (a pipeline
// resumed as --out ./P was refused: "trajectories (was "P/...", now "./P/...")").
std::filesystem::path canonical_stage_path(const std::filesystem::path& path);
// The first key of `now` whose value differs in `old`, as "samples (was 4, now 5)" (or a
// key only `old` has), followed into nested objects ("model_fingerprints.disa (was
// "9f..", now "c2..")"), each value cut to one short line; nullopt when both hold the
// same keys and values.
std::optional<std::string> first_difference(const nlohmann::json& old, const nlohmann::json& now);
void write_json_atomically(const std::filesystem::path& path, const nlohmann::ordered_json& value);
nlohmann::json read_json_file(const std::filesystem::path& path);

}  // namespace disa::llm::pipeline
