// Runs an untrusted program (a model's Python) in a sandbox and reports how it ended.
//
// Isolation (Linux namespaces; see README "Code"): the program runs in a forked
// process tree with its own network namespace (only a downed loopback: no network),
// PID namespace (when the sandbox's init exits, the kernel kills every process left
// in it, so background children and fork bombs end with the run), mount namespace
// (the whole file tree read-only, a private size-capped tmpfs on /tmp, /var/tmp and
// /dev/shm, the program's working directory inside it, `hidden_paths` covered by
// empty mounts), and IPC/UTS namespaces. As
// root the program then runs as an unprivileged uid of its own; without root
// a user namespace maps the caller to root inside and every capability is dropped
// before exec. Both ways RLIMIT_NPROC is enforced, which contains a fork bomb, and a
// seccomp filter refuses the memory RLIMIT_AS does not count (memfd_create, SysV shared
// memory and message queues, raised socket buffers).
// Limits: wall clock (poll, then SIGKILL of the whole tree), CPU seconds, address
// space, file size, open files, processes, no core dumps, and a cap on the bytes of
// stdout plus stderr kept (over it: killed, "output limit").
//
// If a namespace cannot be created the run fails closed (SandboxError) unless
// `allow_unisolated` is set, which runs with the rlimits and process-group kill only
// (for machines that forbid namespaces, e.g. default Docker; the program can then
// reach the network and write where the caller can).
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace disa::llm::verify {

// The sandbox itself could not be set up (not the program's fault).
class SandboxError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct SandboxLimits {
  double wall_seconds = 6.0;
  int cpu_seconds = 5;                         // RLIMIT_CPU soft; SIGKILL one second later
  std::size_t memory_bytes = 1024ull << 20;    // RLIMIT_AS
  std::size_t file_bytes = 16ull << 20;        // RLIMIT_FSIZE, per file
  std::size_t tmpfs_bytes = 64ull << 20;       // size of the private /tmp
  std::size_t output_bytes = 1ull << 20;       // stdout + stderr kept; more kills the run
  int max_processes = 64;                      // RLIMIT_NPROC
  int max_open_files = 256;                    // RLIMIT_NOFILE
};

struct SandboxOptions {
  SandboxLimits limits;
  std::string python = "/usr/bin/python3";
  // As root the program runs as uid and gid sandbox_uid_base + the launcher's pid:
  // a uid of its own, so RLIMIT_NPROC counts only this run's processes (a fork bomb
  // in one run cannot starve another) and no run can touch another's files.
  unsigned sandbox_uid_base = 1u << 30;
  bool allow_unisolated = false;  // run without namespaces where they cannot be made
  std::vector<std::string> program_args;  // after the program's name (its sys.argv[1:])
  // Absolute paths the program must not read (answer keys: the benchmark files, the
  // records being scored): inside the sandbox a directory is covered by an empty
  // read-only tmpfs and a file by /dev/null; a path that does not exist is skipped.
  // run_in_sandbox refuses "/" and a path holding the interpreter (std::invalid_argument).
  // Unisolated runs cannot hide anything.
  std::vector<std::string> hidden_paths;
};

// Adds `path`, made absolute and canonical, to options.hidden_paths when it can be
// hidden: not "/" and not holding the interpreter (options.python as given or with its
// links resolved). Returns whether it was added.
bool add_hidden_path(SandboxOptions& options, const std::filesystem::path& path);

enum class LimitHit { kNone, kWallTime, kCpuTime, kOutput, kMemory };

std::string_view limit_name(LimitHit l);  // "none", "timeout", "cpu time limit", ...

struct SandboxResult {
  bool exited = false;       // ended by exit(); else by a signal
  int exit_code = -1;        // when exited
  int signal = 0;            // when killed
  LimitHit limit = LimitHit::kNone;
  std::string stdout_text;   // at most limits.output_bytes of stdout and stderr together
  std::string stderr_text;
  double wall_seconds = 0;
  double cpu_seconds = 0;    // user + system of the program and the children it waited for
  bool isolated = true;      // false when allow_unisolated was used

  bool ok() const { return exited && exit_code == 0 && limit == LimitHit::kNone; }
};

// One file the program can read in its working directory (the program itself, a
// test harness); `name` has no '/'.
struct SandboxFile {
  std::string name;
  std::string content;
};

// Runs `python <files[0].name>` with `files` in a fresh working directory and
// `stdin_text` as its standard input. Thread-safe (each run is its own process tree).
// Throws SandboxError when the sandbox cannot be built, std::invalid_argument for a
// bad file name or empty `files`.
SandboxResult run_in_sandbox(const std::vector<SandboxFile>& files, const std::string& stdin_text,
                             const SandboxOptions& options);

// nullopt when namespaces work here; else the reason (for tests to skip with).
std::optional<std::string> sandbox_unavailable_reason(const SandboxOptions& options = {});

}  // namespace disa::llm::verify
