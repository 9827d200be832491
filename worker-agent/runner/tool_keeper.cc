#include "worker-agent/runner/tool_keeper.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "worker-agent/runner/keeper_box.h"

namespace autovibe::runner {
namespace {

// PR_SET_PDEATHSIG also fires when only the forking *thread* exits; the keeper then checks
// getppid() to tell that apart from the agent process dying.
constexpr int kAgentDeathSignal = SIGUSR2;

void Report(int fd, int32_t kind, int32_t value) {
  const StartReport report{kind, value};
  while (write(fd, &report, sizeof report) < 0 && errno == EINTR) {
  }
}

[[noreturn]] void Fail(int fd, KeeperStage stage) {
  Report(fd, stage, errno);
  _exit(127);
}

// Handlers point into the agent's code and SIG_IGN survives exec (an agent ignoring SIGPIPE
// would hand that to the tool): start from the defaults.
void ResetSignalDispositions() {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, nullptr);  // libc's own: EINVAL
  }
}

// Closes (or marks close-on-exec) every descriptor from `first` up.
void CloseFrom(unsigned first, bool cloexec_only) {
  if (close_range(first, ~0U, cloexec_only ? CLOSE_RANGE_CLOEXEC : 0) == 0) return;
  // Kernels without close_range (or its CLOEXEC flag): walk a bounded range.
  rlim_t last = 65536;
  struct rlimit nofile {};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < last) last = nofile.rlim_cur;
  for (unsigned fd = first; fd < last; ++fd) {
    if (cloexec_only) {
      fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
    } else {
      close(static_cast<int>(fd));
    }
  }
}

// Soft and hard limit alike, so the tool cannot raise it back. Above an unprivileged hard
// limit, the hard limit is as far as it goes.
bool ApplyLimit(const KeeperLimit& limit) {
  const struct rlimit wanted { limit.value, limit.value };
  if (setrlimit(limit.resource, &wanted) == 0) return true;
  struct rlimit now {};
  if (errno != EPERM || getrlimit(limit.resource, &now) != 0) return false;
  now.rlim_cur = now.rlim_max;
  return setrlimit(limit.resource, &now) == 0;
}

[[noreturn]] void ExecTool(const KeeperPlan& plan, pid_t keeper) {
  // Should the keeper be killed by surprise (OOM killer), the tool goes with it.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != keeper) _exit(127);
  if (setpgid(0, 0) != 0) Fail(plan.start_fd, kStageKeeperSetup);
  // The plan's descriptors are all >= 3 (SpawnTool makes sure), so these never clobber them.
  if (dup2(plan.stdin_fd, 0) < 0 || dup2(plan.stdout_fd, 1) < 0 || dup2(plan.stderr_fd, 2) < 0) {
    Fail(plan.start_fd, kStageFds);
  }
  // The start pipe must survive until exec succeeds, so mark rather than close.
  CloseFrom(3, true);
  for (int i = 0; i < plan.limit_count; ++i) {
    if (!ApplyLimit(plan.limits[i])) Fail(plan.start_fd, kStageLimits);
  }
  if (plan.box.enabled) {
    if (const int stage = EnterBox(plan.box); stage != 0) {
      Fail(plan.start_fd, static_cast<KeeperStage>(stage));
    }
    // Becoming the task user cleared the death signal: arm it again.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != keeper) _exit(127);
  } else if (chdir(plan.cwd) != 0) {
    Fail(plan.start_fd, kStageChdir);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execve(plan.path, plan.argv, plan.envp);
  Fail(plan.start_fd, kStageExec);
}

// SIGKILLs every child listed by the kernel (adopted orphans). Only this process reaps its
// children, so a listed pid cannot have been reused. False when the list is unavailable.
bool KillChildren() {
  const int fd = open("/proc/thread-self/children", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) < 0 && errno == EINTR) {
  }
  close(fd);
  if (n < 0) return false;
  pid_t pid = 0;
  for (ssize_t i = 0; i < n; ++i) {
    if (buf[i] >= '0' && buf[i] <= '9') {
      pid = pid * 10 + (buf[i] - '0');
    } else {
      if (pid > 0) kill(pid, SIGKILL);
      pid = 0;
    }
  }
  // A full buffer may end inside a number: that one waits for the next round.
  if (pid > 0 && n < static_cast<ssize_t>(sizeof buf)) kill(pid, SIGKILL);
  return true;
}

