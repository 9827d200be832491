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
};

struct KeeperLimit {
  int resource = 0;
  rlim_t value = 0;
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
};

// Runs in the forked child: never returns.
[[noreturn]] void RunKeeper(const KeeperPlan& plan);

// A readable sentence for a failed stage ("exec", "chdir", ...).
const char* KeeperStageName(int32_t stage);

}  // namespace autovibe::runner
