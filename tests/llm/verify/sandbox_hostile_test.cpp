// The sandbox (llm/verify/code_sandbox.h) against hostile programs: each one is
// contained, and the test asserts how (the limit hit, the file that must not exist,
// the process that must not survive). Skips, naming the reason, where namespaces
// cannot be created (the sandbox then refuses to run: it fails closed).
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <thread>

#include "llm/verify/code_sandbox.h"
#include "tests/util/shared_data.h"

namespace disa::llm::verify {
namespace {

namespace fs = std::filesystem;

#define REQUIRE_SANDBOX()                                                         \
  if (const auto why = sandbox_unavailable_reason()) GTEST_SKIP() << "no sandbox here: " << *why

SandboxOptions quick_limits() {
  SandboxOptions o;
  o.limits.wall_seconds = 3;
  o.limits.cpu_seconds = 2;
  o.limits.memory_bytes = 512ull << 20;
  o.limits.output_bytes = 64 << 10;
  return o;
}

SandboxResult run(const std::string& program, const SandboxOptions& o = quick_limits(), const std::string& input = "") {
  return run_in_sandbox({{"prog.py", program}}, input, o);
}

// How long after its wall limit a killed run may still be reported running. The caller
// wakes from poll at most 1 ms after the limit (its timeout is rounded up by 1 ms) and
// SIGKILLs the namespace's init; it then reads until the pipes close, at most 1.0 s plus
// one 0.1 s poll after the kill (the cap for an escaped unisolated child; isolated, the
// pipes close as the kernel empties the namespace), and reaps the launcher. That is
// 1.101 s by construction; 0.4 s more is left for the kernel's teardown of up to
// max_processes processes and for scheduling (measured overshoot on 2 cores: 0.07 s for a
// busy loop, 0.17 s for a fork bomb of 64 processes). This file's tests are registered
// RUN_SERIAL (tests/llm/verify/CMakeLists.txt), so no other test competes for the CPUs.
constexpr double kKillMargin = 1.5;

// CLOCK_MONOTONIC in seconds: the clock Python's time.monotonic() reads in the sandbox
// (it unshares no time namespace), so the two sides' times compare.
double monotonic_now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::string unique_marker() {
  std::random_device rd;
  return "disa-hostile-" + std::to_string(rd()) + std::to_string(getpid());
}

// Processes (any namespace) whose command line contains `marker`.
int processes_with(const std::string& marker) {
  int count = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    // POSIX reads: a process may exit mid-scan (ESRCH), which iostreams would throw on.
    const int fd = open((entry.path() / "cmdline").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    std::string cmdline;
    char buf[4096];
    for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) cmdline.append(buf, static_cast<std::size_t>(n));
    close(fd);
    if (cmdline.find(marker) != std::string::npos) ++count;
  }
  return count;
}

TEST(SandboxHostile, AWellBehavedProgramRunsAndReadsItsInput) {
  REQUIRE_SANDBOX();
  const auto r = run("import sys\nprint(sum(int(x) for x in sys.stdin.read().split()))\n", quick_limits(), "1 2 3\n");
  EXPECT_TRUE(r.ok()) << r.stderr_text;
  EXPECT_EQ(r.stdout_text, "6\n");
  EXPECT_TRUE(r.isolated);
  // It ended on its own, not by a limit (a speed bound would depend on the machine's load).
  EXPECT_EQ(r.limit, LimitHit::kNone) << limit_name(r.limit);
  EXPECT_TRUE(r.exited);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_LT(r.wall_seconds, quick_limits().limits.wall_seconds);
}

TEST(SandboxHostile, InfiniteLoopTimesOutWithinTheLimit) {
  REQUIRE_SANDBOX();
  SandboxOptions o = quick_limits();
  o.limits.wall_seconds = 1.5;
  o.limits.cpu_seconds = 10;  // the wall clock must end it
  const auto r = run("while True:\n    pass\n", o);
  EXPECT_EQ(r.limit, LimitHit::kWallTime);
  EXPECT_FALSE(r.ok());
  EXPECT_GE(r.wall_seconds, 1.5);
  EXPECT_LT(r.wall_seconds, 1.5 + kKillMargin);
}

TEST(SandboxHostile, SleepingProgramTimesOutToo) {
  REQUIRE_SANDBOX();
  SandboxOptions o = quick_limits();
  o.limits.wall_seconds = 1;
  const auto r = run("import time\ntime.sleep(60)\n", o);
  EXPECT_EQ(r.limit, LimitHit::kWallTime);
  EXPECT_GE(r.wall_seconds, 1.0);
  EXPECT_LT(r.wall_seconds, 1.0 + kKillMargin);
}

TEST(SandboxHostile, CpuLimitEndsABusyLoopBeforeTheWallClock) {
  REQUIRE_SANDBOX();
  SandboxOptions o = quick_limits();
  o.limits.wall_seconds = 10;
  o.limits.cpu_seconds = 1;
  const auto r = run("while True:\n    pass\n", o);
  EXPECT_EQ(r.limit, LimitHit::kCpuTime) << limit_name(r.limit) << " signal " << r.signal;
  // Bounded in CPU seconds, not wall: RLIMIT_CPU sends SIGXCPU at 1 s of CPU and SIGKILL
  // at the hard limit 1 s later, checked at each tick. (No lower bound: the rusage the
  // sandbox reports is tick-sampled, 0.966 s was seen for a run the kernel ended at 1 s.)
  EXPECT_LT(r.cpu_seconds, 1.0 + 1.0 + 0.1) << "the hard CPU limit (soft + 1 s) plus one tick";
  EXPECT_LT(r.wall_seconds, o.limits.wall_seconds) << "the wall clock ended it";
}

TEST(SandboxHostile, ForkBombIsContainedAndLeavesNoProcess) {
  REQUIRE_SANDBOX();
  const std::string marker = unique_marker();
  SandboxOptions o = quick_limits();
  o.limits.wall_seconds = 3;
  o.program_args = {marker};
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = run(
      "import os\n"
      "while True:\n"
      "    try:\n"
      "        os.fork()\n"
      "    except OSError:\n"
      "        pass\n",
      o);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.limit, LimitHit::kWallTime);
  EXPECT_LT(took, 3 + kKillMargin);
  EXPECT_EQ(processes_with(marker), 0) << "a process of the fork bomb survived the run";
}

