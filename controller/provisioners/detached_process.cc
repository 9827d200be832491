#include "controller/provisioners/detached_process.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>

#include "common/core/files.h"

namespace autovibe {
namespace {

// Reads exactly `n` bytes unless EOF comes first; returns how many were read.
size_t ReadFull(int fd, void* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, static_cast<char*>(buf) + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  return got;
}

void WriteAll(int fd, const void* buf, size_t n) {
  const char* p = static_cast<const char*>(buf);
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w;
    n -= static_cast<size_t>(w);
  }
}

}  // namespace

Result<pid_t> SpawnDetached(const DetachedSpawn& spawn) {
  if (spawn.argv.empty()) return MakeError(ErrorCode::kBadRequest, "nothing to start");
  if (access(spawn.argv[0].c_str(), X_OK) != 0) {
    return MakeError(ErrorCode::kNotFound,
                     "cannot run " + spawn.argv[0] + ": " + std::string(std::strerror(errno)));
  }
  // Everything the children need is prepared before fork: they only call async-signal-safe
  // functions.
  std::vector<char*> argv;
  for (const std::string& a : spawn.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int log = open(spawn.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log < 0) {
    return MakeError(ErrorCode::kUnavailable,
                     "cannot open " + spawn.log_path + ": " + std::string(std::strerror(errno)));
  }
  int null_in = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int p[2];
  if (null_in < 0 || pipe2(p, O_CLOEXEC) != 0) {
    const int err = errno;
    close(log);
    if (null_in >= 0) close(null_in);
    return MakeError(ErrorCode::kUnavailable,
                     "cannot start a process: " + std::string(std::strerror(err)));
  }
  // The pipe carries the grandchild's pid (from the middle child), then an errno if exec
  // fails; it reaches EOF when exec succeeds (close-on-exec) or everything died.
  const pid_t middle = fork();
  if (middle < 0) {
    const int err = errno;
    close(log), close(null_in), close(p[0]), close(p[1]);
    return MakeError(ErrorCode::kUnavailable, "fork: " + std::string(std::strerror(err)));
  }
  if (middle == 0) {
    close(p[0]);
    setsid();
    const pid_t child = fork();
    if (child < 0) _exit(1);
    if (child > 0) {
      WriteAll(p[1], &child, sizeof child);
      _exit(0);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    if (dup2(null_in, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0) _exit(127);
    // Nothing of the controller's (its listening socket, its database) leaks into the program,
    // whatever a library opened without close-on-exec.
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    if (!spawn.cwd.empty() && chdir(spawn.cwd.c_str()) != 0) {
      int err = errno;
      WriteAll(p[1], &err, sizeof err);
      _exit(127);
    }
    execv(argv[0], argv.data());
    int err = errno;
    WriteAll(p[1], &err, sizeof err);
    _exit(127);
  }
  close(p[1]);
  close(log);
  close(null_in);
  int status = 0;
  while (waitpid(middle, &status, 0) < 0 && errno == EINTR) {
  }
  pid_t child = -1;
  const bool have_pid = ReadFull(p[0], &child, sizeof child) == sizeof child;
  int err = 0;
  const bool failed = ReadFull(p[0], &err, sizeof err) == sizeof err;
  close(p[0]);
  if (!have_pid) return MakeError(ErrorCode::kUnavailable, "could not start " + spawn.argv[0]);
  if (failed) {
    return MakeError(ErrorCode::kUnavailable,
                     "cannot run " + spawn.argv[0] + ": " + std::string(std::strerror(err)));
  }
  return child;
}

namespace {

// Whether a /proc/<pid>/cmdline holds `marker` as one whole argument.
bool HasArg(std::string_view cmdline, const std::string& marker) {
  size_t start = 0;
  while (start < cmdline.size()) {
    size_t end = cmdline.find('\0', start);
    if (end == std::string::npos) end = cmdline.size();
    if (cmdline.substr(start, end - start) == marker) return true;
    start = end + 1;
  }
  return false;
}

}  // namespace

bool ProcessHasArg(pid_t pid, const std::string& marker) {
  if (pid <= 0) return false;
  auto cmdline = ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
  return cmdline && HasArg(*cmdline, marker);
}

bool ProcessGone(pid_t pid, const std::string& marker) {
  auto stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return true;
  // "pid (comm) S ...": the state follows the last ')'.
  const size_t close = stat->rfind(')');
  if (close == std::string::npos || close + 2 >= stat->size()) return true;
  const char state = (*stat)[close + 2];
  if (state == 'Z' || state == 'X') return true;
  // On its way out a process shows no arguments yet is not gone; another one's means the pid
  // was reaped and given to someone else.
  // One read: a second could find the process already on its way out.
  auto cmdline = ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
  return cmdline && !cmdline->empty() && !HasArg(*cmdline, marker);
}

pid_t FindProcessWithArg(const std::string& marker) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    pid_t pid = 0;
    auto [end, err] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (err != std::errc() || end != name.data() + name.size()) continue;
    if (ProcessHasArg(pid, marker)) return pid;
  }
  return 0;
}

}  // namespace autovibe
