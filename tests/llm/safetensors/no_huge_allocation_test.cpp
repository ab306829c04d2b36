// The reader must never size an allocation from a number in the file before checking
// it against the file: this binary replaces operator new to record the largest single
// request, and feeds the reader small files that claim huge sizes. (Its own executable,
// so the replacement affects no other test.)
#include <atomic>
#include <cstdlib>
#include <new>

#include <gtest/gtest.h>

#include "llm/safetensors/safetensors.h"
#include "src/input_error.h"
#include "tests/llm/safetensors/safetensors_test_files.h"

namespace {
std::atomic<std::size_t> g_largest_request{0};
}

void* operator new(std::size_t size) {
  std::size_t seen = g_largest_request.load();
  while (size > seen && !g_largest_request.compare_exchange_weak(seen, size)) {
  }
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return ::operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace disa::llm {
namespace {

// The largest allocation made while parsing FILE (which must be rejected).
std::size_t largest_allocation_rejecting(const std::vector<std::byte>& file) {
  g_largest_request = 0;
  EXPECT_THROW(SafetensorsFile::parse(file), InputError);
  return g_largest_request.load();
}

constexpr std::size_t kSmall = 64 * 1024;  // generous for messages and a few entries

TEST(safetensors_no_huge_allocation, HugeClaimedHeaderLength) {
  EXPECT_LT(largest_allocation_rejecting(test::raw_file("{}", "", ~0ULL)), kSmall);
  EXPECT_LT(largest_allocation_rejecting(test::raw_file("{}", "", 1ULL << 40)), kSmall);
  EXPECT_LT(largest_allocation_rejecting(test::raw_file("{}", "", 99'999'999)), kSmall);
}

TEST(safetensors_no_huge_allocation, HugeClaimedShapesAndOffsets) {
  EXPECT_LT(largest_allocation_rejecting(test::raw_file(
                "{\"w\":{\"dtype\":\"F64\",\"shape\":[1000000000000],"
                "\"data_offsets\":[0,8000000000000]}}")),
            kSmall);
  EXPECT_LT(largest_allocation_rejecting(test::raw_file(
                "{\"w\":{\"dtype\":\"U8\",\"shape\":[9223372036854775807,9223372036854775807],"
                "\"data_offsets\":[0,1]}}", "x")),
            kSmall);
}

TEST(safetensors_no_huge_allocation, TheCounterSeesLargeAllocations) {
  // Guards the guard: a test that cannot fail proves nothing.
  g_largest_request = 0;
  auto* big = new std::vector<char>(10'000'000);
  EXPECT_GE(g_largest_request.load(), 10'000'000u);
  delete big;
}

}  // namespace
}  // namespace disa::llm
