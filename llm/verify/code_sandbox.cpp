// The process tree of one sandboxed run (see code_sandbox.h):
//
//   caller ── fork ──> launcher (new session; unshare net, pid, mount, ipc, uts
//                       [+ user when not root]) ── fork ──> init (pid 1 of the new
//                       namespace: mounts, writes the files) ── fork ──> program
//                       (rlimits, unprivileged, exec python)
//
// The init waits for the program, reports its wait status on a pipe and exits; the
// kernel then kills everything left in the PID namespace. The caller reads stdout and
// stderr with poll until they close or a limit is hit, when it SIGKILLs the init (the
// launcher reported its pid), which takes the namespace with it. The launcher reaps
// the init only once the namespace is empty, so the caller's wait for the launcher
// returns when no process of the run is left.
//
// Between fork and exec the children only make system calls on memory prepared
// before the fork, since the caller may be multithreaded (no malloc, no locks).
#include "llm/verify/code_sandbox.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/securebits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <grp.h>
#include <stdexcept>

namespace disa::llm::verify {
namespace {

// Everything the children use, built before fork.
struct ChildPlan {
  bool isolated = true;
  bool as_root = false;
  int status_fd = -1;  // write end: 'E' + message on a setup failure, 'S' + wait status
  int stdout_fd = -1;
  int stderr_fd = -1;
  std::string uid_map, gid_map;
  std::string tmpfs_options;
  std::vector<std::string> hidden_paths;  // canonical, checked by run_in_sandbox
  std::string work_dir;
  std::vector<std::string> file_paths;  // work_dir/name
  const std::vector<SandboxFile>* files = nullptr;
  std::string stdin_path;
  const std::string* stdin_text = nullptr;
  std::vector<std::string> argv_storage, env_storage;
  std::vector<char*> argv, envp;
  const SandboxOptions* options = nullptr;
  uid_t run_uid = 0;  // as root: set by the launcher (sandbox_uid_base + its pid)
};

// Child-side failure: report "what: errno text" on the status pipe and exit.
[[noreturn]] void child_fail(const ChildPlan& plan, const char* what) {
  const int err = errno;
  char buf[2 + 255];
  const int n = std::snprintf(buf + 2, sizeof buf - 2, "%s: %s", what, strerror(err));
  const int length = std::clamp(n, 0, 254);
  buf[0] = 'E';
  buf[1] = static_cast<char>(length);
  (void)!write(plan.status_fd, buf, static_cast<std::size_t>(2 + length));
  _exit(127);
}

bool write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

void write_file_or_fail(const ChildPlan& plan, const char* path, const std::string& text, const char* what) {
  const int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || !write_all(fd, text.data(), text.size())) child_fail(plan, what);
  close(fd);
}

// A fresh tmpfs on `dir` if it exists (a system without /dev/shm is fine).
void mount_private_tmpfs(const ChildPlan& plan, const char* dir) {
  struct stat st {};
  if (stat(dir, &st) != 0) return;
  if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, plan.tmpfs_options.c_str()) != 0) {
    child_fail(plan, "mount a private tmpfs");
  }
}

// Covers an answer key on the host: a directory with an empty read-only tmpfs, a file
// with /dev/null (the bind keeps the read-only flag of its source). A path that does
// not exist (or that the caller cannot even stat) has nothing to show.
void hide_path(const ChildPlan& plan, const char* path) {
  struct stat st {};
  if (stat(path, &st) != 0) return;
  const int rc = S_ISDIR(st.st_mode) ? mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                                             "size=4k,mode=0555")
                                     : mount("/dev/null", path, nullptr, MS_BIND, nullptr);
  if (rc != 0) child_fail(plan, "hide a path from the program");
}

