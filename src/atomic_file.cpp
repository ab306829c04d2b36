#include "src/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <stdexcept>
#include <system_error>
#include <vector>

#include <fmt/format.h>

namespace disa {
namespace {

void sync_path(const std::filesystem::path& path, bool directory) {
  const int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) throw std::runtime_error(fmt::format("cannot open {} to sync it", path.string()));
  const int rc = ::fsync(fd);
  const int error = errno;  // before close() can overwrite it
  ::close(fd);
  // A directory fsync may be unsupported (EINVAL) on some file systems; the data is synced.
  if (rc != 0 && !(directory && error == EINVAL)) {
    throw std::runtime_error(fmt::format("syncing {} failed (disk full or I/O error?)", path.string()));
  }
}

}  // namespace

void write_file_atomically(const std::filesystem::path& path,
                           const std::function<void(std::ostream&)>& write, bool binary) {
  std::filesystem::path tmp = path;
  tmp += fmt::format(".tmp-{}", ::getpid());
  try {
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
    {
      std::vector<char> buffer(1 << 20);  // outlives `out`, which flushes into it on close
      std::ofstream out;
      out.rdbuf()->pubsetbuf(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      out.open(tmp, binary ? std::ios::binary | std::ios::trunc : std::ios::trunc);
      if (!out) throw std::runtime_error(fmt::format("cannot open {} for writing", tmp.string()));
      write(out);
      out.flush();
      if (!out) throw std::runtime_error(fmt::format("writing {} failed (disk full?)", tmp.string()));
    }
    // Durable before it is visible: without the fsync a power loss after the rename can
    // leave a zero-length file under the final name (ext4 may commit the rename first),
    // which a resume would take for finished work.
    sync_path(tmp, false);
    std::filesystem::rename(tmp, path);
    sync_path(path.has_parent_path() ? path.parent_path() : std::filesystem::path("."), true);
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw;
  }
}

}  // namespace disa
