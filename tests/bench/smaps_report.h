// Where a process's resident memory goes, from /proc/PID/smaps: grouped by shared library,
// heap, thread stacks, malloc arenas and other anonymous memory.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace autovibe::bench {

struct MemoryGroup {
  std::string name;  // "libcrypto.so.3", "[heap]", "[thread stacks]", "[heap arenas, 64 MiB
                     // aligned]" (glibc malloc arenas, Go heap), ...
  int mappings = 0;
  int64_t size_kb = 0;  // address space
  int64_t rss_kb = 0;
  int64_t pss_kb = 0;
  int64_t private_dirty_kb = 0;  // written by this process: relocations, .data, heap, stacks
  int64_t shared_clean_kb = 0;   // file pages other processes may map too
};

// Groups of the process's mappings, largest RSS first. Empty if smaps cannot be read.
std::vector<MemoryGroup> MemoryGroups(pid_t pid);

// A human report (several lines): the smaps_rollup totals, then the top `top` groups.
std::string MemoryReport(pid_t pid, const std::string& label, size_t top = 20);

// One line per thread: tid and time on CPU since it started (from task/*/schedstat).
std::string ThreadReport(pid_t pid);

}  // namespace autovibe::bench
