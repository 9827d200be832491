#include "tests/bench/smaps_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "tests/bench/proc_stats.h"

namespace autovibe::bench {
namespace {

// glibc gives each malloc arena but the main one a 64 MiB-aligned reservation (HEAP_MAX_SIZE).
constexpr uint64_t kArenaAlign = 64ull << 20;

struct Mapping {
  uint64_t start = 0;
  uint64_t end = 0;
  std::string perms;
  std::string path;  // empty for anonymous memory
  int64_t size_kb = 0, rss_kb = 0, pss_kb = 0, private_dirty_kb = 0, shared_clean_kb = 0;
};

std::vector<Mapping> ReadSmaps(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps");
  std::vector<Mapping> out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string first;
    ls >> first;
    if (first.empty()) continue;
    if (first.back() != ':') {  // a mapping header: "start-end perms offset dev inode [path]"
      Mapping m;
      const size_t dash = first.find('-');
      if (dash == std::string::npos) continue;
      m.start = std::stoull(first.substr(0, dash), nullptr, 16);
      m.end = std::stoull(first.substr(dash + 1), nullptr, 16);
      std::string offset;
      std::string dev;
      std::string inode;
      ls >> m.perms >> offset >> dev >> inode;
      std::getline(ls >> std::ws, m.path);
      out.push_back(std::move(m));
      continue;
    }
    if (out.empty()) continue;
    int64_t kb = 0;
    ls >> kb;
    Mapping& m = out.back();
    if (first == "Size:") m.size_kb = kb;
    if (first == "Rss:") m.rss_kb = kb;
    if (first == "Pss:") m.pss_kb = kb;
    if (first == "Private_Dirty:") m.private_dirty_kb = kb;
    if (first == "Shared_Clean:") m.shared_clean_kb = kb;
  }
  return out;
}

bool Anonymous(const Mapping& m) { return m.path.empty(); }

// Names what an anonymous mapping most likely is, from its neighbours.
std::string ClassifyAnonymous(const std::vector<Mapping>& maps, size_t i) {
  const Mapping& m = maps[i];
  if (m.perms.starts_with("---")) return "[reserved, inaccessible]";
  const Mapping* prev = i > 0 ? &maps[i - 1] : nullptr;
  const Mapping* next = i + 1 < maps.size() ? &maps[i + 1] : nullptr;
  // NPTL thread stack: a guard page (---p) right below a rw-p block of about 8 MiB.
  if (prev != nullptr && Anonymous(*prev) && prev->perms.starts_with("---") &&
      prev->end == m.start && prev->size_kb <= 64 && m.size_kb >= 1024) {
    return "[thread stacks]";
  }
  // Malloc arena: a 64 MiB-aligned rw-p start followed by the rest of the reservation (---p).
  if (m.start % kArenaAlign == 0 && next != nullptr && Anonymous(*next) &&
      next->perms.starts_with("---") && next->start == m.end) {
    return "[heap arenas, 64 MiB aligned]";
  }
  return "[anon other]";
}

std::string GroupName(const std::vector<Mapping>& maps, size_t i) {
  const Mapping& m = maps[i];
  if (Anonymous(m)) return ClassifyAnonymous(maps, i);
  if (m.path.front() == '[') return m.path;  // [heap], [stack], [vdso], ...
  return std::filesystem::path(m.path).filename().string();
}

}  // namespace

std::vector<MemoryGroup> MemoryGroups(pid_t pid) {
  const std::vector<Mapping> maps = ReadSmaps(pid);
  std::map<std::string, MemoryGroup> groups;
  for (size_t i = 0; i < maps.size(); ++i) {
    const Mapping& m = maps[i];
    MemoryGroup& g = groups[GroupName(maps, i)];
    ++g.mappings;
    g.size_kb += m.size_kb;
    g.rss_kb += m.rss_kb;
    g.pss_kb += m.pss_kb;
    g.private_dirty_kb += m.private_dirty_kb;
    g.shared_clean_kb += m.shared_clean_kb;
  }
  std::vector<MemoryGroup> out;
  for (auto& [name, g] : groups) {
    g.name = name;
    out.push_back(g);
  }
  std::sort(out.begin(), out.end(), [](const MemoryGroup& a, const MemoryGroup& b) {
    return a.rss_kb != b.rss_kb ? a.rss_kb > b.rss_kb : a.name < b.name;
  });
  return out;
}

std::string MemoryReport(pid_t pid, const std::string& label, size_t top) {
  auto kb = [&](std::string_view field) { return RollupKb(pid, field).value_or(-1); };
  std::string out = fmt::format(
      "{} (pid {}) smaps_rollup: Rss {} kB = Anonymous {} + file-backed {}; Pss {} kB "
      "(Pss_Anon {}, Pss_File {}); Private_Dirty {}, Private_Clean {}, Shared_Clean {} kB\n",
      label, pid, kb("Rss"), kb("Anonymous"), kb("Rss") - kb("Anonymous"), kb("Pss"),
      kb("Pss_Anon"), kb("Pss_File"), kb("Private_Dirty"), kb("Private_Clean"), kb("Shared_Clean"));
  out += fmt::format("  {:<34} {:>8} {:>8} {:>8} {:>11} {:>12} {:>4}\n", "mapping group", "rss_kB",
                     "pss_kB", "size_kB", "priv_dirty", "shared_clean", "maps");
  const auto groups = MemoryGroups(pid);
  int64_t rest_rss = 0;
  for (size_t i = 0; i < groups.size(); ++i) {
    const MemoryGroup& g = groups[i];
    if (i >= top) {
      rest_rss += g.rss_kb;
      continue;
    }
    out += fmt::format("  {:<34} {:>8} {:>8} {:>8} {:>11} {:>12} {:>4}\n", g.name, g.rss_kb,
                       g.pss_kb, g.size_kb, g.private_dirty_kb, g.shared_clean_kb, g.mappings);
  }
  if (rest_rss > 0) out += fmt::format("  {:<34} {:>8}\n", "(other groups)", rest_rss);
  return out;
}

std::string ThreadReport(pid_t pid) {
  std::error_code ec;
  std::vector<std::pair<int, double>> threads;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream in(task.path() / "schedstat");
    double ns = 0;
    in >> ns;
    threads.emplace_back(std::stoi(task.path().filename().string()), ns / 1e6);
  }
  std::sort(threads.begin(), threads.end());
  std::string out = fmt::format("{} threads, on-CPU ms since start:", threads.size());
  for (const auto& [tid, ms] : threads) out += fmt::format(" {}={:.1f}", tid, ms);
  return out + "\n";
}

}  // namespace autovibe::bench
