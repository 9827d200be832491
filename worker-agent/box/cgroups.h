// Per-task cgroup v2 limits (memory.max, pids.max, cpu.weight), where the host delegates a
// writable cgroup v2 with those controllers to the agent. Elsewhere (cgroup v1, a read-only
// or controller-less cgroup v2) the rlimits of the task's keeper are the limits.
//
// The cgroup file system is the seam: tests point `root` at a directory tree of their own.
// Not thread-safe; used on the agent's owner thread.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "common/core/result.h"

namespace autovibe::box {

struct CgroupLimits {
  uint64_t memory_max_bytes = 0;  // 0: unset
  uint64_t pids_max = 0;
  uint32_t cpu_weight = 0;
};

class TaskCgroups {
 public:
  // Takes the cgroup v2 directory `root` for task cgroups. Unless its cgroup.subtree_control
  // already enables memory, pids and cpu, the agent moves itself (`self`) into the leaf
  // `root`/agent and enables them (a cgroup with processes cannot hand controllers down).
  // "unsupported" with the reason when `root` lacks a controller or cannot be written.
  static Result<std::unique_ptr<TaskCgroups>> Open(const std::string& root, pid_t self);

  // Makes (or empties the limits of) `root`/task-`name` and writes the limits; returns the path
  // of its cgroup.procs, which the keeper writes the tool into before exec.
  Result<std::string> Create(const std::string& name, const CgroupLimits& limits);
  // Removes the task's cgroup (once its processes are gone); errors are logged, not returned.
  void Remove(const std::string& name);

  const std::string& root() const { return root_; }

 private:
  explicit TaskCgroups(std::string root) : root_(std::move(root)) {}
  std::string root_;
};

// The agent's own cgroup v2 directory: the "0::" line of /proc/self/cgroup (`proc_self_cgroup`)
// under the cgroup2 mount named in /proc/self/mountinfo (`mountinfo`). Empty when there is no
// cgroup2 mount.
std::string OwnCgroupDir(const std::string& proc_self_cgroup, const std::string& mountinfo);

// Which limits hold for tasks on this host, and why; logged at start. Tries `configured_root`
// (else the agent's own cgroup). Null when it has to be rlimits; `why` says why.
std::unique_ptr<TaskCgroups> DetectTaskCgroups(const std::string& configured_root,
                                               std::string& why);

}  // namespace autovibe::box
