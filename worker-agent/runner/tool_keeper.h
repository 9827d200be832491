// The keeper: a small process forked from the agent that owns one tool run. It is the tool's
// parent, a child subreaper, and the only process that signals the tool's group, so that
//  - the agent signals its own unreaped child (the keeper), never a pid or group that could
//    have been reused;
//  - descendants that leave the tool's group (setsid, double fork) are re-parented to the
//    keeper and killed when the tool ends;
//  - if the agent dies (even kill -9), the keeper kills the whole tool tree.
//
// Everything here runs between fork and exec of a possibly multithreaded agent: only
// async-signal-safe calls, no allocation, no locks. The plan is fully prepared before fork.
#pragma once

#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>

namespace autovibe::runner {

// Signals the agent sends to the keeper.
inline constexpr int kKeeperCancelSignal = SIGTERM;  // relay SIGTERM to the tool's group
inline constexpr int kKeeperKillSignal = SIGUSR1;    // SIGKILL the tool and all it left behind

// Records the keeper and tool write on the start pipe (one write each, atomic).
struct StartReport {
  int32_t kind = 0;   // kToolPid, or the KeeperStage that failed
  int32_t value = 0;  // the pid, or errno
};

enum KeeperStage : int32_t {
  kToolPid = 1,
  kStageKeeperSetup,
  kStageFork,
  kStageFds,
  kStageLimits,
  kStageChdir,
  kStageExec,
  kStageBox,      // namespaces and mounts of a boxed tool
  kStageNetwork,  // its proxy-only network
  kStageCgroup,   // joining its cgroup
  kStageUser,     // becoming the task user
};

struct KeeperLimit {
  int resource = 0;
  rlim_t value = 0;
};

// A boxed tool (worker-agent/box/): what the keeper's child does as root before it becomes
// the task user and execs bwrap (the plan's path and argv). bwrap, run by that user, cannot
// walk the agent's 0700 data dir: the child stages the workspace and HOME on a tmpfs of a
// mount namespace of its own, where bwrap binds them from.
struct KeeperBox {
  bool enabled = false;
  uid_t uid = 0;
  gid_t gid = 0;
  static constexpr int kMaxBinds = 8;
  const char* stage = nullptr;  // an empty directory on the host: the tmpfs goes there
  // Bound at stage_targets[i] (inside stage): the workspace, HOME, shared paths.
  const char* bind_sources[kMaxBinds] = {};
  const char* stage_targets[kMaxBinds] = {};
  int bind_count = 0;
  int keep_fds[2] = {-1, -1};          // inherited by bwrap (its /etc/passwd and /etc/group)
  const char* cgroup_procs = nullptr;  // the task's cgroup.procs; null: none
  // proxy-only: a network namespace of its own, with lo up and a socket listening on
  // 127.0.0.1:proxy_port, sent (SCM_RIGHTS) over listener_channel for the metering proxy.
  bool own_network = false;
  uint16_t proxy_port = 0;
  int listener_channel = -1;
};

struct KeeperPlan {
  const char* path = nullptr;  // resolved binary
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* cwd = nullptr;
  int stdin_fd = -1;   // /dev/null
  int stdout_fd = -1;  // write ends of the output pipes
  int stderr_fd = -1;
  int start_fd = -1;   // write end: tool pid, or what failed; EOF once the tool exec'd
  int status_fd = -1;  // write end: the tool's wait status, written once everything is dead
  pid_t agent = 0;     // the process that must stay alive
  KeeperLimit limits[8];
  int limit_count = 0;
  KeeperBox box;
};

// Runs in the forked child: never returns.
[[noreturn]] void RunKeeper(const KeeperPlan& plan);

// A readable sentence for a failed stage ("exec", "chdir", ...).
const char* KeeperStageName(int32_t stage);

}  // namespace autovibe::runner
