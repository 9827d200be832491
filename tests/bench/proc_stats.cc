#include "tests/bench/proc_stats.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace autovibe::bench {
namespace {

std::string ProcPath(pid_t pid, std::string_view file) {
  return "/proc/" + std::to_string(pid) + "/" + std::string(file);
}

// Finds "Name:   N ..." in a /proc key-value file and returns N.
std::optional<int64_t> KeyValue(const std::string& path, std::string_view field) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > field.size() && line.compare(0, field.size(), field) == 0 &&
        line[field.size()] == ':') {
      return std::stoll(line.substr(field.size() + 1));
    }
  }
  return std::nullopt;
}

}  // namespace

std::string ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::optional<double> CpuSeconds(pid_t pid) {
  const std::string stat = ReadSmallFile(ProcPath(pid, "stat"));
  // The command name may hold spaces and parentheses: the fields start after the last ')'.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream in(stat.substr(close + 2));
  std::vector<std::string> fields;
  for (std::string f; in >> f && fields.size() < 13;) fields.push_back(f);
  if (fields.size() < 13) return std::nullopt;
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  const double ticks = std::stod(fields[11]) + std::stod(fields[12]);
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::optional<double> OnCpuSeconds(pid_t pid) {
  std::error_code ec;
  std::filesystem::directory_iterator it(ProcPath(pid, "task"), ec);
  if (ec) return std::nullopt;
  double total_ns = 0;
  for (const auto& task : it) {
    std::ifstream in(task.path() / "schedstat");
    double on_cpu_ns = 0;
    if (in >> on_cpu_ns) total_ns += on_cpu_ns;
  }
  return total_ns / 1e9;
}

std::optional<int64_t> StatusKb(pid_t pid, std::string_view field) {
  return KeyValue(ProcPath(pid, "status"), field);
}

std::optional<int> ThreadCount(pid_t pid) {
  auto n = KeyValue(ProcPath(pid, "status"), "Threads");
  if (!n) return std::nullopt;
  return static_cast<int>(*n);
}

std::optional<int64_t> RollupKb(pid_t pid, std::string_view field) {
  return KeyValue(ProcPath(pid, "smaps_rollup"), field);
}

std::map<pid_t, double> CpuSecondsByProcess() {
  std::map<pid_t, double> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto pid = static_cast<pid_t>(std::stol(name));
    if (auto cpu = CpuSeconds(pid)) out[pid] = *cpu;
  }
  return out;
}

double CpuSecondsBetween(const std::map<pid_t, double>& before,
                         const std::map<pid_t, double>& after, const std::set<pid_t>& except) {
  double total = 0;
  for (const auto& [pid, cpu] : after) {
    if (except.contains(pid)) continue;
    auto it = before.find(pid);
    // New since `before` (or a reused pid): all of its time falls in between.
    const double start = it != before.end() && it->second <= cpu ? it->second : 0;
    total += cpu - start;
  }
  return total;
}

}  // namespace autovibe::bench