// Each run has its own uid (as root) or user namespace, so RLIMIT_NPROC counts only
// its own processes: a run beside a fork bomb still starts and forks. The test relies on
// the bomb being at its limit when the other run forks, and checks it: every bomb process
// prints (once) the CLOCK_MONOTONIC time of its first failed fork, the other run the time
// of its fork, which must fall after the first failure (a bomb's processes never exit, so
// it stays at its limit) and before the bomb's wall limit ends it. The 1000 ms head start
// is what makes that order likely; if it did not hold, the test fails rather than passing
// without having tested the claim.
TEST(SandboxHostile, AForkBombDoesNotStarveAConcurrentRun) {
  REQUIRE_SANDBOX();
  SandboxResult bomb;
  const double bomb_started = monotonic_now();
  std::thread t([&] {
    SandboxOptions o = quick_limits();
    o.limits.wall_seconds = 3;
    bomb =
        run("import os, time\n"
            "said = False\n"
            "while True:\n"
            "    try:\n"
            "        os.fork()\n"
            "    except OSError:\n"
            "        if not said:\n"
            "            os.write(1, b'limit %.6f\\n' % time.monotonic())\n"
            "            said = True\n",
            o);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // the bomb is at its limit by now (checked below)
  const auto beside =
      run("import os, time\npid = os.fork()\nif pid == 0:\n    os._exit(7)\n"
          "print('forked %.6f' % time.monotonic())\n"
          "print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))\n");
  t.join();
  EXPECT_TRUE(beside.ok()) << beside.stderr_text;
  double forked = 0;
  char seven[8] = {};
  ASSERT_EQ(std::sscanf(beside.stdout_text.c_str(), "forked %lf\n%7s", &forked, seven), 2) << beside.stdout_text;
  EXPECT_EQ(beside.stdout_text.substr(beside.stdout_text.find('\n') + 1), "7\n");
  EXPECT_EQ(bomb.limit, LimitHit::kWallTime);
  double first_failure = std::numeric_limits<double>::infinity();
  std::istringstream lines(bomb.stdout_text);
  for (std::string word; lines >> word;) {
    double at = 0;
    ASSERT_EQ(word, "limit") << bomb.stdout_text;
    ASSERT_TRUE(lines >> at) << bomb.stdout_text;
    first_failure = std::min(first_failure, at);
  }
  ASSERT_TRUE(std::isfinite(first_failure)) << "the bomb never reached its process limit";
  EXPECT_LT(first_failure, forked) << "the other run forked before the bomb was at its limit: nothing was tested";
  EXPECT_LT(forked, bomb_started + 3.0) << "the other run forked after the bomb's wall limit";
}

TEST(SandboxHostile, BackgroundChildIsKilledWhenTheProgramExits) {
  REQUIRE_SANDBOX();
  const std::string marker = unique_marker();
  SandboxOptions o = quick_limits();
  o.program_args = {marker};
  // The child leaves the process group and closes its pipes: only the PID namespace
  // can catch it.
  const auto r = run(
      "import os, sys, time\n"
      "if os.fork() == 0:\n"
      "    os.setsid()\n"
      "    os.close(1); os.close(2)\n"
      "    time.sleep(60)\n"
      "    os._exit(0)\n"
      "print('parent done')\n",
      o);
  EXPECT_TRUE(r.ok()) << r.stderr_text;
  EXPECT_EQ(r.stdout_text, "parent done\n");
  // Had the run waited for the child (asleep for 60 s), the wall limit would have ended it.
  EXPECT_EQ(r.limit, LimitHit::kNone) << "the run waited for the background child";
  EXPECT_LT(r.wall_seconds, o.limits.wall_seconds) << "the run waited for the background child";
  EXPECT_EQ(processes_with(marker), 0) << "the background child survived the run";
}

TEST(SandboxHostile, MemoryHogHitsTheMemoryLimit) {
  REQUIRE_SANDBOX();
  SandboxOptions o = quick_limits();
  o.limits.memory_bytes = 256ull << 20;
  const auto r = run("blocks = []\nwhile True:\n    blocks.append(bytearray(16 << 20))\n", o);
  EXPECT_EQ(r.limit, LimitHit::kMemory) << limit_name(r.limit) << ": " << r.stderr_text;
  EXPECT_FALSE(r.ok());
}

// RLIMIT_AS does not count a memfd, SysV shared memory or a socket's queue: 160 memfds
// of 15 MiB grew the host's Shmem by 2.4 GB under a 1 GiB cap, and 126 Unix socket
// pairs with raised buffers queued 1 GB (net.core.wmem_max 4 MiB). The seccomp filter
// refuses them; other socket options and /dev/shm (a 64 MiB tmpfs) still work.
TEST(SandboxHostile, MemoryOutsideTheAddressSpaceIsRefused) {
  REQUIRE_SANDBOX();
  const auto r = run("import ctypes, os\n"
                     "try:\n"
                     "    os.memfd_create('m')\n"
                     "    print('memfd made')\n"
                     "except OSError as e:\n"
                     "    print('memfd', e.errno)\n"
                     "libc = ctypes.CDLL(None, use_errno=True)\n"
                     "print('shmget', libc.shmget(0, 1 << 20, 0o1600), ctypes.get_errno())\n"
                     "print('msgget', libc.msgget(0, 0o1600), ctypes.get_errno())\n"
                     "import socket\n"
                     "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
                     "for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):\n"
                     "    try:\n"
                     "        s.setsockopt(socket.SOL_SOCKET, option, 1 << 22)\n"
                     "        print('buffer raised')\n"
                     "    except OSError as e:\n"
                     "        print('buffer', e.errno)\n"
                     "s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)\n"
                     "open('/dev/shm/x', 'wb').write(b'fine')\n"
                     "print('others ok')\n");
  EXPECT_TRUE(r.ok()) << r.stderr_text;
  EXPECT_EQ(r.stdout_text, "memfd 38\nshmget -1 38\nmsgget -1 38\nbuffer 38\nbuffer 38\nothers ok\n");  // ENOSYS
}

// Answer keys on the host: a hidden directory is an empty one inside, a hidden file
// reads as empty. A program read codeforces.json for its input's output (401 of 408
// tasks passed).
TEST(SandboxHostile, HiddenPathsCannotBeRead) {
  REQUIRE_SANDBOX();
  const auto data = disa::test::shared_data_dir("codeforces");
  if (!data) GTEST_SKIP() << "needs a host directory outside /tmp: ../shared/data (or $DISA_SHARED_DIR/data)";
  const fs::path answers = *data / "codeforces" / "codeforces.json";
  const fs::path other = *data / "SOURCES.md";
  const std::string program =
      "import os, sys\n"
      "print(len(os.listdir(sys.argv[1])))\n"
      "for path in sys.argv[2:]:\n"
      "    try:\n"
      "        print(len(open(path, 'rb').read()))\n"
      "    except OSError as e:\n"
      "        print('refused', e.errno)\n";
  SandboxOptions o = quick_limits();
  o.program_args = {data->string(), answers.string(), other.string()};
  const auto visible = run(program, o);
  ASSERT_TRUE(visible.ok()) << visible.stderr_text;
  EXPECT_EQ(visible.stdout_text,
            fmt::format("{}\n{}\n{}\n", std::distance(fs::directory_iterator(*data), fs::directory_iterator()),
                        fs::file_size(answers), fs::file_size(other)));
  SandboxOptions dir = o;
  ASSERT_TRUE(add_hidden_path(dir, *data));
  const auto hidden_dir = run(program, dir);
  EXPECT_TRUE(hidden_dir.ok()) << hidden_dir.stderr_text;
  EXPECT_EQ(hidden_dir.stdout_text, "0\nrefused 2\nrefused 2\n");
  SandboxOptions file = o;
  ASSERT_TRUE(add_hidden_path(file, answers));
  const auto hidden_file = run(program, file);
  EXPECT_TRUE(hidden_file.ok()) << hidden_file.stderr_text;
  EXPECT_EQ(hidden_file.stdout_text, fmt::format("{}\n0\n{}\n",
                                                 std::distance(fs::directory_iterator(*data), fs::directory_iterator()),
                                                 fs::file_size(other)));
}

TEST(SandboxHostile, HidingTheRootOrTheInterpreterIsRefused) {
  SandboxOptions o = quick_limits();
  EXPECT_FALSE(add_hidden_path(o, "/"));
  EXPECT_FALSE(add_hidden_path(o, "/usr/bin"));  // holds /usr/bin/python3
  EXPECT_FALSE(add_hidden_path(o, "/usr/bin/python3"));
  EXPECT_TRUE(o.hidden_paths.empty());
  for (const std::string path : {"/", "/usr", "relative/dir"}) {
    SandboxOptions bad = quick_limits();
    bad.hidden_paths = {path};
    EXPECT_THROW(run_in_sandbox({{"x.py", "pass"}}, "", bad), std::invalid_argument) << path;
  }
  ASSERT_TRUE(add_hidden_path(o, "/nonexistent-disa-path/x"));  // nothing to hide there: the run goes on
  REQUIRE_SANDBOX();
  const auto r = run("print('ran')\n", o);
  EXPECT_TRUE(r.ok()) << r.stderr_text;
  EXPECT_EQ(r.stdout_text, "ran\n");
}

TEST(SandboxHostile, WritesOutsideItsDirectoryDoNotLand) {
  REQUIRE_SANDBOX();
  const std::string name = unique_marker();
  const fs::path in_tmp = fs::temp_directory_path() / name;
  const fs::path in_project = fs::current_path() / name;
  const fs::path in_root = fs::path("/") / name;
  const auto r = run("import sys\n"
                     "for path in sys.argv[1:]:\n"
                     "    try:\n"
                     "        with open(path, 'w') as f:\n"
                     "            f.write('escaped')\n"
                     "        print('wrote', path)\n"
                     "    except OSError as e:\n"
                     "        print('refused', path, e.errno)\n"
                     "open('local.txt', 'w').write('fine')\n"
                     "print('local ok')\n",
                     [&] {
                       SandboxOptions o = quick_limits();
                       o.program_args = {in_tmp.string(), in_project.string(), in_root.string()};
                       return o;
                     }());
  EXPECT_TRUE(r.ok()) << r.stderr_text;
  EXPECT_NE(r.stdout_text.find("local ok"), std::string::npos) << r.stdout_text;
  EXPECT_NE(r.stdout_text.find("refused " + in_project.string()), std::string::npos) << r.stdout_text;
  EXPECT_NE(r.stdout_text.find("refused " + in_root.string()), std::string::npos) << r.stdout_text;
  // /tmp is the sandbox's own tmpfs: the write succeeds there and vanishes with it.
  EXPECT_NE(r.stdout_text.find("wrote " + in_tmp.string()), std::string::npos) << r.stdout_text;
  EXPECT_FALSE(fs::exists(in_tmp)) << in_tmp;
  EXPECT_FALSE(fs::exists(in_project)) << in_project;
  EXPECT_FALSE(fs::exists(in_root)) << in_root;
}

TEST(SandboxHostile, SocketsReachNothing) {
  REQUIRE_SANDBOX();
  const auto r = run("import socket\n"
                     "for host, port in [('127.0.0.1', 22), ('1.1.1.1', 53), ('8.8.8.8', 80)]:\n"
                     "    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n"
                     "    s.settimeout(1)\n"
                     "    try:\n"
                     "        s.connect((host, port))\n"
                     "        print('connected', host)\n"
                     "    except OSError as e:\n"
                     "        print('failed', host, type(e).__name__)\n"
                     "try:\n"
                     "    socket.getaddrinfo('example.com', 80)\n"
                     "    print('resolved')\n"
                     "except OSError:\n"
                     "    print('no dns')\n");
  EXPECT_TRUE(r.ok()) << r.stderr_text;
  EXPECT_EQ(r.stdout_text.find("connected"), std::string::npos) << r.stdout_text;
  EXPECT_NE(r.stdout_text.find("failed 127.0.0.1"), std::string::npos) << r.stdout_text;
  EXPECT_NE(r.stdout_text.find("failed 1.1.1.1"), std::string::npos) << r.stdout_text;
  EXPECT_NE(r.stdout_text.find("failed 8.8.8.8"), std::string::npos) << r.stdout_text;
  EXPECT_NE(r.stdout_text.find("no dns"), std::string::npos) << r.stdout_text;
}

TEST(SandboxHostile, HugeOutputHitsTheOutputLimitAndStaysBounded) {
  REQUIRE_SANDBOX();
  SandboxOptions o = quick_limits();
  o.limits.output_bytes = 100000;
  o.limits.wall_seconds = 5;
  const auto r = run("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n", o);
  EXPECT_EQ(r.limit, LimitHit::kOutput);
  EXPECT_LE(r.stdout_text.size() + r.stderr_text.size(), 100000u);
  EXPECT_LT(r.wall_seconds, o.limits.wall_seconds) << "the output limit should stop it before the wall clock";
}

TEST(SandboxHostile, CannotSeeOrSignalHostProcesses) {
  REQUIRE_SANDBOX();
  const auto r = run("import os, sys\n"
                     "pids = [p for p in os.listdir('/proc') if p.isdigit()]\n"
                     "print('pids', len(pids))\n"
                     "try:\n"
                     "    os.kill(int(sys.argv[1]), 9)\n"
                     "    print('killed')\n"
                     "except OSError as e:\n"
                     "    print('kill failed', type(e).__name__)\n",
                     [] {
                       SandboxOptions o = quick_limits();
                       o.program_args = {std::to_string(getpid())};
                       return o;
                     }());
  EXPECT_TRUE(r.ok()) << r.stderr_text;
  EXPECT_NE(r.stdout_text.find("kill failed"), std::string::npos) << r.stdout_text;
  // Its own /proc: the sandbox's init and the program only.
  EXPECT_NE(r.stdout_text.find("pids 2\n"), std::string::npos) << r.stdout_text;
}

TEST(SandboxHostile, BadArgumentsAreRejected) {
  EXPECT_THROW(run_in_sandbox({}, "", quick_limits()), std::invalid_argument);
  EXPECT_THROW(run_in_sandbox({{"../x.py", "pass"}}, "", quick_limits()), std::invalid_argument);
  SandboxOptions o = quick_limits();
  o.limits.wall_seconds = 0;
  EXPECT_THROW(run_in_sandbox({{"x.py", "pass"}}, "", o), std::invalid_argument);
  SandboxOptions missing = quick_limits();
  missing.python = "/nonexistent/python3";
  REQUIRE_SANDBOX();  // else the missing namespaces are the error
  try {
    run_in_sandbox({{"x.py", "pass"}}, "", missing);
    ADD_FAILURE() << "a missing interpreter ran";
  } catch (const SandboxError& e) {
    EXPECT_NE(std::string(e.what()).find("exec the interpreter: No such file or directory"), std::string::npos)
        << e.what();
  }
}

TEST(SandboxHostile, ParallelRunsDoNotInterfere) {
  REQUIRE_SANDBOX();
  std::vector<SandboxResult> results(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&results, i] { results[i] = run("print(" + std::to_string(i) + " * 7)\n"); });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(results[i].ok()) << results[i].stderr_text;
    EXPECT_EQ(results[i].stdout_text, std::to_string(i * 7) + "\n");
  }
}

