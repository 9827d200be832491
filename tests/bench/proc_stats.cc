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

std::optional<HostCpu> ReadHostCpu() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  in >> cpu;
  if (cpu != "cpu") return std::nullopt;
  // user nice system idle iowait irq softirq steal (guest time is already inside user).
  std::vector<double> t;
  for (double v; t.size() < 8 && in >> v;) t.push_back(v);
  if (t.size() < 8) return std::nullopt;
  const auto tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  double total = 0;
  for (double v : t) total += v;
  const double idle = t[3] + t[4];
  return HostCpu{(total - idle) / tick, total / tick};
}

}  // namespace autovibe::bench
