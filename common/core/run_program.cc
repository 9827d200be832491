#include "common/core/run_program.h"

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

void KeepTail(std::string& s) {
  if (s.size() > 2 * kKeepOutput) s.erase(0, s.size() - kKeepOutput);
}

struct Pipe {
  int read = -1, write = -1;
};

Result<Pipe> MakePipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return MakeError(ErrorCode::kUnavailable, "pipe: " + std::string(std::strerror(errno)));
  }
  return Pipe{fds[0], fds[1]};
}

// What the child printed, read until both pipes close or the deadline passes.
struct Output {
  std::string out, err;
  bool timed_out = false;
  bool too_large = false;
};

void ReadUntilClosed(pid_t pid, int out_fd, int err_fd, const ProgramRun& run, Output& o) {
  const auto deadline = std::chrono::steady_clock::now() + run.timeout;
  char buf[16384];
  while (out_fd >= 0 || err_fd >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      o.timed_out = true;
      kill(pid, SIGKILL);
      return;
    }
    pollfd p[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
    const int ready = poll(p, 2, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (ready <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      int& fd = i == 0 ? out_fd : err_fd;
      if (fd < 0 || p[i].revents == 0) continue;
      const ssize_t n = read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        fd = -1;
        continue;
      }
      std::string& into = i == 0 && run.stdout_apart ? o.out : o.err;
      into.append(buf, static_cast<size_t>(n));
      if (i == 0 && run.stdout_apart) {
        if (o.out.size() > run.max_stdout) {
          o.too_large = true;
          kill(pid, SIGKILL);
          return;
        }
      } else {
        KeepTail(into);
      }
    }
  }
}

}  // namespace

Result<std::string> RunProgram(const ProgramRun& run) {
  if (run.argv.empty()) return MakeError(ErrorCode::kBadRequest, "nothing to run");
  auto err_pipe = MakePipe();
  if (!err_pipe) return err_pipe.error();
  auto out_pipe = run.stdout_apart && run.stdout_path.empty() ? MakePipe() : Result<Pipe>(Pipe{});
  if (!out_pipe) {
    close(err_pipe->read);
    close(err_pipe->write);
    return out_pipe.error();
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  if (!run.stdout_path.empty()) {
    posix_spawn_file_actions_addopen(&actions, 1, run.stdout_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600);
  } else {
    posix_spawn_file_actions_adddup2(&actions,
                                     out_pipe->write >= 0 ? out_pipe->write : err_pipe->write, 1);
  }
  posix_spawn_file_actions_adddup2(&actions, err_pipe->write, 2);
  if (!run.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, run.cwd.c_str());
  std::vector<char*> argv;
  for (const std::string& a : run.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  if (run.env) {
    for (const std::string& e : *run.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
  }
  pid_t pid = -1;
  const int err =
      posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), run.env ? envp.data() : environ);
  posix_spawn_file_actions_destroy(&actions);
  close(err_pipe->write);
  if (out_pipe->write >= 0) close(out_pipe->write);
  if (err != 0) {
    close(err_pipe->read);
    if (out_pipe->read >= 0) close(out_pipe->read);
    return MakeError(err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kUnavailable,
                     "cannot run " + run.argv[0] + ": " + std::strerror(err));
  }
  Output o;
  ReadUntilClosed(pid, out_pipe->read, err_pipe->read, run, o);
  close(err_pipe->read);
  if (out_pipe->read >= 0) close(out_pipe->read);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (o.err.size() > kKeepOutput) o.err.erase(0, o.err.size() - kKeepOutput);
  if (o.timed_out) {
    return MakeError(ErrorCode::kTimeout, run.argv[0] + " did not finish within " +
                                              std::to_string(run.timeout.count() / 1000) + " s");
  }
  if (o.too_large) {
    return MakeError(ErrorCode::kTooLarge, run.argv[0] + " printed more than " +
                                               std::to_string(run.max_stdout) + " bytes");
  }
  if (WIFSIGNALED(status)) {
    return MakeError(ErrorCode::kFailed, run.argv[0] + " was killed by signal " +
                                             std::to_string(WTERMSIG(status)) + ": " +
                                             LastLine(o.err));
  }
  if (WEXITSTATUS(status) != 0) {
    return MakeError(ErrorCode::kFailed, run.argv[0] + " exited with " +
                                             std::to_string(WEXITSTATUS(status)) + ": " +
                                             LastLine(o.err));
  }
  return run.stdout_apart ? std::move(o.out) : std::move(o.err);
}

}  // namespace autovibe