// In the new mount namespace: nothing propagates out, everything read-only and
// nosuid, the hidden paths covered, private tmpfs where programs write, a /proc of the
// new PID namespace.
void set_up_mounts(const ChildPlan& plan) {
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) child_fail(plan, "make / private");
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID;
  if (syscall(SYS_mount_setattr, AT_FDCWD, "/", AT_RECURSIVE, &attr, sizeof attr) != 0) {
    child_fail(plan, "make the file tree read-only (mount_setattr, Linux >= 5.12)");
  }
  // Before the private tmpfs: a hidden path under /tmp is then covered by both.
  for (const std::string& path : plan.hidden_paths) hide_path(plan, path.c_str());
  mount_private_tmpfs(plan, "/tmp");
  mount_private_tmpfs(plan, "/var/tmp");
  mount_private_tmpfs(plan, "/dev/shm");
  // Best effort: without it the program sees the host's processes (read-only) but
  // cannot signal them from its PID namespace.
  (void)mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
}

// Not root in a user namespace: keep uid 0 there but with no capabilities, now or
// after exec, so the read-only mounts cannot be undone.
void drop_all_capabilities(const ChildPlan& plan) {
  if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                                   SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED) != 0) {
    child_fail(plan, "set securebits");
  }
  for (int cap = 0; cap <= 63; ++cap) {
    if (prctl(PR_CAPBSET_DROP, cap) != 0 && errno != EINVAL) child_fail(plan, "drop the capability bounding set");
  }
  (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capset, &header, data) != 0) child_fail(plan, "clear capabilities");
}

#if defined(__x86_64__)
constexpr std::uint32_t kAuditArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr std::uint32_t kAuditArch = AUDIT_ARCH_AARCH64;
#else
#error "code_sandbox: name this architecture's AUDIT_ARCH for the seccomp filter"
#endif

// The jump from BPF instruction `at` to `target` (relative, as BPF counts).
constexpr std::uint8_t bpf_jump(int at, int target) { return static_cast<std::uint8_t>(target - at - 1); }

// RLIMIT_AS counts mapped memory only. A memfd (up to RLIMIT_FSIZE each, one per open
// file) or a SysV shared memory segment or message queue (the private IPC namespace
// has the kernel's default caps, hundreds of GiB) holds memory without a mapping:
// 160 memfds of 15 MiB grew the host's Shmem by 2.4 GB under a 1 GiB cap. So do the
// queues of a socket whose buffer the program raises (SO_SNDBUF up to net.core.wmem_max:
// 126 Unix socket pairs queued 1 GB on a host with wmem_max 4 MiB). These calls fail
// with ENOSYS, as on a kernel without them (setsockopt only for the buffer sizes); so
// does every call of another ABI (i386 int 0x80, x32), which could name them by other
// numbers. POSIX shm_open is a file in the 64 MiB /dev/shm tmpfs and stays allowed.
void install_seccomp_filter(const ChildPlan& plan) {
  constexpr std::uint32_t kDeny = SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA);
  constexpr int kAllowAt = 17, kDenyAt = 18;  // the two verdicts, last
  // Syscall arguments are 64-bit; the kernel reads level and optname as ints, the low
  // word on these little-endian ABIs.
  constexpr std::uint32_t kLevel = offsetof(seccomp_data, args) + 1 * sizeof(std::uint64_t);
  constexpr std::uint32_t kOptname = offsetof(seccomp_data, args) + 2 * sizeof(std::uint64_t);
  static const sock_filter filter[] = {
      /* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kAuditArch, bpf_jump(1, 3), 0),
      /* 2 */ BPF_STMT(BPF_RET | BPF_K, kDeny),
      /* 3 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
#if defined(__x86_64__)
      /* 4 */ BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, __X32_SYSCALL_BIT, bpf_jump(4, kDenyAt), 0),
#else
      /* 4 */ BPF_JUMP(BPF_JMP | BPF_JA, 0, 0, 0),  // no x32: on to 5
