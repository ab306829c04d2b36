// SafetensorsFile's lifetime: the read-only memory mapping behind open(), moves, and
// lookup. The validation itself is in safetensors_parse.cpp.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "llm/safetensors/safetensors.h"
#include "src/input_error.h"

namespace disa::llm {
namespace {

// Closes the descriptor on every path out of open(); the mapping outlives it.
struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  const std::string source = fmt::format("safetensors file '{}'", path.string());
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw InputError(fmt::format("cannot open {}: {}", source, std::strerror(errno)));
  }
  FdCloser closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    throw InputError(fmt::format("cannot stat {}: {}", source, std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) throw InputError(fmt::format("{}: not a regular file", source));
  const auto size = static_cast<std::size_t>(st.st_size);
  if (size == 0) return parse_labelled({}, source);  // mmap cannot map 0 bytes

  void* addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (addr == MAP_FAILED) {
    throw InputError(fmt::format("cannot memory-map {} ({} bytes): {}", source, size,
                                 std::strerror(errno)));
  }
  try {
    SafetensorsFile file =
        parse_labelled({static_cast<const std::byte*>(addr), size}, source);
    file.mapping_ = addr;
    file.mapping_size_ = size;
    return file;
  } catch (...) {
    ::munmap(addr, size);
    throw;
  }
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&& other) noexcept
    : mapping_(std::exchange(other.mapping_, nullptr)),
      mapping_size_(std::exchange(other.mapping_size_, 0)),
      header_size_(other.header_size_),
      tensors_(std::move(other.tensors_)),
      index_(std::move(other.index_)),
      metadata_(std::move(other.metadata_)) {}

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& other) noexcept {
  if (this != &other) {
    unmap();
    mapping_ = std::exchange(other.mapping_, nullptr);
    mapping_size_ = std::exchange(other.mapping_size_, 0);
    header_size_ = other.header_size_;
    tensors_ = std::move(other.tensors_);
    index_ = std::move(other.index_);
    metadata_ = std::move(other.metadata_);
  }
  return *this;
}

SafetensorsFile::~SafetensorsFile() { unmap(); }

void SafetensorsFile::unmap() noexcept {
  if (mapping_ != nullptr) ::munmap(mapping_, mapping_size_);
  mapping_ = nullptr;
  mapping_size_ = 0;
}

const TensorView* SafetensorsFile::find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace disa::llm
