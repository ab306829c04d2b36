// The dtype table: one row per Dtype, so name, size and parsing cannot disagree.
#include "llm/safetensors/dtype.h"

#include <stdexcept>

namespace disa::llm {
namespace {

struct DtypeRow {
  Dtype dtype;
  std::string_view name;
  std::size_t size;
};

constexpr DtypeRow kTable[] = {
    {Dtype::F64, "F64", 8},         {Dtype::F32, "F32", 4},         {Dtype::F16, "F16", 2},
    {Dtype::BF16, "BF16", 2},       {Dtype::I64, "I64", 8},         {Dtype::I32, "I32", 4},
    {Dtype::I16, "I16", 2},         {Dtype::I8, "I8", 1},           {Dtype::U64, "U64", 8},
    {Dtype::U32, "U32", 4},         {Dtype::U16, "U16", 2},         {Dtype::U8, "U8", 1},
    {Dtype::BOOL, "BOOL", 1},       {Dtype::F8_E4M3, "F8_E4M3", 1}, {Dtype::F8_E5M2, "F8_E5M2", 1},
    {Dtype::F8_E8M0, "F8_E8M0", 1},
};

const DtypeRow& row(Dtype dtype) {
  for (const DtypeRow& r : kTable) {
    if (r.dtype == dtype) return r;
  }
  // Only reachable through a cast of an out-of-range integer: a programming error.
  throw std::logic_error("dtype: enum value outside the table");
}

}  // namespace

std::size_t dtype_size(Dtype dtype) { return row(dtype).size; }

std::string_view dtype_name(Dtype dtype) { return row(dtype).name; }

std::optional<Dtype> dtype_from_name(std::string_view name) {
  for (const DtypeRow& r : kTable) {
    if (r.name == name) return r.dtype;
  }
  return std::nullopt;
}

}  // namespace disa::llm
