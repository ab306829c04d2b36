#include "theory_checks/estimator_checks.h"

#include <omp.h>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <exception>
#include <string_view>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "src/input_error.h"
#include "src/output_folder.h"

namespace disa::theory {

std::int64_t replicates_for(const CheckOptions& options, std::int64_t n, std::int64_t sample_floor,
                            std::int64_t min_replicates) {
  const std::int64_t scale = options.quick ? 8 : 1;
  return std::max<std::int64_t>({min_replicates / scale, sample_floor / scale / n, 8});
}

const std::vector<CheckEntry>& estimator_checks() {
  static const std::vector<CheckEntry> checks = {
      {"check_01_unbiased", check_01_unbiased},
      {"check_02_relative_variance", check_02_relative_variance},
      {"check_03_log_bias", check_03_log_bias},
      {"check_04_ess", check_04_ess},
      {"check_05_binary_bound", check_05_binary_bound},
      {"check_07_sensitivity", check_07_sensitivity},
  };
  return checks;
}

static void claim_check_folder(const std::string& dir) {
  prepare_output_folder(dir, "--out");
  // One live check run per folder (two would race on the same files); under the lock,
  // the temporaries a killed run left are litter. Every file a check writes is named
  // check_* (write_result, Curves::write), and only those are swept: --out may be a
  // folder other programs write in too.
  if (lock_output_folder(dir, "--out")) {
    remove_stale_temporaries(dir, 0, [](std::string_view name) { return name.starts_with("check_"); });
  }
}

CheckResult run_check(const CheckEntry& check, const CheckOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  CheckResult result = check.run(options);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.config += fmt::format("; threads {}{}", omp_get_max_threads(), options.quick ? "; --quick" : "");
  if (options.print) print_result(result);
  write_result(result, options.out_dir);
  return result;
}

bool run_estimator_checks(const CheckOptions& options) {
  return run_checks(estimator_checks(), options, "first-order predictions off by > 10%");
}

bool run_checks(const std::vector<CheckEntry>& checks, const CheckOptions& options, const std::string& findings_are) {
  // --out checked before the first check runs (minutes), not when its results are saved.
  claim_check_folder(options.out_dir);
  const auto start = std::chrono::steady_clock::now();
  std::vector<CheckResult> results;
  // A progress line on a terminal (the tables print only when a check ends); quiet in CI.
  const bool show_progress = isatty(STDERR_FILENO) && std::getenv("CI") == nullptr;
  for (std::size_t k = 0; k < checks.size(); ++k) {
    if (show_progress) {
      std::fprintf(stderr, "[%zu/%zu] %s (%.0f s so far) ...\n", k + 1, checks.size(), checks[k].name.c_str(),
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    results.push_back(run_check(checks[k], options));
  }
  int rows = 0, passed = 0, findings = 0, sanity_failed = 0;
  bool ok = true;
  std::printf("== summary (%s)\n", options.out_dir.c_str());
  for (const CheckResult& r : results) {
    std::printf("%-28s %s\n", r.name.c_str(), r.overall_line().c_str());
    rows += r.exact_rows();
    passed += r.passed();
    findings += r.findings();
    sanity_failed += r.sanity_failed();
    ok = ok && r.ok();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::string failures;
  if (rows > passed) failures += fmt::format(", {} FAIL", rows - passed);
  if (sanity_failed > 0) failures += fmt::format(", {} SANITY FAIL", sanity_failed);
  std::printf("overall: %d/%d PASS%s, %d findings (%s), %zu checks, %.1f s; CSV/JSON in %s\n", passed, rows,
              failures.c_str(), findings, findings_are.c_str(),
              results.size(), seconds, options.out_dir.c_str());
  return ok;
}

int run_check_program(const std::vector<CheckEntry>& checks, const CheckProgramText& text, const std::string& name,
                      int argc, char** argv) {
  const CheckEntry* entry = nullptr;
  for (const CheckEntry& c : checks) {
    if (c.name == name) entry = &c;
  }
  if (entry == nullptr) {
    std::fprintf(stderr, "%s: not a registered check\n", name.c_str());
    return 1;
  }
  CheckOptions options;
  options.out_dir = text.default_out;
  CLI::App app{name + ": " + text.description + " (see theory_checks/README.md)", name};
  app.add_option("--out", options.out_dir, text.out_help)->capture_default_str();
  app.add_flag("--quick", options.quick, text.quick_help);
  app.add_option("--seed", options.seed, text.seed_help)->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "%s: error: %s (see --help)\n", name.c_str(), e.what());
    return 2;
  }
  try {
    // One check's program writes only its own check_NN files: several of them share a
    // folder at once (ctest runs the quick checks in parallel into one), so it takes no
    // folder lock; `disa check` (every check, the same files) does.
    prepare_output_folder(options.out_dir, "--out");
    return run_check(*entry, options).ok() ? 0 : 1;
  } catch (const InputError& e) {
    std::fprintf(stderr, "%s: error: %s\n", name.c_str(), e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: failed: %s\n", name.c_str(), e.what());
    return 1;
  }
}

int check_program_main(const std::string& name, int argc, char** argv) {
  const CheckProgramText text{"a theory check of the importance-sampled log Zhat", CheckOptions{}.out_dir,
                              "Output folder for <name>.csv and <name>.json",
                              "1/8 of the samples: a smoke run with wider CIs",
                              "Sampling seed (rows derive their own seeds from it)"};
  return run_check_program(estimator_checks(), text, name, argc, argv);
}

}  // namespace disa::theory
