// How the agent boxes its tasks: the agent config's `task_user` and `network` keys and its
// [box] table. See README.md, "Security: what a task can and cannot reach".
#pragma once

#include <sys/types.h>
#include <toml++/toml.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/result.h"

namespace autovibe::box {

enum class TaskUser {
  kPerTask,  // "per-task" (default): its own uid, HOME, PID/IPC/UTS/mount namespaces (bwrap)
  kRoot,     // "root": as the agent, unboxed; for trusted work only
};

enum class TaskNetwork {
  kHost,       // "host" (default): the machine's network
  kProxyOnly,  // "proxy-only": a network namespace of its own that holds only the metering proxy
};

struct BoxSettings {
  TaskUser task_user = TaskUser::kPerTask;
  TaskNetwork network = TaskNetwork::kHost;
  // Task users are uid_base .. uid_base + 2 * task_slots - 1 (gid alike), one per running task
  // (twice the slots: a superseded attempt keeps its uid until its last process is gone).
  uint32_t uid_base = 61000;
  std::string bwrap = "/usr/bin/bwrap";
  // Read-only inside every box, at the same path, besides the system's own directories
  // (kSystemPaths): tool installs elsewhere, e.g. "/opt/node".
  std::vector<std::string> ro_paths;
  // Read-write in every box, at the same path: shared by all of this agent's tasks (a cache,
  // a directory the operator hands over). Tasks can reach each other's files there: list only
  // what they may share. At most 6.
  std::vector<std::string> shared_paths;
  // An empty directory on the host where each tool's keeper mounts, in a mount namespace of its
  // own, what the box binds (the workspace and HOME inside the agent's 0700 data dir).
  std::string stage_dir = "/run/autovibe-box";
  // Per task, where the host offers a delegated cgroup v2 with these controllers (memory.max,
  // pids.max, cpu.weight); 0 leaves one unset. Without cgroup v2 the rlimits of [task_limits]
  // hold instead (processes: per task uid; address_space_bytes: per process).
  uint64_t memory_max_bytes = uint64_t{4} << 30;
  uint64_t pids_max = 1024;
  uint32_t cpu_weight = 100;
  // The cgroup v2 directory under which task cgroups are made; empty: the agent's own cgroup.
  std::string cgroup_root;
};

// The directories every box sees read-only (those the host has; a symlink stays a symlink).
inline constexpr std::string_view kSystemPaths[] = {"/usr",   "/etc",   "/bin",    "/sbin", "/lib",
                                                    "/lib32", "/lib64", "/libx32", "/opt"};

// "per-task" | "root"; "host" | "proxy-only". Errors (bad_config) name the key and the choices.
Result<TaskUser> ParseTaskUser(std::string_view text);
Result<TaskNetwork> ParseTaskNetwork(std::string_view text);
std::string_view TaskUserName(TaskUser u);
std::string_view TaskNetworkName(TaskNetwork n);

// The [box] table: uid_base, bwrap, ro_paths, shared_paths, stage_dir, memory_max_bytes, pids_max,
// cpu_weight, cgroup_root. Unknown keys are an error.
Result<void> TomlBox(const toml::node& node, BoxSettings& settings);

// Values that parse but make no sense: a uid range that reaches system or nobody uids,
// relative paths, a proxy-only network for root tasks.
Result<void> ValidateBoxSettings(const BoxSettings& settings, uint32_t task_slots);

}  // namespace autovibe::box
