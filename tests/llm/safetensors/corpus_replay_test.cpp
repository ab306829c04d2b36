// Replays the fuzzing corpus (corpus/, see make_corpus.py and run_fuzz.sh) through the
// reader built with the project's compiler: valid_* files must parse and satisfy every
// invariant the fuzz target checks, invalid_* files must be rejected with InputError.
// A crash the fuzzer finds, once copied into corpus/, stays fixed through this test.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "llm/safetensors/safetensors.h"
#include "src/input_error.h"
#include "tests/llm/safetensors/parse_invariants.h"

namespace disa::llm {
namespace {

const std::filesystem::path kCorpus = DISA_SAFETENSORS_CORPUS_DIR;

std::vector<std::byte> read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(chars.size());
  std::memcpy(out.data(), chars.data(), chars.size());
  return out;
}

TEST(safetensors_corpus, EveryFileHasItsNamedOutcome) {
  std::size_t valid = 0, invalid = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kCorpus)) {
    const std::string name = entry.path().filename().string();
    const bool expect_valid = name.rfind("valid_", 0) == 0;
    ASSERT_TRUE(expect_valid || name.rfind("invalid_", 0) == 0)
        << name << ": corpus files are named valid_* or invalid_*";
    const std::vector<std::byte> bytes = read_all(entry.path());
    SCOPED_TRACE(name);
    if (expect_valid) {
      ++valid;
      try {
        const SafetensorsFile file = SafetensorsFile::parse(bytes);
        EXPECT_EQ(check_parse_invariants(bytes, file), "");
      } catch (const std::exception& e) {
        ADD_FAILURE() << "rejected: " << e.what();
      }
    } else {
      ++invalid;
      EXPECT_THROW(SafetensorsFile::parse(bytes), InputError);
    }
  }
  EXPECT_GE(valid, 5u);
  EXPECT_GE(invalid, 15u);
}

}  // namespace
}  // namespace disa::llm
