// SafetensorsFile::parse: the file-level checks of the format (length prefix, header
// bounds, UTF-8) and the layout checks that tie the header to the byte buffer: each
// tensor's byte count equals prod(shape) x dtype size (checked arithmetic), ranges lie
// inside the buffer, and the ranges tile it exactly, without overlaps or holes, so no
// byte of the file is unaccounted for (the spec's guard against polyglot files).
#include <algorithm>
#include <cstring>
#include <numeric>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join

#include "llm/safetensors/byte_count.h"
#include "llm/safetensors/header_parser.h"
#include "llm/safetensors/message_quote.h"
#include "llm/safetensors/safetensors.h"
#include "llm/safetensors/utf8.h"
#include "src/input_error.h"

namespace disa::llm {
namespace {

std::uint64_t read_u64_le(const std::byte* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | std::to_integer<std::uint64_t>(p[i]);
  return v;
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

}  // namespace

SafetensorsFile SafetensorsFile::parse(std::span<const std::byte> whole_file) {
  return parse_labelled(whole_file, "safetensors buffer");
}

SafetensorsFile SafetensorsFile::parse_labelled(std::span<const std::byte> file,
                                                const std::string& source) {
  if (file.size() < 8) {
    throw InputError(fmt::format("{}: file is {} bytes, shorter than the 8-byte header length field",
                                 source, file.size()));
  }
  const std::uint64_t n = read_u64_le(file.data());
  const std::uint64_t after_length = file.size() - 8;
  if (n == 0) throw InputError(fmt::format("{}: header length is 0 (no JSON header)", source));
  if (n > kMaxSafetensorsHeaderBytes) {
    throw InputError(fmt::format("{}: header length {} exceeds the cap of {} bytes", source, n,
                                 kMaxSafetensorsHeaderBytes));
  }
  if (n > after_length) {
    throw InputError(fmt::format("{}: header length {} exceeds the {} bytes after the length field",
                                 source, n, after_length));
  }
  const std::string_view header(reinterpret_cast<const char*>(file.data() + 8), n);
  if (auto bad = first_invalid_utf8(header)) {
    throw InputError(fmt::format("{}: header is not valid UTF-8 (header byte {})", source, *bad));
  }
  // nlohmann's lexer stops at a raw NUL: the bytes after it would go unread, against the
  // rule that only whitespace may pad the header. Valid JSON holds no unescaped NUL.
  if (const auto nul = header.find('\0'); nul != std::string_view::npos) {
    throw InputError(fmt::format("{}: header holds a NUL byte at header byte {}", source, nul));
  }
  if (header.front() != '{') {
    throw InputError(fmt::format("{}: header does not start with '{{' (first byte 0x{:02X})", source,
                                 static_cast<unsigned char>(header.front())));
  }
  ParsedHeader parsed = parse_header_json(header, source);

  const std::span<const std::byte> buffer = file.subspan(8 + n);
  const std::uint64_t buffer_size = buffer.size();
  for (const HeaderEntry& e : parsed.tensors) {
    const std::string tensor = quote_for_message(e.name);
    if (e.begin > e.end) {
      throw InputError(fmt::format("{}: tensor {}: data_offsets [{}, {}] has begin > end", source,
                                   tensor, e.begin, e.end));
    }
    if (e.end > buffer_size) {
      throw InputError(fmt::format(
          "{}: tensor {}: data_offsets [{}, {}] extend past the data buffer ({} bytes)", source,
          tensor, e.begin, e.end, buffer_size));
    }
    const std::optional<std::uint64_t> expected = checked_byte_count(e.shape, dtype_size(e.dtype));
    if (!expected) {
      throw InputError(fmt::format("{}: tensor {}: shape {} x {} bytes ({}) overflows 64 bits",
                                   source, tensor, shape_text(e.shape), dtype_size(e.dtype),
                                   dtype_name(e.dtype)));
    }
    if (*expected != e.end - e.begin) {
      throw InputError(fmt::format(
          "{}: tensor {}: shape {} of {} needs {} bytes but data_offsets [{}, {}] hold {}", source,
          tensor, shape_text(e.shape), dtype_name(e.dtype), *expected, e.begin, e.end,
          e.end - e.begin));
    }
  }

  // The ranges, sorted, must follow each other exactly from 0 to the buffer's end.
  std::vector<std::size_t> order(parsed.tensors.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const HeaderEntry& x = parsed.tensors[a];
    const HeaderEntry& y = parsed.tensors[b];
    if (x.begin != y.begin) return x.begin < y.begin;
    if (x.end != y.end) return x.end < y.end;
    return x.name < y.name;
  });
  std::uint64_t covered = 0;
  const HeaderEntry* previous = nullptr;
  for (std::size_t i : order) {
    const HeaderEntry& e = parsed.tensors[i];
    if (e.begin < covered) {
      throw InputError(fmt::format(
          "{}: tensor {}: data_offsets [{}, {}] overlap tensor {} at [{}, {}]", source,
          quote_for_message(e.name), e.begin, e.end, quote_for_message(previous->name),
          previous->begin, previous->end));
    }
    if (e.begin > covered) {
      throw InputError(fmt::format(
          "{}: bytes [{}, {}) of the data buffer belong to no tensor (hole before tensor {})", source,
          covered, e.begin, quote_for_message(e.name)));
    }
    covered = e.end;
    previous = &e;
  }
  if (covered != buffer_size) {
    throw InputError(fmt::format(
        "{}: bytes [{}, {}) of the data buffer belong to no tensor (trailing bytes after the last "
        "tensor)", source, covered, buffer_size));
  }

  SafetensorsFile result;
  result.header_size_ = n;
  result.metadata_ = std::move(parsed.metadata);
  result.tensors_.reserve(order.size());
  for (std::size_t i : order) {
    HeaderEntry& e = parsed.tensors[i];
    result.tensors_.push_back(TensorView{std::move(e.name), e.dtype, std::move(e.shape),
                                         buffer.subspan(e.begin, e.end - e.begin)});
  }
  for (std::size_t i = 0; i < result.tensors_.size(); ++i) {
    result.index_.emplace(result.tensors_[i].name, i);
  }
  return result;
}

}  // namespace disa::llm
