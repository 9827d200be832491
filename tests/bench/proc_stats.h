// Reading a process's CPU time, memory and threads from /proc (Linux).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace autovibe::bench {

// utime + stime from /proc/PID/stat, in seconds (clock-tick resolution, usually 10 ms).
std::optional<double> CpuSeconds(pid_t pid);

// Time on CPU summed over the live threads in /proc/PID/task/*/schedstat, in seconds
// (nanosecond resolution: right for near-idle processes). Threads that already ended are not
// counted, so use it only for processes whose threads live as long as they do.
std::optional<double> OnCpuSeconds(pid_t pid);

// A "Name:   N kB" field of /proc/PID/status (VmRSS, RssAnon, RssFile, ...), in kB.
std::optional<int64_t> StatusKb(pid_t pid, std::string_view field);

// The Threads: field of /proc/PID/status.
std::optional<int> ThreadCount(pid_t pid);

// A "Name:   N kB" field of /proc/PID/smaps_rollup (Rss, Pss, Pss_Anon, ...), in kB.
std::optional<int64_t> RollupKb(pid_t pid, std::string_view field);

// Busy and total time of the whole host from /proc/stat, in seconds of CPU.
struct HostCpu {
  double busy = 0;
  double total = 0;
};
std::optional<HostCpu> ReadHostCpu();

// The whole content of a small file ("" if it cannot be read).
std::string ReadSmallFile(const std::string& path);

}  // namespace autovibe::bench
