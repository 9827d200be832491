#include "controller/provisioners/run_program.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace autovibe {
namespace {

constexpr size_t kKeepOutput = 64 * 1024;

std::string LastLine(const std::string& out) {
  size_t end = out.find_last_not_of(" \r\n");
  if (end == std::string::npos) return "";
  size_t start = out.rfind('\n', end);
  start = start == std::string::npos ? 0 : start + 1;
  return out.substr(start, std::min<size_t>(end + 1 - start, 300));
}

}  // namespace

Result<std::string> RunProgram(const ProgramRun& run) {
  if (run.argv.empty()) return MakeError(ErrorCode::kBadRequest, "nothing to run");
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return MakeError(ErrorCode::kUnavailable, "pipe: " + std::string(std::strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  std::vector<char*> argv;
  for (const std::string& a : run.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int err = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (err != 0) {
    close(fds[0]);
    return MakeError(err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kUnavailable,
                     "cannot run " + run.argv[0] + ": " + std::strerror(err));
  }
  std::string out;
  bool timed_out = false;
  const auto deadline = std::chrono::steady_clock::now() + run.timeout;
  char buf[8192];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    const ssize_t n = read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > 2 * kKeepOutput) out.erase(0, out.size() - kKeepOutput);
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (out.size() > kKeepOutput) out.erase(0, out.size() - kKeepOutput);
  if (timed_out) {
    return MakeError(ErrorCode::kTimeout, run.argv[0] + " did not finish within " +
                                              std::to_string(run.timeout.count() / 1000) + " s");
  }
  if (WIFSIGNALED(status)) {
    return MakeError(ErrorCode::kFailed, run.argv[0] + " was killed by signal " +
                                             std::to_string(WTERMSIG(status)) + ": " +
                                             LastLine(out));
  }
  if (WEXITSTATUS(status) != 0) {
    return MakeError(
        ErrorCode::kFailed,
        run.argv[0] + " exited with " + std::to_string(WEXITSTATUS(status)) + ": " + LastLine(out));
  }
  return out;
}

}  // namespace autovibe
