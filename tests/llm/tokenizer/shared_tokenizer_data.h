// Where the tests find the Qwen tokenizer.json and llama.cpp's reference ids:
// ../shared/data/tokenizer (relative to the project root, where ctest runs) or
// $DISA_SHARED_DIR/data/tokenizer. A clone without them skips the tests that need them.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>

#include "llm/tokenizer/tokenizer.h"

namespace disa::llm::test {

inline constexpr const char* kNoSharedTokenizer =
    "the Qwen tokenizer and llama.cpp's reference ids live in ../shared/data/tokenizer (relative to the "
    "project root, or $DISA_SHARED_DIR/data/tokenizer); a user's clone has none";

// nullopt when absent. An explicitly set DISA_SHARED_DIR that lacks them is a failure,
// not a skip: a mistyped path must not pass silently.
inline std::optional<std::filesystem::path> shared_tokenizer_dir() {
  namespace fs = std::filesystem;
  if (const char* shared = std::getenv("DISA_SHARED_DIR"); shared && *shared) {
    const fs::path dir = fs::path(shared) / "data" / "tokenizer";
    if (!fs::is_directory(dir)) {
      ADD_FAILURE() << "DISA_SHARED_DIR=" << shared << " has no data/tokenizer/ directory";
      return std::nullopt;
    }
    return dir;
  }
  const fs::path dir = fs::path("..") / "shared" / "data" / "tokenizer";
  if (!fs::is_directory(dir)) return std::nullopt;
  return dir;
}

// The Qwen tokenizer, loaded once per test process (it takes a moment).
inline const Tokenizer& qwen_tokenizer(const std::filesystem::path& dir) {
  static const std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(dir / "qwen3");
  return *tokenizer;
}

}  // namespace disa::llm::test

#define DISA_REQUIRE_SHARED_TOKENIZER_DIR(var)                                                \
  const std::optional<std::filesystem::path> var = ::disa::llm::test::shared_tokenizer_dir(); \
  if (!var) GTEST_SKIP() << ::disa::llm::test::kNoSharedTokenizer
