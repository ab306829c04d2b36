// libFuzzer target for the safetensors reader (build and run: run_fuzz.sh). Any input
// must either parse, and then satisfy every invariant in parse_invariants.h, or be
// rejected with disa::InputError; anything else (a crash, a sanitizer report, another
// exception, a broken invariant) is a finding.
#include <cstdio>
#include <cstdlib>
#include <span>

#include "src/input_error.h"
#include "tests/llm/safetensors/parse_invariants.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> file(reinterpret_cast<const std::byte*>(data), size);
  try {
    const disa::llm::SafetensorsFile parsed = disa::llm::SafetensorsFile::parse(file);
    const std::string broken = disa::llm::check_parse_invariants(file, parsed);
    if (!broken.empty()) {
      std::fprintf(stderr, "invariant broken: %s\n", broken.c_str());
      std::abort();
    }
  } catch (const disa::InputError&) {
    // the expected outcome for a bad file
  } catch (const std::exception& e) {
    std::fprintf(stderr, "unexpected exception (not InputError): %s\n", e.what());
    std::abort();
  }
  return 0;
}
