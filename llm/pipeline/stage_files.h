// The folder conventions every stage shares, so that reruns resume and never mix runs:
// OUT/options.json holds the options that determine the stage's output; a rerun with
// other options into the same OUT is refused (naming OUT and the first key that
// differs), the same options resume. Every file is written atomically.
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace disa::llm::pipeline {

void claim_stage_folder(const std::filesystem::path& out, const std::string& stage,
                        const nlohmann::ordered_json& options);
void write_json_atomically(const std::filesystem::path& path, const nlohmann::ordered_json& value);
nlohmann::json read_json_file(const std::filesystem::path& path);

}  // namespace disa::llm::pipeline
