// Where the tests find ../shared/data (the benchmark files, the Qwen tokenizer): relative
// to the project root, where ctest runs, or $DISA_SHARED_DIR/data. A user's clone has no
// ../shared, and tests that need it skip with a message; an explicitly set
// DISA_SHARED_DIR without `probe` in its data/ is a failure, not a skip.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include <gtest/gtest.h>

namespace disa::test {

// `probe`: a folder under data/ the caller needs (e.g. "math500").
inline std::optional<std::filesystem::path> shared_data_dir(const std::string& probe) {
  namespace fs = std::filesystem;
  if (const char* shared = std::getenv("DISA_SHARED_DIR"); shared && *shared) {
    const fs::path dir = fs::absolute(fs::path(shared) / "data");
    if (!fs::is_directory(dir / probe)) {
      ADD_FAILURE() << "DISA_SHARED_DIR=" << shared << " has no data/" << probe << "/";
      return std::nullopt;
    }
    return dir;
  }
  const fs::path dir = fs::absolute(fs::path("..") / "shared" / "data");
  if (!fs::is_directory(dir / probe)) return std::nullopt;
  return dir;
}

}  // namespace disa::test
