#include "src/atomic_file.h"

#include <unistd.h>

#include <fstream>
#include <stdexcept>
#include <system_error>
#include <vector>

#include <fmt/format.h>

namespace disa {

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
    std::filesystem::rename(tmp, path);
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw;
  }
}

}  // namespace disa
