// The element types a safetensors header may name ("dtype"), their byte sizes and
// their spelling in the header. Sub-byte types (F4, F6_*) are left out on purpose:
// their byte ranges are not shape x size, and no model this project loads uses them.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace disa::llm {

enum class Dtype {
  F64, F32, F16, BF16,
  I64, I32, I16, I8,
  U64, U32, U16, U8,
  BOOL,
  F8_E4M3, F8_E5M2, F8_E8M0,
};

// Every Dtype, for tests and tables.
inline constexpr Dtype kAllDtypes[] = {
    Dtype::F64, Dtype::F32, Dtype::F16, Dtype::BF16, Dtype::I64, Dtype::I32,
    Dtype::I16, Dtype::I8,  Dtype::U64, Dtype::U32,  Dtype::U16, Dtype::U8,
    Dtype::BOOL, Dtype::F8_E4M3, Dtype::F8_E5M2, Dtype::F8_E8M0,
};

std::size_t dtype_size(Dtype dtype);        // bytes per element
std::string_view dtype_name(Dtype dtype);   // as written in the header, e.g. "BF16"
std::optional<Dtype> dtype_from_name(std::string_view name);  // exact, case-sensitive

}  // namespace disa::llm