// Kills and reaps everything re-parented here. Killing a child re-parents its own children
// here before it becomes reapable, so repeating until ECHILD reaches the whole tree.
void SweepOrphans() {
  for (;;) {
    const bool listed = KillChildren();
    const pid_t r = waitpid(-1, nullptr, listed ? __WALL : (__WALL | WNOHANG));
    if (r > 0 || (r < 0 && errno == EINTR)) continue;
    return;  // ECHILD: nothing left (or, without a children list, nothing more we can kill)
  }
}

[[noreturn]] void Finish(pid_t tool, int status_fd) {
  // The tool is not reaped yet, so its process group id cannot have been reused.
  kill(-tool, SIGKILL);
  int status = 0;
  while (waitpid(tool, &status, __WALL) < 0 && errno == EINTR) {
  }
  SweepOrphans();
  const int32_t report = status;
  while (write(status_fd, &report, sizeof report) < 0 && errno == EINTR) {
  }
  _exit(0);
}

// True once the tool has exited (left unreaped); orphans that died are reaped on the way.
bool ToolExited(pid_t tool) {
  for (;;) {
    siginfo_t info{};
    if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT | __WALL) != 0) return false;
    if (info.si_pid == 0) return false;
    if (info.si_pid == tool) return true;
    waitpid(info.si_pid, nullptr, __WALL);
  }
}

[[noreturn]] void Supervise(pid_t tool, int status_fd, pid_t agent, bool boxed) {
  sigset_t wanted;
  sigemptyset(&wanted);
  sigaddset(&wanted, SIGCHLD);
  sigaddset(&wanted, kKeeperCancelSignal);
  sigaddset(&wanted, kKeeperKillSignal);
  sigaddset(&wanted, kAgentDeathSignal);
  for (;;) {
    const int sig = sigwaitinfo(&wanted, nullptr);
    if (sig == SIGCHLD) {
      if (ToolExited(tool)) Finish(tool, status_fd);
    } else if (sig == kKeeperCancelSignal) {
      if (!boxed || !TermBox(tool)) kill(-tool, SIGTERM);
    } else if (sig == kKeeperKillSignal) {
      kill(-tool, SIGKILL);  // the SIGCHLD that follows finishes the job
    } else if (sig == kAgentDeathSignal && getppid() != agent) {
      Finish(tool, status_fd);
    }
  }
}

}  // namespace

[[noreturn]] void RunKeeper(const KeeperPlan& plan) {
  // The agent forked with every signal blocked; they stay blocked and are taken synchronously
  // with sigwaitinfo, so no handler ever runs here.
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);
  ResetSignalDispositions();
  prctl(PR_SET_NAME, "av-keeper");
  // This process holds a copy of the agent's memory (provider keys included): the tool, which
  // runs as the same user, may not read it through ptrace or /proc/<pid>/mem. Exec restores
  // dumpability for the tool itself.
  prctl(PR_SET_DUMPABLE, 0);
  // A session of its own: no controlling terminal, and terminal signals aimed at the agent's
  // foreground group do not reach the tool.
  if (setsid() < 0 || prctl(PR_SET_CHILD_SUBREAPER, 1) != 0 ||
      prctl(PR_SET_PDEATHSIG, kAgentDeathSignal) != 0) {
    Fail(plan.start_fd, kStageKeeperSetup);
  }
  if (getppid() != plan.agent) _exit(127);  // the agent died before the death signal was armed
  const pid_t keeper = getpid();
  const pid_t tool = _Fork();
  if (tool < 0) Fail(plan.start_fd, kStageFork);
  if (tool == 0) ExecTool(plan, keeper);
  // Also done by the tool: whichever runs first, the group exists before it is signalled.
  setpgid(tool, tool);
  Report(plan.start_fd, kToolPid, tool);
  // Keep nothing but the status pipe: a copy of an agent socket or of the tool's output pipe
  // held here would keep it open after the agent or the tool closed it.
  if (dup2(plan.status_fd, 0) < 0) _exit(127);
  CloseFrom(1, false);
  Supervise(tool, 0, plan.agent, plan.box.enabled);
}

const char* KeeperStageName(int32_t stage) {
  switch (stage) {
    case kStageKeeperSetup:
      return "setting up its process group";
    case kStageFork:
      return "fork";
    case kStageFds:
      return "redirecting stdin/stdout/stderr";
    case kStageLimits:
      return "applying resource limits";
    case kStageChdir:
      return "changing to the working directory";
    case kStageExec:
      return "exec";
    case kStageBox:
      return "setting up its box (mount namespace, staging workspace and HOME)";
    case kStageNetwork:
      return "setting up its proxy-only network";
    case kStageCgroup:
      return "joining its cgroup";
    case kStageUser:
      return "becoming the task user";
    default:
      return "starting";
  }
}

}  // namespace autovibe::runner
