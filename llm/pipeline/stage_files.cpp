#include "llm/pipeline/stage_files.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <vector>

#include <fmt/format.h>

#include "src/atomic_file.h"
#include "src/input_error.h"
#include "src/json_strict.h"

namespace disa::llm::pipeline {

nlohmann::json read_json_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw InputError(fmt::format("'{}': cannot read it", path.string()));
  try {
    return parse_json_strict(in, "'" + path.string() + "'");
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

// One live run per folder: an advisory lock on OUT/.lock, held until this process exits
// (the kernel drops it when a process dies, so a killed run never blocks its resume).
// Without it a second run could take over a folder whose first run has not written its
// first output yet, and both would write parts under one options.json.
// Returns whether this process holds the lock.
bool lock_stage_folder(const std::filesystem::path& out, const std::string& stage) {
  static std::mutex mutex;
  static std::map<std::string, int> held;  // folder -> the lock's descriptor, never closed
  const std::string key = std::filesystem::weakly_canonical(out).string();
  const std::lock_guard<std::mutex> guard(mutex);
  if (held.contains(key)) return true;
  const std::filesystem::path path = out / ".lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw InputError(fmt::format("{}: cannot create '{}' ({})", stage, path.string(), std::strerror(errno)));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    ::close(fd);
    // A file system without flock (ENOLCK, EOPNOTSUPP on some network mounts) cannot hold
    // the lock: the folder is used without it, as before the lock existed.
    if (error != EWOULDBLOCK) return false;
    throw InputError(fmt::format("{}: '{}' is in use by another running process (it holds {}); wait for it or use "
                                 "another --out",
                                 stage, out.string(), path.filename().string()));
  }
  held.emplace(key, fd);
  return true;
}

// A run killed mid-write leaves NAME.tmp-PID beside NAME (src/atomic_file.h). Under the
// folder's lock no other process writes here, so such a file of another PID is litter
// (and would keep a folder that holds only options.json from being taken over). Removed
// only where the stages write (OUT, OUT/parts, OUT/samples/MODEL: two levels down), and
// not inside a subfolder that is a stage folder of its own (it has its own .lock): an
// --out given by mistake as a parent folder must not sweep other programs' files.
void remove_stale_temporaries(const std::filesystem::path& out) {
  const std::string mine = fmt::format(".tmp-{}", ::getpid());
  std::vector<std::filesystem::path> stale;
  for (auto it = std::filesystem::recursive_directory_iterator(out); it != std::filesystem::recursive_directory_iterator();
       ++it) {
    if (it->is_directory()) {
      if (it.depth() >= 2 || std::filesystem::exists(it->path() / ".lock")) it.disable_recursion_pending();
      continue;
    }
    const std::string name = it->path().filename().string();
    const std::size_t at = name.rfind(".tmp-");
    if (at == std::string::npos || at + 5 == name.size() || name.ends_with(mine)) continue;
    if (name.find_first_not_of("0123456789", at + 5) != std::string::npos) continue;
    stale.push_back(it->path());
  }
  for (const auto& p : stale) {
    std::error_code ignored;
    std::filesystem::remove(p, ignored);
  }
}

}  // namespace

std::optional<std::string> first_difference(const nlohmann::json& old, const nlohmann::json& now) {
  if (!old.is_object() || !now.is_object()) return old == now ? std::nullopt : std::optional<std::string>("options");
  for (const auto& [key, value] : now.items()) {
    if (!old.contains(key) || old[key] != value) {
      return fmt::format("{} (was {}, now {})", key, old.contains(key) ? old[key].dump() : "absent", value.dump());
    }
  }
  for (const auto& [key, value] : old.items()) {
    if (!now.contains(key)) return fmt::format("{} (was {}, now absent)", key, value.dump());
  }
  return std::nullopt;
}

void claim_stage_folder(const std::filesystem::path& out, const std::string& stage,
                        const nlohmann::ordered_json& options) {
  std::filesystem::create_directories(out);
  const auto path = out / "options.json";
  // Only in a folder that already is a stage's (its options.json): a new --out is swept by nothing.
  if (lock_stage_folder(out, stage) && std::filesystem::exists(path)) remove_stale_temporaries(out);
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
