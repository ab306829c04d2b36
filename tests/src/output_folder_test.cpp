// src/output_folder.h: --out (a folder or a file) checked before the work, one live run per
// folder, and the sweep of the NAME.tmp-PID files a killed run left.
#include "src/output_folder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <string_view>
#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

#include "tests/util/errors.h"

namespace {

namespace fs = std::filesystem;
using disa::test::input_error_message;

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("disa_output_folder_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

TEST(PrepareOutputFolder, CreatesTheFolderAndLeavesNoProbe) {
  const fs::path dir = fresh_dir("create");
  disa::prepare_output_folder(dir / "a" / "b", "--out");
  EXPECT_TRUE(fs::is_directory(dir / "a" / "b"));
  EXPECT_TRUE(fs::is_empty(dir / "a" / "b"));
  fs::remove_all(dir);
}

TEST(PrepareOutputFolder, AFileOrAPathUnderAFileIsNamedWithTheOption) {
  const fs::path dir = fresh_dir("file");
  std::ofstream(dir / "f.json") << "{}";
  EXPECT_EQ(input_error_message([&] { disa::prepare_output_folder(dir / "f.json", "--out"); }),
            "--out: '" + (dir / "f.json").string() + "' is a file, not a folder");
  EXPECT_NE(input_error_message([&] { disa::prepare_output_folder(dir / "f.json" / "sub", "--out"); })
                .find("--out: cannot create the folder '" + (dir / "f.json" / "sub").string() + "'"),
            std::string::npos);
  fs::remove_all(dir);
}

// --out FILE: what used to fail only after the work (exit 1, naming the temporary).
TEST(PrepareOutputFile, AFolderAnUnwritableOrAnUncreatableParentIsNamedWithTheOption) {
  const fs::path dir = fresh_dir("file_out");
  std::ofstream(dir / "f.json") << "{}";
  EXPECT_EQ(input_error_message([&] { disa::prepare_output_file(dir, "--out"); }),
            "--out: '" + dir.string() + "' is a folder, not a file");
  EXPECT_EQ(input_error_message([&] { disa::prepare_output_file(dir.string() + "/new/", "--out"); }),
            "--out: '" + dir.string() + "/new/' is a folder, not a file");
  EXPECT_EQ(input_error_message([&] { disa::prepare_output_file("/dev/null", "--out"); }),
            "--out: '/dev/null' is not a regular file (a device, pipe or socket)");
  EXPECT_EQ(input_error_message([&] { disa::prepare_output_file(dir / "f.json" / "a.jsonl", "--out"); }),
            "--out: '" + (dir / "f.json").string() + "' is a file, not a folder");
  // /proc takes no new files, not even root's.
  EXPECT_NE(input_error_message([&] { disa::prepare_output_file("/proc/disa_out.jsonl", "--out"); })
                .find("--out: cannot write in the folder '/proc'"),
            std::string::npos);
  EXPECT_EQ(input_error_message([&] { disa::prepare_output_file("", "--out"); }), "--out: must name a file, got ''");
  fs::remove_all(dir);
}

TEST(PrepareOutputFile, AWritablePathPassesLeavingNothingBehind) {
  const fs::path dir = fresh_dir("file_ok");
  std::ofstream(dir / "old.jsonl") << "kept";
  disa::prepare_output_file(dir / "a.jsonl", "--out");
  disa::prepare_output_file(dir / "old.jsonl", "--out");  // an existing file is replaced later, not now
  disa::prepare_output_file(dir / "sub" / "b.jsonl", "--out");  // a missing parent is made, as the writer would
  EXPECT_TRUE(fs::is_directory(dir / "sub"));
  EXPECT_TRUE(fs::is_empty(dir / "sub"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 2);  // old.jsonl and sub
  std::ifstream in(dir / "old.jsonl");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "kept");
  fs::remove_all(dir);
}

// The same file however spelt (a hard link, "./", a missing file by its path) is refused
// naming both options; other files, standard input and an absent option pass.
TEST(RefuseOutputOverInput, TheSameFileIsNamedWithBothOptions) {
  const fs::path dir = fresh_dir("over_input");
  std::ofstream(dir / "in.jsonl") << "input";
  std::ofstream(dir / "other.jsonl") << "other";
  fs::create_hard_link(dir / "in.jsonl", dir / "hard.jsonl");
  const std::string in = (dir / "in.jsonl").string();
  EXPECT_EQ(input_error_message([&] { disa::refuse_output_over_input(in, "--out", in, "--input"); }),
            "--out: '" + in + "' is the same file as --input '" + in +
                "'; writing it would replace the input (choose another --out)");
  const std::string same = "is the same file as";
  const auto hard_link = [&] { disa::refuse_output_over_input(dir / "hard.jsonl", "--out", in, "--input"); };
  EXPECT_NE(input_error_message(hard_link).find(same), std::string::npos);
  const fs::path missing = dir / "missing.jsonl";
  const auto not_there = [&] { disa::refuse_output_over_input(dir / "." / "missing.jsonl", "--out", missing, "--in"); };
  EXPECT_NE(input_error_message(not_there).find(same), std::string::npos);
  disa::refuse_output_over_input(dir / "other.jsonl", "--out", in, "--input");
  disa::refuse_output_over_input(dir / "new.jsonl", "--out", in, "--input");
  disa::refuse_output_over_input("-", "--out", "-", "--input");
  disa::refuse_output_over_input(in, "--out", "", "--input");
  fs::remove_all(dir);
}

TEST(LockOutputFolder, AnotherHolderIsRefusedNamingTheFolder) {
  const fs::path dir = fresh_dir("lock");
  // flock locks belong to an open file description: a second open here conflicts with
  // the lock just as another process's would.
  const int fd = ::open((dir / ".lock").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  EXPECT_NE(input_error_message([&] { disa::lock_output_folder(dir, "--out"); }).find("is in use by another running process"),
            std::string::npos);
  ::close(fd);
  EXPECT_TRUE(disa::lock_output_folder(dir, "--out"));
  EXPECT_TRUE(disa::lock_output_folder(dir, "--out"));  // held already: still ours
  fs::remove_all(dir);
}

TEST(RemoveStaleTemporaries, OnlyOtherProcessesTemporariesDownToTheDepthGiven) {
  const fs::path dir = fresh_dir("sweep");
  fs::create_directories(dir / "a" / "b");
  fs::create_directories(dir / "other_run");
  std::ofstream(dir / "other_run" / ".lock") << "";
  const std::string dead = ".tmp-999999999", mine = ".tmp-" + std::to_string(::getpid());
  for (const fs::path& p : {dir / ("x.csv" + dead), dir / ("y.json" + mine), dir / "notes.tmp-draft", dir / "z.tmp-",
                            dir / "a" / ("x" + dead), dir / "a" / "b" / ("x" + dead), dir / "other_run" / ("x" + dead)}) {
    std::ofstream(p) << "x";
  }
  disa::remove_stale_temporaries(dir, 0);
  EXPECT_FALSE(fs::exists(dir / ("x.csv" + dead)));
  EXPECT_TRUE(fs::exists(dir / ("y.json" + mine)));  // this process may be writing it
  EXPECT_TRUE(fs::exists(dir / "notes.tmp-draft"));  // not NAME.tmp-PID
  EXPECT_TRUE(fs::exists(dir / "z.tmp-"));
  EXPECT_TRUE(fs::exists(dir / "a" / ("x" + dead)));  // below depth 0
  disa::remove_stale_temporaries(dir, 1);
  EXPECT_FALSE(fs::exists(dir / "a" / ("x" + dead)));
  EXPECT_TRUE(fs::exists(dir / "a" / "b" / ("x" + dead)));  // below depth 1
  EXPECT_TRUE(fs::exists(dir / "other_run" / ("x" + dead)));  // another run's folder (its own .lock)
  fs::remove_all(dir);
}

TEST(RemoveStaleTemporaries, AnOwnedFilterSweepsOnlyTheCommandsOwnFiles) {
  const fs::path dir = fresh_dir("sweep_owned");
  const std::string dead = ".tmp-999999999";
  for (const char* name : {"check_01.csv", "check_01.json", "notes.csv"}) std::ofstream(dir / (name + dead)) << "x";
  disa::remove_stale_temporaries(dir, 0, [](std::string_view name) { return name.starts_with("check_"); });
  EXPECT_FALSE(fs::exists(dir / ("check_01.csv" + dead)));
  EXPECT_FALSE(fs::exists(dir / ("check_01.json" + dead)));
  EXPECT_TRUE(fs::exists(dir / ("notes.csv" + dead)));  // the filter sees NAME without .tmp-PID
  fs::remove_all(dir);
}

}  // namespace
