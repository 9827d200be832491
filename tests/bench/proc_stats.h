// Reading a process's CPU time, memory and threads from /proc (Linux).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
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

// CpuSeconds() of every process alive now, by pid. The difference of two such maps is a
// lower bound of the CPU everything on the host used in between (processes that ended in
// between are missed). /proc/stat would be simpler, but its idle time is not trustworthy in
// this VM (it showed less busy time than the benchmark's own processes used).
std::map<pid_t, double> CpuSecondsByProcess();

// CPU seconds used between two CpuSecondsByProcess() maps by processes not in `except`.
double CpuSecondsBetween(const std::map<pid_t, double>& before,
                         const std::map<pid_t, double>& after, const std::set<pid_t>& except);

// The whole content of a small file ("" if it cannot be read).
std::string ReadSmallFile(const std::string& path);

}  // namespace autovibe::bench
