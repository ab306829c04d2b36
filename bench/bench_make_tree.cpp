// bench_make_tree: writes one tree of a registered family, for the benchmarks.
//
//   bench_make_tree --family random --set vocab=10 --set horizon=7 --seed 1 --out T.dtree
//
// The same flags as `disa tree generate`; bench/run_exact_pass_bench.py uses this
// only when the CLI is not built. Exit 2 on a usage or input error.
#include <cstdint>
#include <cstdio>
#include <exception>
#include <map>
#include <string>

#include "src/input_error.h"
#include "toy_envs/families/family.h"
#include "toy_envs/tree_json.h"

int main(int argc, char** argv) {
  std::string family = "random", out;
  std::map<std::string, std::string> params;
  std::uint64_t seed = 1;
  const auto usage = [&](const std::string& why) {
    std::fprintf(stderr,
                 "bench_make_tree: %s\nusage: bench_make_tree [--family NAME] [--set KEY=VALUE]... "
                 "[--seed N] --out PATH(.dtree|.json)\n",
                 why.c_str());
    return 2;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--family" && has_value) {
      family = argv[++i];
    } else if (arg == "--set" && has_value) {
      const std::string kv = argv[++i];
      const auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) return usage("--set: expected KEY=VALUE, got '" + kv + "'");
      params[kv.substr(0, eq)] = kv.substr(eq + 1);
    } else if (arg == "--seed" && has_value) {
      try {
        seed = std::stoull(argv[++i]);
      } catch (const std::exception&) {
        return usage(std::string("--seed: not a non-negative integer: '") + argv[i] + "'");
      }
    } else if (arg == "--out" && has_value) {
      out = argv[++i];
    } else {
      return usage("unknown or incomplete argument '" + arg + "'");
    }
  }
  if (out.empty()) return usage("--out is required");
  try {
    disa::save_trees(disa::make_trees(family, params, seed), out);
  } catch (const disa::InputError& e) {
    std::fprintf(stderr, "bench_make_tree: %s\n", e.what());
    return 2;
  }
  return 0;
}
