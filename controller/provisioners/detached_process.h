// Starting a program that outlives its starter: the local backend's agents keep running when
// the controller restarts, like machines do.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/core/result.h"

namespace autovibe {

struct DetachedSpawn {
  std::vector<std::string> argv;  // argv[0] is the program's path
  std::string cwd;
  std::string log_path;  // stdout and stderr, appended; stdin is /dev/null
};

// Starts the program in a session of its own, reparented to init (so it is never our zombie),
// and waits until it has been exec'd. Returns its pid. Errors: not_found (no such program),
// unavailable (fork, pipe or the log file failed), bad_request (empty argv).
Result<pid_t> SpawnDetached(const DetachedSpawn& spawn);

// Whether `pid` is alive and its command line contains `marker` as one whole argument (a pid
// read back after a restart may belong to another program by now).
bool ProcessHasArg(pid_t pid, const std::string& marker);

// Whether the process `pid` with `marker` among its arguments has exited: no such pid, a
// zombie nobody reaped yet, or the pid is another program's by now. A process on its way out
// shows no arguments before it has exited; that is not gone yet.
bool ProcessGone(pid_t pid, const std::string& marker);

// The first live process with `marker` as one whole argument; 0 when there is none.
pid_t FindProcessWithArg(const std::string& marker);

}  // namespace autovibe