#endif
      /* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_memfd_create, bpf_jump(5, kDenyAt), 0),
      /* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_memfd_secret, bpf_jump(6, kDenyAt), 0),
      /* 7 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_shmget, bpf_jump(7, kDenyAt), 0),
      /* 8 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_msgget, bpf_jump(8, kDenyAt), 0),
      /* 9 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_setsockopt, 0, bpf_jump(9, kAllowAt)),
      /* 10 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kLevel),
      /* 11 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SOL_SOCKET, 0, bpf_jump(11, kAllowAt)),
      /* 12 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kOptname),
      /* 13 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SO_SNDBUF, bpf_jump(13, kDenyAt), 0),
      /* 14 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SO_RCVBUF, bpf_jump(14, kDenyAt), 0),
      /* 15 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SO_SNDBUFFORCE, bpf_jump(15, kDenyAt), 0),
      /* 16 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SO_RCVBUFFORCE, bpf_jump(16, kDenyAt), 0),
      /* 17 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      /* 18 */ BPF_STMT(BPF_RET | BPF_K, kDeny),
  };
  static_assert(sizeof filter / sizeof filter[0] == kDenyAt + 1);
  const sock_fprog program{static_cast<unsigned short>(sizeof filter / sizeof filter[0]),
                           const_cast<sock_filter*>(filter)};
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) child_fail(plan, "install the seccomp filter");
}

void set_limit(const ChildPlan& plan, int resource, rlim_t soft, rlim_t hard) {
  const rlimit r{soft, hard};
  if (setrlimit(resource, &r) != 0) child_fail(plan, "setrlimit");
}

[[noreturn]] void run_program(const ChildPlan& plan) {
  const SandboxLimits& l = plan.options->limits;
  const int in = open(plan.stdin_path.c_str(), O_RDONLY);
  if (in < 0 || dup2(in, 0) < 0 || dup2(plan.stdout_fd, 1) < 0 || dup2(plan.stderr_fd, 2) < 0) {
    child_fail(plan, "redirect stdio");
  }
  // Only 0-2 survive exec (the status pipe stays open until then).
  if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) child_fail(plan, "close_range");
  set_limit(plan, RLIMIT_CPU, static_cast<rlim_t>(l.cpu_seconds), static_cast<rlim_t>(l.cpu_seconds) + 1);
  set_limit(plan, RLIMIT_AS, l.memory_bytes, l.memory_bytes);
  set_limit(plan, RLIMIT_FSIZE, l.file_bytes, l.file_bytes);
  set_limit(plan, RLIMIT_NOFILE, static_cast<rlim_t>(l.max_open_files), static_cast<rlim_t>(l.max_open_files));
  set_limit(plan, RLIMIT_NPROC, static_cast<rlim_t>(l.max_processes), static_cast<rlim_t>(l.max_processes));
  set_limit(plan, RLIMIT_CORE, 0, 0);
  if (plan.as_root) {
    // Root ignores RLIMIT_NPROC and file permissions; the sandbox uid does not. Root
    // of a user namespace that maps no such uid (rootless containers: EINVAL) stays
    // uid 0 there, without capabilities, which RLIMIT_NPROC also binds.
    const uid_t uid = plan.run_uid;
    if (setgid(uid) == 0) {
      if (setgroups(0, nullptr) != 0 && errno != EPERM) child_fail(plan, "drop supplementary groups");
      if (setuid(uid) != 0) child_fail(plan, "drop to the sandbox uid");
    } else if (errno == EINVAL) {
      drop_all_capabilities(plan);
    } else {
      child_fail(plan, "drop to the sandbox gid");
    }
  } else if (plan.isolated) {
    drop_all_capabilities(plan);
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) child_fail(plan, "no_new_privs");
  install_seccomp_filter(plan);  // after no_new_privs, which an unprivileged filter needs
  if (chdir(plan.work_dir.c_str()) != 0) child_fail(plan, "chdir to the work directory");
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGPIPE, SIG_DFL);
  execve(plan.argv[0], plan.argv.data(), plan.envp.data());
  child_fail(plan, "exec the interpreter");
}