// Runs on different threads proceed independently: a slow run started while a quick
// one is under way does not hold the quick one up (no lock serialises runs, and no
// run's end-of-file waits for another's processes).
TEST(SandboxHostile, AQuickRunFinishesWhileAnotherTimesOut) {
  REQUIRE_SANDBOX();
  SandboxResult slow, quick;
  double quick_took = 0;
  std::thread q([&] {
    const auto t0 = std::chrono::steady_clock::now();
    quick = run("import time\ntime.sleep(0.5)\nprint('quick')\n");
    quick_took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  std::thread s([&] {
    SandboxOptions o = quick_limits();
    o.limits.wall_seconds = 3;
    slow = run("import time\ntime.sleep(60)\n", o);
  });
  q.join();
  s.join();
  EXPECT_TRUE(quick.ok()) << quick.stderr_text;
  // Had it waited for the slow run, it could not have ended before the slow one was
  // killed, 0.15 s + its 3 s wall limit after the quick one started.
  EXPECT_LT(quick_took, 0.15 + 3.0) << "the quick run waited for the slow one";
  EXPECT_EQ(quick.limit, LimitHit::kNone) << limit_name(quick.limit);
  EXPECT_EQ(slow.limit, LimitHit::kWallTime);
}

}  // namespace
}  // namespace disa::llm::verify
