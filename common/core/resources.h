// A machine's resources as its agent reports them (DESIGN.md: the heartbeat's resource sample,
// the API's "resources"): one type for the agent that reads them, the controller that keeps
// them and the wire between (common/wire/resources.h).
#pragma once

#include <cstdint>

namespace autovibe {

struct Resources {
  uint32_t cpu_cores = 0;
  uint64_t mem_total_bytes = 0;
  uint64_t mem_used_bytes = 0;
  uint64_t disk_total_bytes = 0;  // of the file system holding the agent's data dir
  uint64_t disk_free_bytes = 0;   // what an unprivileged process may still use
  double load1 = 0;
  // What the agent's workspaces and repositories (mirrors, results) take of that disk, as its
  // last retention sweep measured (hard links counted once).
  uint64_t workspaces_bytes = 0;
  uint64_t repos_bytes = 0;

  friend bool operator==(const Resources&, const Resources&) = default;
};

}  // namespace autovibe