// pid 1 of the new PID namespace (or a plain child when unisolated).
[[noreturn]] void run_init(const ChildPlan& plan) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (plan.isolated) set_up_mounts(plan);
  if (plan.isolated && mkdir(plan.work_dir.c_str(), 0755) != 0) child_fail(plan, "create the work directory");
  for (std::size_t i = 0; i < plan.files->size(); ++i) {
    write_file_or_fail(plan, plan.file_paths[i].c_str(), (*plan.files)[i].content, "write a program file");
  }
  write_file_or_fail(plan, plan.stdin_path.c_str(), *plan.stdin_text, "write the input file");
  if (plan.as_root) {
    const uid_t uid = plan.run_uid;
    // EINVAL: a user namespace without that uid (see run_program); the program stays uid 0.
    if (chown(plan.work_dir.c_str(), uid, uid) != 0 && errno != EINVAL) child_fail(plan, "chown the work directory");
  }
  const pid_t program = fork();
  if (program < 0) child_fail(plan, "fork the program");
  if (program == 0) run_program(plan);
  int status = 0;
  while (waitpid(program, &status, 0) < 0 && errno == EINTR) {
  }
  char msg[1 + sizeof status];
  msg[0] = 'S';
  std::memcpy(msg + 1, &status, sizeof status);
  (void)!write(plan.status_fd, msg, sizeof msg);
  _exit(0);  // as pid 1: the kernel now kills whatever the program left behind
}

// The fork copied every descriptor of the caller, which may include the write end of
// a pipe another thread has just made for its own run (before its caller closed it);
// holding it would delay that run's end-of-file until this one ends, and leaks the
// caller's files into the sandbox. Keep 0-2 and this run's three pipes only.
void close_other_fds(const ChildPlan& plan) {
  int keep[3] = {plan.stdout_fd, plan.stderr_fd, plan.status_fd};
  std::sort(keep, keep + 3);
  unsigned from = 3;
  for (int fd : keep) {
    if (static_cast<unsigned>(fd) > from) syscall(SYS_close_range, from, static_cast<unsigned>(fd) - 1, 0);
    from = std::max(from, static_cast<unsigned>(fd) + 1);
  }
  syscall(SYS_close_range, from, ~0U, 0);
}

[[noreturn]] void run_launcher(ChildPlan& plan, pid_t caller) {
  close_other_fds(plan);
  plan.run_uid = plan.options->sandbox_uid_base + static_cast<uid_t>(getpid());  // this process's copy
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != caller) _exit(127);  // the caller died before the prctl
  if (setsid() < 0) child_fail(plan, "setsid");
  if (plan.isolated) {
    int flags = CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS;
    if (!plan.as_root) flags |= CLONE_NEWUSER;
    if (unshare(flags) != 0) child_fail(plan, "unshare network/pid/mount namespaces");
    if (!plan.as_root) {
      write_file_or_fail(plan, "/proc/self/setgroups", "deny", "deny setgroups in the user namespace");
      write_file_or_fail(plan, "/proc/self/uid_map", plan.uid_map, "write uid_map");
      write_file_or_fail(plan, "/proc/self/gid_map", plan.gid_map, "write gid_map");
    }
  }
  const pid_t init = fork();
  if (init < 0) child_fail(plan, "fork the sandbox init");
  if (init == 0) run_init(plan);
  // The caller kills the init, not this process, on a limit: this process then reaps
  // the init only after the kernel has killed the whole namespace, so the caller's
  // wait for this process is a wait for every process of the run.
  char msg[1 + sizeof init];
  msg[0] = 'P';
  std::memcpy(msg + 1, &init, sizeof init);
  (void)!write(plan.status_fd, msg, sizeof msg);
  int status = 0;
  while (waitpid(init, &status, 0) < 0 && errno == EINTR) {
  }
  _exit(0);
}

// The status pipe's messages: 'P' + the init's pid (from the launcher), 'S' + the
// program's wait status (from the init), 'E' + a length byte + a setup error (any).
struct StatusMessages {
  std::string pending;
  pid_t init = 0;
  std::optional<int> program_status;
  std::string error;

