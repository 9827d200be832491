#include "worker-agent/runner/tool_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <utility>
#include <vector>

#include "worker-agent/runner/task_box.h"
#include "worker-agent/runner/tool_keeper.h"

namespace autovibe::runner {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    Reset();
    fd_ = other.Release();
  }
  return *this;
}

int UniqueFd::Release() { return std::exchange(fd_, -1); }

void UniqueFd::Reset() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

namespace {

Error SystemError(ErrorCode code, const std::string& what, int err) {
  return MakeError(code, what + ": " + std::strerror(err));
}

// Close-on-exec, so a process another thread starts meanwhile does not keep our pipe ends
// open; and above stdio, so the child's dup2 onto 0-2 never clobbers one of them.
Result<UniqueFd> RaiseAboveStdio(int fd) {
  UniqueFd owned(fd);
  if (fd > 2) return owned;
  const int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (moved < 0) return SystemError(ErrorCode::kUnavailable, "cannot move a descriptor", errno);
  return UniqueFd(moved);
}

struct Pipe {
  UniqueFd read, write;
};

Result<Pipe> MakePipe(bool nonblocking_read) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    return SystemError(ErrorCode::kUnavailable, "cannot create a pipe", errno);
  auto read_end = RaiseAboveStdio(fds[0]);
  auto write_end = RaiseAboveStdio(fds[1]);
  if (!read_end) return read_end.error();
  if (!write_end) return write_end.error();
  if (nonblocking_read) fcntl(read_end->get(), F_SETFL, O_NONBLOCK);
  return Pipe{std::move(*read_end), std::move(*write_end)};
}

bool IsExecutableFile(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
}

bool HasNul(const std::string& s) { return s.find('\0') != std::string::npos; }

