// disa: the command-line entry point.
//
// Exit codes: 0 success; 2 bad arguments or bad input (one line naming the
// argument, field or JSON path); 1 any other failure.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <new>
#include <string>

#include <CLI/CLI.hpp>

#ifdef DISA_HAVE_TORCH
#include <c10/util/Exception.h>
#endif

#include "src/cli/commands.h"
#include "src/cli/option_checks.h"
#include "src/input_error.h"

namespace {

std::string one_line(std::string s) {
  for (char& c : s) {
    if (c == '\n') c = ' ';
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

// CLI11 reports "A subcommand is required" before it looks at a misspelt one;
// name the unknown word and the choices instead.
std::string explain_missing_subcommand(const CLI::App& app, int argc, char** argv) {
  const CLI::App* at = &app;
  std::string path = "disa";
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word.starts_with("-")) break;
    const CLI::App* next = nullptr;
    for (const CLI::App* sub : at->get_subcommands({})) {
      if (sub->get_name() == word) next = sub;
    }
    if (next == nullptr) {
      std::vector<std::string> names;
      for (const CLI::App* sub : at->get_subcommands({})) names.push_back(sub->get_name());
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      return path + ": unknown subcommand '" + word + "' (expected one of: " + list + ")";
    }
    at = next;
    path += " " + word;
  }
  std::string list;
  for (const CLI::App* sub : at->get_subcommands({})) list += (list.empty() ? "" : ", ") + sub->get_name();
  return path + ": a subcommand is required (one of: " + list + ")";
}

// Output to stdout is buffered (std::cout and stdio share one buffer): a full disk, a
// closed pipe or /dev/full shows only when the buffer is flushed, which exit() does
// silently. Flushed here so that a lost output is a failure (exit 1), never exit 0 with
// an empty or cut file after `disa ... > out`. Returns whether everything was written.
bool flush_standard_output() {
  // A write that failed mid-command (a full buffer) set errno then; glibc drops the
  // buffer it could not write, so the flush below succeeds and only the error flags tell.
  // errno then most likely still holds that write's error: the best cause to name.
  const int earlier = errno;
  errno = 0;
  std::cout.flush();  // std::cout writes through stdout's buffer: this flushes it
  int error = errno;
  if (std::fflush(stdout) != 0 && error == 0) error = errno;
  if (std::cout.good() && !std::ferror(stdout)) return true;
  if (error == 0) error = earlier != 0 ? earlier : EIO;
  std::fprintf(stderr, "disa: failed: writing standard output: %s\n", std::strerror(error));
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"disa: distribution-matching RL testbed (exact trees, importance-sampled log Z)", "disa"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Print help for every subcommand");
  disa::cli::add_tree_commands(app);
  disa::cli::add_demo_command(app);
  disa::cli::add_estimate_command(app);
  disa::cli::add_anchor_command(app);
  disa::cli::add_check_command(app);
  disa::cli::add_loss_command(app);
  disa::cli::add_train_command(app);
  disa::cli::add_llm_command(app);
  disa::cli::check_common_options(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::RequiredError& e) {
    const std::string what = e.what();
    const std::string message = what.find("subcommand") != std::string::npos
                                    ? explain_missing_subcommand(app, argc, argv)
                                    : one_line(what);
    std::fprintf(stderr, "disa: error: %s (see --help)\n", message.c_str());
    return 2;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "disa: error: %s (see --help)\n", one_line(e.what()).c_str());
    return 2;
  } catch (const disa::InputError& e) {
    std::fprintf(stderr, "disa: error: %s\n", one_line(e.what()).c_str());
    return 2;
#ifdef DISA_HAVE_TORCH
  } catch (const c10::Error& e) {
    // LibTorch's what() carries a C++ backtrace of some 25 frames after the reason.
    std::fprintf(stderr, "disa: failed: %s\n", one_line(e.what_without_backtrace()).c_str());
    return 1;
#endif
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr,
                 "disa: failed: out of memory (std::bad_alloc): a size or count asked for more than this "
                 "machine holds\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "disa: failed: %s\n", one_line(e.what()).c_str());
    return 1;
  }
  if (!flush_standard_output()) return 1;
  return disa::cli::command_exit_code();
}