  void add(const char* data, std::size_t size) {
    pending.append(data, size);
    while (!pending.empty()) {
      if (pending[0] == 'E' && pending.size() >= 2 &&
          pending.size() >= 2 + static_cast<unsigned char>(pending[1])) {
        const std::size_t length = static_cast<unsigned char>(pending[1]);
        if (error.empty()) error = pending.substr(2, length);  // the first failure is the cause
        pending.erase(0, 2 + length);
      } else if (pending[0] == 'P' && pending.size() >= 1 + sizeof init) {
        std::memcpy(&init, pending.data() + 1, sizeof init);
        pending.erase(0, 1 + sizeof init);
      } else if (pending[0] == 'S' && pending.size() >= 1 + sizeof(int)) {
        int st = 0;
        std::memcpy(&st, pending.data() + 1, sizeof st);
        program_status = st;
        pending.erase(0, 1 + sizeof st);
      } else {
        break;  // a message still arriving
      }
    }
  }
};

// `inner` is `outer` or lies under it (both absolute and normal).
bool is_within(const std::filesystem::path& inner, const std::filesystem::path& outer) {
  auto o = outer.begin();
  for (auto i = inner.begin(); o != outer.end(); ++i, ++o) {
    if (o->empty()) continue;  // outer's trailing separator
    if (i == inner.end() || *i != *o) return false;
  }
  return true;
}

// Why `path` cannot be a hidden path ("" when it can): the program needs the root and
// the interpreter.
std::string unhideable_reason(const std::filesystem::path& path, const SandboxOptions& options) {
  namespace fs = std::filesystem;
  if (!path.is_absolute()) return "it is not absolute";
  std::error_code ec, python_ec;
  const fs::path hidden = fs::weakly_canonical(path, ec);
  if (ec) return ec.message();
  if (hidden == hidden.root_path()) return "it is the root";
  const fs::path resolved = fs::weakly_canonical(options.python, python_ec);
  for (const fs::path& python : {fs::path(options.python).lexically_normal(), python_ec ? fs::path() : resolved}) {
    if (python.is_absolute() && is_within(python, hidden)) return "it holds the interpreter " + python.string();
  }
  return "";
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void make_pipe(int fds[2]) {
  if (pipe2(fds, O_CLOEXEC) != 0) throw SandboxError(fmt::format("sandbox: pipe: {}", std::strerror(errno)));
}

}  // namespace

std::string_view limit_name(LimitHit l) {
  switch (l) {
    case LimitHit::kNone: return "none";
    case LimitHit::kWallTime: return "timeout";
    case LimitHit::kCpuTime: return "cpu time limit";
    case LimitHit::kOutput: return "output limit";
    case LimitHit::kMemory: return "memory limit";
  }
  return "?";
}

