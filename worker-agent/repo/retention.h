// Keeping a machine's disk: finished workspaces and unused mirrors go by age, and workspaces
// the oldest first when the disk runs short (vibe-kanban users filled 26 GB of worktrees in
// two days). Also measures what workspaces and repositories take (hard links counted once),
// for the heartbeat.
//
// Blocking (walks the disk): RepoKeeper runs it on its threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace autovibe::repo {

struct RetentionPolicy {
  // A workspace no task runs in goes this long after it last changed (with its task's git dir,
  // result files and home). 0: never by age.
  std::chrono::seconds workspace_max_age = std::chrono::hours(72);
  // A mirror no task used this long goes, unless a kept workspace's task still refers to it.
  std::chrono::seconds mirror_max_age = std::chrono::hours(14 * 24);
  // Below this share of the data dir's disk free, workspaces no task runs in go, the oldest
  // first, until it is free again. 0: never for space.
  double min_free_fraction = 0.10;
};

struct DiskUse {
  uint64_t workspaces_bytes = 0;     // beyond what the repositories hold (hard links once)
  uint64_t repos_bytes = 0;          // mirrors, the tasks' git dirs and result files
  std::vector<std::string> removed;  // what went ("workspace t-1", "mirror <name>")
};

// Applies `policy` under `data_dir`, leaving the workspaces of `live` tasks alone, then
// measures. `now` is the wall clock.
DiskUse Sweep(const std::string& data_dir, const std::set<std::string>& live,
              const RetentionPolicy& policy, std::chrono::system_clock::time_point now);

}  // namespace autovibe::repo
