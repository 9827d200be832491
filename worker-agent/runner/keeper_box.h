// The keeper's part of boxing a tool (tool_keeper.h, KeeperBox). Like the rest of the keeper
// these run between fork and exec: async-signal-safe calls only, no allocation.
#pragma once

#include <sys/types.h>

#include "worker-agent/runner/tool_keeper.h"

namespace autovibe::runner {

// In the tool's child, as root: joins the cgroup, makes the mount (and proxy-only network)
// namespace, stages the workspace and HOME, sends the proxy's listening socket, then becomes
// the task user for good (no groups, no way back) and keeps `box.keep_fds` across exec.
// Returns 0, or the KeeperStage that failed (errno says why).
int EnterBox(const KeeperBox& box);

// Asks a boxed tool to stop: SIGTERM to the process group of each command bwrap started in
// the box (bwrap itself would die of it and take them down with SIGKILL). False when there is
// none yet: then the caller signals bwrap's own group.
bool TermBox(pid_t bwrap);

}  // namespace autovibe::runner