SandboxResult run_in_sandbox(const std::vector<SandboxFile>& files, const std::string& stdin_text,
                             const SandboxOptions& options) {
  if (files.empty()) throw std::invalid_argument("run_in_sandbox: files is empty (files[0] is the program)");
  for (const auto& f : files) {
    if (f.name.empty() || f.name.find('/') != std::string::npos || f.name == "." || f.name == "..") {
      throw std::invalid_argument(fmt::format("run_in_sandbox: file name '{}' must be a plain name", f.name));
    }
  }
  for (const auto& path : options.hidden_paths) {
    if (const std::string why = unhideable_reason(path, options); !why.empty()) {
      throw std::invalid_argument(fmt::format("run_in_sandbox: hidden path '{}' cannot be hidden: {}", path, why));
    }
  }
  const SandboxLimits& l = options.limits;
  if (!(l.wall_seconds > 0) || l.cpu_seconds <= 0 || l.max_processes <= 0 || l.output_bytes == 0) {
    throw std::invalid_argument(fmt::format(
        "run_in_sandbox: limits must be positive (wall_seconds {}, cpu_seconds {}, max_processes {}, output_bytes {})",
        l.wall_seconds, l.cpu_seconds, l.max_processes, l.output_bytes));
  }

  ChildPlan plan;
  plan.options = &options;
  plan.files = &files;
  plan.stdin_text = &stdin_text;
  plan.as_root = geteuid() == 0;
  plan.isolated = true;
  plan.uid_map = fmt::format("0 {} 1", geteuid());
  plan.gid_map = fmt::format("0 {} 1", getegid());
  plan.tmpfs_options = fmt::format("size={},mode=1777", l.tmpfs_bytes);
  for (const auto& path : options.hidden_paths) plan.hidden_paths.push_back(std::filesystem::weakly_canonical(path).string());
  plan.work_dir = "/tmp/sandbox";
  std::filesystem::path unisolated_dir;
  if (options.allow_unisolated) {
    // The caller asked to tolerate missing namespaces; find out whether they exist.
    // (A failed unshare in the launcher would otherwise be reported as an error.)
    static const bool namespaces_work = [&] {
      SandboxOptions probe = options;
      probe.allow_unisolated = false;
      try {
        run_in_sandbox({{"probe.py", ""}}, "", probe);
        return true;
      } catch (const SandboxError&) {
        return false;
      }
    }();
    plan.isolated = namespaces_work;
  }
  if (!plan.isolated) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "disa-sandbox-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw SandboxError(fmt::format("sandbox: mkdtemp: {}", std::strerror(errno)));
    unisolated_dir = tmpl;
    plan.work_dir = tmpl;
  }
  for (const auto& f : files) plan.file_paths.push_back(plan.work_dir + "/" + f.name);
  plan.stdin_path = plan.work_dir + "/.stdin";
  plan.argv_storage = {options.python, "-E", "-s", "-B", files[0].name};
  for (const auto& a : options.program_args) plan.argv_storage.push_back(a);
  plan.env_storage = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + plan.work_dir, "LANG=C.UTF-8",
                      "TMPDIR=" + plan.work_dir};
  for (auto& s : plan.argv_storage) plan.argv.push_back(s.data());
  plan.argv.push_back(nullptr);
  for (auto& s : plan.env_storage) plan.envp.push_back(s.data());
  plan.envp.push_back(nullptr);

  int out[2], err[2], status[2];
  make_pipe(out);
  make_pipe(err);
  make_pipe(status);
  plan.stdout_fd = out[1];
  plan.stderr_fd = err[1];
  plan.status_fd = status[1];

  const auto t0 = std::chrono::steady_clock::now();
  const pid_t caller = getpid();
  const pid_t launcher = fork();
  if (launcher < 0) {
    for (int fd : {out[0], out[1], err[0], err[1], status[0], status[1]}) close(fd);
    throw SandboxError(fmt::format("sandbox: fork: {}", std::strerror(errno)));
  }
  if (launcher == 0) run_launcher(plan, caller);
  close(out[1]);
  close(err[1]);
  close(status[1]);

  SandboxResult result;
  result.isolated = plan.isolated;
  StatusMessages status_msgs;
  std::size_t kept = 0;
  bool killed = false;
  double kill_time = 0;
  auto kill_tree = [&] {
    if (plan.isolated && status_msgs.init > 0) {
      kill(status_msgs.init, SIGKILL);  // pid 1 of the namespace: the kernel kills the rest
    } else {
      kill(-launcher, SIGKILL);  // launcher, init and the program, unless it left the group
      kill(launcher, SIGKILL);
    }
    killed = true;
    kill_time = seconds_since(t0);
  };
  pollfd fds[3] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}, {status[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.stdout_text, &result.stderr_text};
  int open_fds = 3;
  char buf[65536];
  while (open_fds > 0) {
    const double elapsed = seconds_since(t0);
    if (!killed && elapsed >= l.wall_seconds) {
      result.limit = LimitHit::kWallTime;
      kill_tree();
    }
    // Unisolated, an escaped grandchild may hold a pipe open: stop reading 1 s after
    // the kill (isolated, the wait for the launcher below is the real end).
    if (killed && elapsed > kill_time + 1.0) break;
    const double wait_s = killed ? 0.1 : std::max(0.0, l.wall_seconds - elapsed);
    const int n = poll(fds, 3, static_cast<int>(wait_s * 1000) + 1);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < 3; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t got = read(fds[i].fd, buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
        continue;
      }
      const auto size = static_cast<std::size_t>(got);
      if (i == 2) {
        status_msgs.add(buf, size);
        // Unisolated, the program's children may hold the pipes open: they end with it.
        if (!plan.isolated && status_msgs.program_status && !killed) kill_tree();
        continue;
      }
      const std::size_t room = l.output_bytes - std::min(kept, l.output_bytes);
      sinks[i]->append(buf, std::min(size, room));
      kept += std::min(size, room);
      if (size > room && !killed) {
        result.limit = LimitHit::kOutput;
        kill_tree();
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) close(f.fd);
  }
  // Unisolated there is no namespace to end the program's children: kill the group
  // (before reaping the launcher, whose pid names the group).
  if (!plan.isolated) kill(-launcher, SIGKILL);
  int launcher_status = 0;
  rusage usage{};
  while (wait4(launcher, &launcher_status, 0, &usage) < 0 && errno == EINTR) {
  }
  result.wall_seconds = seconds_since(t0);
  result.cpu_seconds = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                       static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
  if (!unisolated_dir.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(unisolated_dir, ec);
  }

  if (!status_msgs.error.empty()) {
    throw SandboxError("sandbox setup failed: " + status_msgs.error +
                       (plan.isolated ? " (are namespaces forbidden here? SandboxOptions::allow_unisolated, "
                                        "`disa llm verify --allow-unisolated`, runs without them)"
                                      : ""));
  }
  int program_status = 0;
  if (status_msgs.program_status) {
    program_status = *status_msgs.program_status;
  } else if (killed) {
    program_status = SIGKILL;  // as a wait status: killed by SIGKILL
  } else {
    throw SandboxError(fmt::format("sandbox: the launcher ended without a report (wait status {:#x})",
                                   launcher_status));
  }
  if (WIFEXITED(program_status)) {
    result.exited = true;
    result.exit_code = WEXITSTATUS(program_status);
  } else if (WIFSIGNALED(program_status)) {
    result.signal = WTERMSIG(program_status);
  }
  if (result.limit == LimitHit::kNone) {
    if (result.signal == SIGXCPU || (result.signal == SIGKILL && result.cpu_seconds >= l.cpu_seconds)) {
      result.limit = LimitHit::kCpuTime;
    } else if (!result.ok() && (result.stderr_text.find("MemoryError") != std::string::npos ||
                                result.stderr_text.find("Cannot allocate memory") != std::string::npos)) {
      // Python reports a failed allocation under RLIMIT_AS this way.
      result.limit = LimitHit::kMemory;
    }
  }
  return result;
}

bool add_hidden_path(SandboxOptions& options, const std::filesystem::path& path) {
  std::error_code ec;
  const std::filesystem::path absolute = std::filesystem::absolute(path, ec);
  if (ec || !unhideable_reason(absolute, options).empty()) return false;
  const std::filesystem::path canonical = std::filesystem::weakly_canonical(absolute, ec);
  if (ec) return false;
  options.hidden_paths.push_back(canonical.string());
  return true;
}

std::optional<std::string> sandbox_unavailable_reason(const SandboxOptions& options) {
  SandboxOptions probe = options;
  probe.allow_unisolated = false;
  try {
    const SandboxResult r = run_in_sandbox({{"probe.py", "print('ok')"}}, "", probe);
    if (!r.ok() || r.stdout_text != "ok\n") {
      return fmt::format("the probe program failed: exit {}, signal {}, stderr '{}'", r.exit_code, r.signal,
                         r.stderr_text.substr(0, 300));
    }
  } catch (const SandboxError& e) {
    return std::string(e.what());
  }
  return std::nullopt;
}

}  // namespace disa::llm::verify
