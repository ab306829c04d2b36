// The safetensors writer. The inputs are checked as strictly as a file would be on
// reading, so whatever this writes, SafetensorsFile::open accepts. Data is streamed
// from the callers' spans to the temporary file; no copy of the tensors is made.
#include <algorithm>
#include <cstring>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join
#include <nlohmann/json.hpp>

#include "llm/safetensors/byte_count.h"
#include "llm/safetensors/message_quote.h"
#include "llm/safetensors/safetensors.h"
#include "llm/safetensors/utf8.h"
#include "src/atomic_file.h"
#include "src/input_error.h"

namespace disa::llm {
namespace {

struct PreparedFile {
  std::string header;                      // JSON padded with spaces to a multiple of 8
  std::vector<const TensorToWrite*> order; // data layout order
  std::uint64_t data_bytes = 0;
};

void check_utf8(std::string_view text, std::string_view what) {
  if (auto bad = first_invalid_utf8(text)) {
    throw InputError(fmt::format("write_safetensors: {} {} is not valid UTF-8 (byte {})", what,
                                 quote_for_message(text), *bad));
  }
}

std::uint64_t expected_bytes(const TensorToWrite& t) {
  for (std::size_t i = 0; i < t.shape.size(); ++i) {
    if (t.shape[i] < 0) {
      throw InputError(fmt::format("write_safetensors: tensor {}: shape[{}] = {} is negative",
                                   quote_for_message(t.name), i, t.shape[i]));
    }
  }
  const std::optional<std::uint64_t> count = checked_byte_count(t.shape, dtype_size(t.dtype));
  if (!count) {
    throw InputError(fmt::format("write_safetensors: tensor {}: shape overflows 64 bits",
                                 quote_for_message(t.name)));
  }
  return *count;
}

PreparedFile prepare(const std::vector<TensorToWrite>& tensors,
                     const std::map<std::string, std::string>& metadata) {
  PreparedFile out;
  std::set<std::string_view> names;
  for (const TensorToWrite& t : tensors) {
    if (t.name.empty()) throw InputError("write_safetensors: a tensor has an empty name");
    if (t.name == "__metadata__") {
      throw InputError("write_safetensors: '__metadata__' is reserved and cannot name a tensor");
    }
    check_utf8(t.name, "tensor name");
    if (!names.insert(t.name).second) {
      throw InputError(fmt::format("write_safetensors: tensor name {} appears twice",
                                   quote_for_message(t.name)));
    }
    const std::uint64_t need = expected_bytes(t);
    if (need != t.bytes.size()) {
      throw InputError(fmt::format(
          "write_safetensors: tensor {}: shape [{}] of {} needs {} bytes but {} were given",
          quote_for_message(t.name), fmt::join(t.shape, ", "), dtype_name(t.dtype), need,
          t.bytes.size()));
    }
    out.order.push_back(&t);
  }
  for (const auto& [key, value] : metadata) {
    check_utf8(key, "metadata key");
    check_utf8(value, "metadata value");
  }
  // Larger elements first: with the header padded to 8 bytes, every tensor starts at
  // a multiple of its own element size (the reference writer's layout).
  std::stable_sort(out.order.begin(), out.order.end(),
                   [](const TensorToWrite* a, const TensorToWrite* b) {
                     const std::size_t sa = dtype_size(a->dtype), sb = dtype_size(b->dtype);
                     if (sa != sb) return sa > sb;
                     return a->name < b->name;
                   });

  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  for (const TensorToWrite* t : out.order) {
    const std::uint64_t begin = out.data_bytes;
    out.data_bytes += t->bytes.size();
    header[t->name] = {{"dtype", dtype_name(t->dtype)},
                       {"shape", t->shape},
                       {"data_offsets", {begin, out.data_bytes}}};
  }
  out.header = header.dump();
  out.header.append((8 - out.header.size() % 8) % 8, ' ');
  // Whatever this writes, the reader accepts: its cap applies here too.
  if (out.header.size() > kMaxSafetensorsHeaderBytes) {
    throw InputError(fmt::format("safetensors: the header would be {} bytes, above the cap of {} (metadata too large?)",
                                 out.header.size(), kMaxSafetensorsHeaderBytes));
  }
  return out;
}

void write_prepared(const PreparedFile& file, auto&& sink) {
  unsigned char length[8];
  std::uint64_t n = file.header.size();
  for (unsigned char& b : length) {
    b = static_cast<unsigned char>(n & 0xFF);
    n >>= 8;
  }
  sink(reinterpret_cast<const char*>(length), 8);
  sink(file.header.data(), file.header.size());
  for (const TensorToWrite* t : file.order) {
    sink(reinterpret_cast<const char*>(t->bytes.data()), t->bytes.size());
  }
}

}  // namespace

void write_safetensors(const std::filesystem::path& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  const PreparedFile file = prepare(tensors, metadata);
  write_file_atomically(
      path,
      [&](std::ostream& out) {
        write_prepared(file, [&](const char* data, std::size_t size) {
          out.write(data, static_cast<std::streamsize>(size));
        });
      },
      /*binary=*/true);
}

std::vector<std::byte> serialize_safetensors(const std::vector<TensorToWrite>& tensors,
                                             const std::map<std::string, std::string>& metadata) {
  const PreparedFile file = prepare(tensors, metadata);
  std::vector<std::byte> out;
  out.reserve(8 + file.header.size() + file.data_bytes);
  write_prepared(file, [&](const char* data, std::size_t size) {
    const auto* p = reinterpret_cast<const std::byte*>(data);
    out.insert(out.end(), p, p + size);
  });
  return out;
}

}  // namespace disa::llm
