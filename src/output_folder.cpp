#include "src/output_folder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "src/input_error.h"

namespace disa {

void prepare_output_folder(const std::filesystem::path& dir, std::string_view option) {
  std::error_code ec;
  if (std::filesystem::exists(dir, ec) && !std::filesystem::is_directory(dir, ec)) {
    throw InputError(fmt::format("{}: '{}' is a file, not a folder", option, dir.string()));
  }
  std::filesystem::create_directories(dir, ec);
  if (ec) throw InputError(fmt::format("{}: cannot create the folder '{}' ({})", option, dir.string(), ec.message()));
  // Permissions alone do not tell (root writes anywhere, a read-only mount refuses
  // everyone): try. The probe is named as an atomic write's temporary (NAME.tmp-PID) so
  // that a run killed right here leaves nothing the stale-temporary sweep would keep.
  const std::filesystem::path probe = dir / fmt::format(".write-test.tmp-{}", ::getpid());
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw InputError(fmt::format("{}: cannot write in the folder '{}' ({})", option, dir.string(), std::strerror(errno)));
  }
  ::close(fd);
  std::filesystem::remove(probe, ec);
}

void prepare_output_file(const std::filesystem::path& path, std::string_view option) {
  if (path.empty()) throw InputError(fmt::format("{}: must name a file, got ''", option));
  std::error_code ec;
  const std::filesystem::file_status status = std::filesystem::status(path, ec);
  if (std::filesystem::is_directory(status) || !path.has_filename()) {
    throw InputError(fmt::format("{}: '{}' is a folder, not a file", option, path.string()));
  }
  if (std::filesystem::exists(status) && !std::filesystem::is_regular_file(status)) {
    throw InputError(fmt::format("{}: '{}' is not a regular file (a device, pipe or socket)", option, path.string()));
  }
  prepare_output_folder(path.has_parent_path() ? path.parent_path() : std::filesystem::path("."), option);
}

void refuse_output_over_input(const std::filesystem::path& output, std::string_view output_option,
                              const std::filesystem::path& input, std::string_view input_option) {
  if (output.empty() || input.empty() || input == "-") return;
  std::error_code ec;
  bool same = false;
  if (std::filesystem::exists(output, ec) && std::filesystem::exists(input, ec)) {
    same = std::filesystem::equivalent(output, input, ec) && !ec;
  } else {
    // One of them is missing (the input's own read names that): compare the paths.
    std::error_code ec_in;
    const std::filesystem::path a = std::filesystem::weakly_canonical(output, ec);
    const std::filesystem::path b = std::filesystem::weakly_canonical(input, ec_in);
    same = !ec && !ec_in && a == b;
  }
  if (same) {
    throw InputError(
        fmt::format("{}: '{}' is the same file as {} '{}'; writing it would replace the input (choose "
                    "another {})",
                    output_option, output.string(), input_option, input.string(), output_option));
  }
}

bool lock_output_folder(const std::filesystem::path& dir, std::string_view who) {
  static std::mutex mutex;
  static std::map<std::string, int> held;  // folder -> the lock's descriptor, never closed
  const std::string key = std::filesystem::weakly_canonical(dir).string();
  const std::lock_guard<std::mutex> guard(mutex);
  if (held.contains(key)) return true;
  const std::filesystem::path path = dir / ".lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw InputError(fmt::format("{}: cannot create '{}' ({})", who, path.string(), std::strerror(errno)));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    ::close(fd);
    if (error != EWOULDBLOCK) return false;
    throw InputError(fmt::format("{}: '{}' is in use by another running process (it holds {}); wait for it or use "
                                 "another --out",
                                 who, dir.string(), path.filename().string()));
  }
  held.emplace(key, fd);
  return true;
}

void remove_stale_temporaries(const std::filesystem::path& dir, int max_depth,
                              const std::function<bool(std::string_view name)>& owned) {
  const std::string mine = fmt::format(".tmp-{}", ::getpid());
  std::vector<std::filesystem::path> stale;
  for (auto it = std::filesystem::recursive_directory_iterator(dir); it != std::filesystem::recursive_directory_iterator();
       ++it) {
    if (it->is_directory()) {
      if (it.depth() >= max_depth || std::filesystem::exists(it->path() / ".lock")) it.disable_recursion_pending();
      continue;
    }
    const std::string name = it->path().filename().string();
    const std::size_t at = name.rfind(".tmp-");
    if (at == std::string::npos || at + 5 == name.size() || name.ends_with(mine)) continue;
    if (name.find_first_not_of("0123456789", at + 5) != std::string::npos) continue;
    if (owned && !owned(std::string_view(name).substr(0, at))) continue;
    stale.push_back(it->path());
  }
  for (const auto& p : stale) {
    std::error_code ignored;
    std::filesystem::remove(p, ignored);
  }
}

}  // namespace disa