Result<void> CheckOptions(const ToolProcessOptions& o) {
  if (o.argv.empty() || o.argv[0].empty())
    return MakeError(ErrorCode::kBadTask, "the tool has no command");
  for (const auto& arg : o.argv) {
    if (HasNul(arg)) return MakeError(ErrorCode::kBadTask, "a tool argument contains a NUL byte");
  }
  for (const auto& [key, value] : o.env) {
    if (key.empty() || key.find('=') != std::string::npos || HasNul(key) || HasNul(value)) {
      return MakeError(ErrorCode::kBadTask, "bad environment variable name \"" + key + "\"");
    }
  }
  struct stat st {};
  if (o.cwd.empty() || HasNul(o.cwd) || stat(o.cwd.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return MakeError(ErrorCode::kNotFound, "working directory \"" + o.cwd + "\" does not exist");
  }
  return {};
}

void AddLimit(KeeperPlan& plan, int resource, uint64_t value, bool wanted) {
  if (wanted) plan.limits[plan.limit_count++] = KeeperLimit{resource, static_cast<rlim_t>(value)};
}

void AddLimits(KeeperPlan& plan, const ResourceLimits& l) {
  AddLimit(plan, RLIMIT_AS, l.address_space_bytes, l.address_space_bytes > 0);
  AddLimit(plan, RLIMIT_CPU, l.cpu_seconds, l.cpu_seconds > 0);
  AddLimit(plan, RLIMIT_FSIZE, l.file_size_bytes, l.file_size_bytes > 0);
  AddLimit(plan, RLIMIT_NOFILE, l.open_files, l.open_files > 0);
  AddLimit(plan, RLIMIT_NPROC, l.processes, l.processes > 0);
  AddLimit(plan, RLIMIT_CORE, 0, l.no_core_dumps);
}

void FillBox(KeeperBox& k, const BoxLaunch& b) {
  k.enabled = true;
  k.uid = b.uid;
  k.gid = b.gid;
  k.stage = b.stage.c_str();
  for (const auto& [source, staged] : b.binds) {
    if (k.bind_count == KeeperBox::kMaxBinds) break;  // settings allow fewer
    k.bind_sources[k.bind_count] = source.c_str();
    k.stage_targets[k.bind_count++] = staged.c_str();
  }
  k.keep_fds[0] = b.passwd.get();
  k.keep_fds[1] = b.group.get();
  k.cgroup_procs = b.cgroup_procs.empty() ? nullptr : b.cgroup_procs.c_str();
  k.own_network = b.own_network;
  k.proxy_port = b.proxy_port;
  k.listener_channel = b.listener_channel.get();
}

Error StartFailure(const std::string& binary, const StartReport& report) {
  const int err = report.value;
  ErrorCode code = ErrorCode::kUnavailable;
  if (report.kind == kStageExec && (err == ENOEXEC || err == EACCES || err == E2BIG)) {
    code = ErrorCode::kBadTask;
  } else if ((report.kind == kStageExec || report.kind == kStageChdir) &&
             (err == ENOENT || err == ENOTDIR)) {
    code = ErrorCode::kNotFound;
  }
  return MakeError(code, "cannot start tool " + binary + ": " + KeeperStageName(report.kind) +
                             " failed: " + std::strerror(err));
}

void ReapBlocking(pid_t pid) {
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

// Reads the start pipe to EOF: the tool's pid, or the stage that failed.
Result<pid_t> AwaitStart(int fd, pid_t keeper, const std::string& binary) {
  pid_t tool = -1;
  StartReport failure;
  for (;;) {
    StartReport report;
    const ssize_t n = read(fd, &report, sizeof report);
    if (n < 0 && errno == EINTR) continue;
    if (n != static_cast<ssize_t>(sizeof report)) break;  // EOF: the tool was exec'd (or died)
    if (report.kind == kToolPid) {
      tool = report.value;
    } else if (failure.kind == 0) {
      failure = report;
    }
  }
  // A failed start leaves a keeper that exits at once (its tool already _exit'ed).
  if (failure.kind != 0) {
    ReapBlocking(keeper);
    return StartFailure(binary, failure);
  }
  if (tool <= 0) {
    ReapBlocking(keeper);
    return MakeError(ErrorCode::kUnavailable,
                     "the keeper of tool " + binary + " exited before starting it");
  }
  return tool;
}

}  // namespace

Result<std::string> ResolveToolBinary(const std::string& name,
                                      const std::map<std::string, std::string>& env,
                                      const std::string& cwd) {
  if (name.find('/') != std::string::npos) {
    const std::string path = name[0] == '/' ? name : cwd + "/" + name;
    if (IsExecutableFile(path)) return path;
    return MakeError(ErrorCode::kNotFound, "tool binary " + name + " not found or not executable");
  }
  const auto it = env.find("PATH");
  const std::string path_env = it == env.end() ? "" : it->second;
  size_t begin = 0;
  while (it != env.end() && begin <= path_env.size()) {
    size_t end = path_env.find(':', begin);
    if (end == std::string::npos) end = path_env.size();
    std::string dir = path_env.substr(begin, end - begin);
    // The tool is exec'd after chdir: relative entries are relative to its directory.
    if (dir.empty() || dir[0] != '/') dir = dir.empty() ? cwd : cwd + "/" + dir;
    const std::string candidate = dir + "/" + name;
    if (IsExecutableFile(candidate)) return candidate;
    begin = end + 1;
  }
  return MakeError(
      ErrorCode::kNotFound,
      "tool binary " + name + " not found on PATH (" +
          (it == env.end() ? "no PATH in the tool's environment" : "PATH=" + path_env) + ")");
}

Result<SpawnedTool> SpawnTool(const ToolProcessOptions& options) {
  if (auto ok = CheckOptions(options); !ok) return ok.error();
  std::error_code ec;
  const std::string cwd = std::filesystem::absolute(options.cwd, ec).string();
  if (ec)
    return MakeError(ErrorCode::kNotFound,
                     "working directory \"" + options.cwd + "\": " + ec.message());
  auto path = ResolveToolBinary(options.argv[0], options.env, cwd);
  if (!path) return path.error();

  // Everything the child reads is built now: after fork it may not allocate.
  std::vector<std::string> env_strings;
  for (const auto& [key, value] : options.env) env_strings.push_back(key + "=" + value);
  std::vector<char*> argv, envp;
  const runner::BoxLaunch* box = options.box.get();
  std::vector<std::string> boxed_argv;
  if (box != nullptr) {
    // bwrap runs the tool by the path found here: the box sees the same system paths.
    boxed_argv = box->bwrap_args;
    boxed_argv.push_back(*path);
    boxed_argv.insert(boxed_argv.end(), options.argv.begin() + 1, options.argv.end());
  }
  for (const auto& arg : box != nullptr ? boxed_argv : options.argv) {
    argv.push_back(const_cast<char*>(arg.c_str()));
  }
  argv.push_back(nullptr);
  for (auto& entry : env_strings) envp.push_back(entry.data());
  envp.push_back(nullptr);

  auto out = MakePipe(true);
  auto err = MakePipe(true);
  auto start = MakePipe(false);
  auto status = MakePipe(true);
  if (!out) return out.error();
  if (!err) return err.error();
  if (!start) return start.error();
  if (!status) return status.error();
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) return SystemError(ErrorCode::kUnavailable, "cannot open /dev/null", errno);
  auto dev_null = RaiseAboveStdio(null_fd);
  if (!dev_null) return dev_null.error();

  KeeperPlan plan;
  plan.path = box != nullptr ? box->bwrap_args[0].c_str() : path->c_str();
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.cwd = cwd.c_str();
  plan.stdin_fd = dev_null->get();
  plan.stdout_fd = out->write.get();
  plan.stderr_fd = err->write.get();
  plan.start_fd = start->write.get();
  plan.status_fd = status->write.get();
  plan.agent = getpid();
  AddLimits(plan, options.limits);
  if (box != nullptr) FillBox(plan.box, *box);

  // Blocked across fork so no agent signal handler can run in the child before the keeper
  // takes over its signals.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &previous);
  const pid_t keeper = _Fork();  // no atfork handlers: the child runs only RunKeeper
  if (keeper == 0) RunKeeper(plan);
  const int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (keeper < 0)
    return SystemError(ErrorCode::kUnavailable, "cannot fork the tool's keeper", fork_errno);

  // Only the child may hold the write ends, or EOF would never come.
  out->write.Reset();
  err->write.Reset();
  start->write.Reset();
  status->write.Reset();
  dev_null->Reset();

  auto tool = AwaitStart(start->read.get(), keeper, options.argv[0]);
  if (!tool) return tool.error();
  return SpawnedTool{keeper, *tool, std::move(out->read), std::move(err->read),
                     std::move(status->read)};
}

}  // namespace autovibe::runner
