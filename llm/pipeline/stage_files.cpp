#include "llm/pipeline/stage_files.h"

#include <fstream>

#include <fmt/format.h>

#include "src/atomic_file.h"
#include "src/input_error.h"

namespace disa::llm::pipeline {

nlohmann::json read_json_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw InputError(fmt::format("'{}': cannot read it", path.string()));
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("'{}': not JSON ({})", path.string(), e.what()));
  }
}

void write_json_atomically(const std::filesystem::path& path, const nlohmann::ordered_json& value) {
  write_file_atomically(path, [&](std::ostream& out) { out << value.dump(2) << '\n'; });
}

void claim_stage_folder(const std::filesystem::path& out, const std::string& stage,
                        const nlohmann::ordered_json& options) {
  std::filesystem::create_directories(out);
  const auto path = out / "options.json";
  const nlohmann::ordered_json record{{"stage", stage}, {"options", options}};
  if (std::filesystem::exists(path)) {
    const nlohmann::json old = read_json_file(path);
    const nlohmann::json now = nlohmann::json::parse(record.dump());
    if (old != now) {
      std::string differs = "stage";
      if (old.value("stage", "") == stage && old.contains("options")) {
        for (const auto& [key, value] : now["options"].items()) {
          if (!old["options"].contains(key) || old["options"][key] != value) {
            differs = fmt::format("{} (was {}, now {})", key,
                                  old["options"].contains(key) ? old["options"][key].dump() : "absent", value.dump());
            break;
          }
        }
      }
      throw InputError(fmt::format("{}: '{}' holds a run with other options ({}); use another --out or remove it",
                                   stage, out.string(), differs));
    }
    return;
  }
  write_json_atomically(path, record);
}

}  // namespace disa::llm::pipeline
