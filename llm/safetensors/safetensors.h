// Reading and writing safetensors files (https://github.com/huggingface/safetensors):
// 8 bytes little-endian u64 N, N bytes of UTF-8 JSON describing each tensor's dtype,
// shape and byte range, then the byte buffer. Files come from the internet, so the
// reader treats them as hostile: every claim in the header is checked against the
// file before anything is sized from it, and a bad file is an InputError naming the
// file, the tensor and the field, never a crash or a huge allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llm/safetensors/dtype.h"

namespace disa::llm {

// The reference implementation's cap on the header length; a larger claim is
// rejected before any of it is read.
inline constexpr std::uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

struct TensorView {
  std::string name;
  Dtype dtype;
  std::vector<std::int64_t> shape;    // [] for a scalar
  std::span<const std::byte> bytes;   // little-endian, row-major; size = prod(shape) * dtype_size
};

// A validated safetensors file. open() memory-maps the file read-only; the views
// point into the mapping and stay valid while this object (or what it was moved
// into) lives. Truncating the file on disk while it is mapped is not detected
// (reads past the new end raise SIGBUS, as with any mmap reader).
class SafetensorsFile {
 public:
  // Throws InputError naming the path and, where one is at fault, the tensor and field.
  static SafetensorsFile open(const std::filesystem::path& path);
  // The same validation over a whole file's bytes that the caller owns and keeps
  // alive as long as the result (the fuzz target and tests use this).
  static SafetensorsFile parse(std::span<const std::byte> whole_file);

  SafetensorsFile(SafetensorsFile&& other) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&& other) noexcept;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  ~SafetensorsFile();

  // In file order (ascending data offset; equal offsets, i.e. empty tensors, by name).
  const std::vector<TensorView>& tensors() const { return tensors_; }
  const TensorView* find(std::string_view name) const;  // nullptr if absent
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  std::uint64_t header_size() const { return header_size_; }  // N, padding included

 private:
  SafetensorsFile() = default;
  static SafetensorsFile parse_labelled(std::span<const std::byte> whole_file,
                                        const std::string& source);
  void unmap() noexcept;

  void* mapping_ = nullptr;  // owned mmap region, or nullptr for parse()
  std::size_t mapping_size_ = 0;
  std::uint64_t header_size_ = 0;
  std::vector<TensorView> tensors_;
  std::map<std::string, std::size_t, std::less<>> index_;  // name -> position in tensors_
  std::map<std::string, std::string> metadata_;
};

struct TensorToWrite {
  std::string name;
  Dtype dtype;
  std::vector<std::int64_t> shape;
  std::span<const std::byte> bytes;  // must hold exactly prod(shape) * dtype_size bytes
};

// Writes PATH atomically (temporary file + rename). Tensors are laid out as the
// reference writer does (larger element sizes first, then by name) and the header
// is padded with spaces to a multiple of 8, so every tensor's data is aligned to its
// element size. Throws InputError on an empty, duplicate, non-UTF-8 or reserved
// ("__metadata__") name, a negative dimension, or a byte count that does not match.
void write_safetensors(const std::filesystem::path& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// The bytes write_safetensors would write (for tests and in-memory use).
std::vector<std::byte> serialize_safetensors(const std::vector<TensorToWrite>& tensors,
                                             const std::map<std::string, std::string>& metadata = {});

}  // namespace disa::llm
