// Running build/bin/disa as a user does, for the CLI tests: run() captures the exit
// code and the output (stdout and stderr together), CliDirTest gives each test its
// own temporary folder, expect_rejected() asserts the contract for bad arguments
// (exit 2, exactly one line, naming the argument). disa_binary(): $DISA_BIN when set, else
// the build's own bin/disa (DISA_TEST_BIN, compiled in by tests/CMakeLists.txt).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace disa::test {

struct CliResult {
  int exit_code;
  std::string output;  // stdout and stderr together
};

#ifndef DISA_TEST_BIN
#define DISA_TEST_BIN "build/bin/disa"
#endif

// The binary as a shell word (single-quoted), for the command lines below: a checkout
// whose path holds a space must still run its tests.
inline std::string disa_binary() {
  const char* bin = std::getenv("DISA_BIN");
  const std::string path = bin && *bin ? bin : DISA_TEST_BIN;
  std::string quoted = "'";
  for (const char c : path) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// `env` (e.g. "OMP_NUM_THREADS=1") is put in front of the command; `redirect` says where
// its streams go ("2>&1 >/dev/full": stderr captured, stdout to a full device).
inline CliResult run_disa(const std::string& args, const std::string& env = "", const std::string& redirect = "2>&1") {
  const std::string cmd = env + (env.empty() ? "" : " ") + disa_binary() + " " + args + " " + redirect;
  FILE* pipe = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, pipe)) out += buf;
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

inline int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// A rejected argument: exit 2, exactly one line, naming the argument.
inline void expect_rejected(const CliResult& r, const std::string& names) {
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(count_lines(r.output), 1) << r.output;
  EXPECT_NE(r.output.find(names), std::string::npos) << "expected '" << names << "' in: " << r.output;
}

class CliDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("disa_cli_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name() + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

}  // namespace disa::test
