#include "worker-agent/repo/retention.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "common/core/files.h"
#include "worker-agent/repo/paths.h"
#include "worker-agent/repo/spare.h"

namespace autovibe::repo {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::system_clock;

Clock::time_point ModifiedAt(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return Clock::time_point::min();
  return Clock::time_point(std::chrono::seconds(st.st_mtim.tv_sec));
}

double FreeFraction(const std::string& dir) {
  struct statvfs vfs {};
  if (statvfs(dir.c_str(), &vfs) != 0 || vfs.f_blocks == 0) return 1.0;
  return static_cast<double>(vfs.f_bavail) / static_cast<double>(vfs.f_blocks);
}

// Bytes on disk under `root` whose inodes `seen` does not hold yet (links never followed).
uint64_t DiskBytes(const std::string& root, std::set<std::pair<dev_t, ino_t>>& seen) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(
           root, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st {};
    if (lstat(it->path().c_str(), &st) != 0) continue;
    if (!seen.insert({st.st_dev, st.st_ino}).second) continue;
    total += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return total;
}

std::string EndedMark(const std::string& data_dir, const std::string& task) {
  return data_dir + "/ended/" + task;
}

// When a workspace last had a task: when the agent saw its last attempt end, else (a workspace
// from before the mark, or of an attempt that never ended here) its own dates, never later than
// now (they are the task's to set).
Clock::time_point LastUsed(const std::string& data_dir, const std::string& workspace,
                           const std::string& task, Clock::time_point now) {
  const Clock::time_point marked = ModifiedAt(EndedMark(data_dir, task));
  if (marked != Clock::time_point::min()) return std::min(marked, now);
  return std::min(std::max(ModifiedAt(workspace), ModifiedAt(workspace + "/.git/index")), now);
}

void RemoveTask(const std::string& data_dir, const RepoPaths& paths, const std::string& task) {
  std::error_code ec;
  fs::remove(EndedMark(data_dir, task), ec);
  fs::remove_all(data_dir + "/workspaces/" + task, ec);
  fs::remove_all(data_dir + "/homes/" + task, ec);
  fs::remove_all(paths.TaskGitDir(task), ec);
  fs::remove_all(paths.Result(task), ec);
}

// The mirrors kept workspaces' tasks still read their history from (their git dirs' alternates).
std::set<std::string> MirrorsInUse(const RepoPaths& paths) {
  std::set<std::string> used;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(paths.Tasks(), ec)) {
    auto text = ReadFile(e.path().string() + "/objects/info/alternates");
    if (!text) continue;
    std::string line = text->substr(0, text->find('\n'));
    if (line.ends_with("/objects")) used.insert(line.substr(0, line.size() - 8));
  }
  return used;
}

}  // namespace

DiskUse Sweep(const std::string& data_dir, const std::set<std::string>& live,
              const RetentionPolicy& policy, Clock::time_point now) {
  DiskUse use;
  const RepoPaths paths(data_dir);
  const std::string workspaces = data_dir + "/workspaces";
  if (policy.min_free_fraction > 0 && FreeFraction(data_dir) < policy.min_free_fraction) {
    RemoveSpares(paths);  // before any workspace (spare.h)
  }
  // Finished workspaces, by when they last changed.
  std::multimap<Clock::time_point, std::string> idle;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(workspaces, ec)) {
    const std::string task = e.path().filename().string();
    if (live.contains(task)) continue;
    idle.emplace(LastUsed(data_dir, e.path().string(), task, now), task);
  }
  for (auto it = idle.begin(); it != idle.end();) {
    const bool old =
        policy.workspace_max_age.count() > 0 && now - it->first > policy.workspace_max_age;
    // A workspace being made (a checkout, a restore) is not running yet, and a paused task's
    // waits for it: only those idle a while go for space.
    const bool short_of_space = policy.min_free_fraction > 0 &&
                                now - it->first > std::chrono::minutes(30) &&
                                FreeFraction(data_dir) < policy.min_free_fraction;
    if (!old && !short_of_space) {
      ++it;
      continue;
    }
    RemoveTask(data_dir, paths, it->second);
    use.removed.push_back("workspace " + it->second + (old ? " (idle)" : " (disk short)"));
    it = idle.erase(it);
  }
  const std::set<std::string> in_use = MirrorsInUse(paths);
  for (const auto& e : fs::directory_iterator(paths.Mirrors(), ec)) {
    const std::string mirror = e.path().string();
    if (!mirror.ends_with(".git") || in_use.contains(mirror)) continue;
    if (policy.mirror_max_age.count() <= 0 ||
        now - ModifiedAt(mirror + ".lock") <= policy.mirror_max_age) {
      continue;
    }
    std::error_code rm;
    fs::remove_all(mirror, rm);
    fs::remove(mirror + ".lock", rm);
    RemoveSpare(paths, mirror);
    use.removed.push_back("mirror " + e.path().filename().string());
  }
  std::set<std::pair<dev_t, ino_t>> seen;
  use.repos_bytes = DiskBytes(paths.root, seen);
  use.workspaces_bytes = DiskBytes(workspaces, seen);
  return use;
}

void MarkEnded(const std::string& data_dir, const std::string& task_id) {
  if (!MakeDirs(data_dir + "/ended", 0700)) return;
  const std::string mark = EndedMark(data_dir, task_id);
  const int fd = open(mark.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return;
  futimens(fd, nullptr);
  close(fd);
}

}  // namespace autovibe::repo
