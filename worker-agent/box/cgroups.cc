#include "worker-agent/box/cgroups.h"

#include <errno.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/core/files.h"

namespace autovibe::box {
namespace {

constexpr const char* kControllers[] = {"memory", "pids", "cpu"};

Error Unsupported(const std::string& why) { return MakeError(ErrorCode::kUnsupported, why); }

// Writes `value` to an existing cgroup file (no temp file, no truncation semantics needed).
Result<void> WriteValue(const std::string& path, const std::string& value) {
  std::ofstream out(path, std::ios::out | std::ios::trunc);
  if (!out) return IoError("cannot open", path);
  out << value;
  out.flush();
  if (!out) return IoError("cannot write", path);
  return {};
}

bool HasWord(const std::string& text, std::string_view word) {
  std::istringstream in(text);
  std::string w;
  while (in >> w) {
    if (w == word) return true;
  }
  return false;
}

bool HasAll(const std::string& text) {
  for (const char* c : kControllers) {
    if (!HasWord(text, c)) return false;
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<TaskCgroups>> TaskCgroups::Open(const std::string& root, pid_t self) {
  auto controllers = ReadFile(root + "/cgroup.controllers");
  if (!controllers) return Unsupported(root + " is not a cgroup v2 directory");
  while (!controllers->empty() && std::isspace(static_cast<unsigned char>(controllers->back()))) {
    controllers->pop_back();
  }
  if (!HasAll(*controllers)) {
    return Unsupported(root + " offers controllers \"" + *controllers +
                       "\", not all of memory, pids and cpu");
  }
  if (access((root + "/cgroup.subtree_control").c_str(), W_OK) != 0) {
    return Unsupported(root + " is not writable (not delegated to the agent)");
  }
  auto enabled = ReadFile(root + "/cgroup.subtree_control");
  if (!enabled || !HasAll(*enabled)) {
    const std::string leaf = root + "/agent";
    if (mkdir(leaf.c_str(), 0755) != 0 && errno != EEXIST) {
      return Unsupported("cannot make " + leaf + ": " + std::strerror(errno));
    }
    if (auto r = WriteValue(leaf + "/cgroup.procs", std::to_string(self)); !r) {
      return Unsupported("cannot move the agent into " + leaf + ": " + r.error().message);
    }
    if (auto r = WriteValue(root + "/cgroup.subtree_control", "+memory +pids +cpu"); !r) {
      return Unsupported("cannot enable memory, pids and cpu under " + root + ": " +
                         r.error().message);
    }
  }
  return std::unique_ptr<TaskCgroups>(new TaskCgroups(root));
}

Result<std::string> TaskCgroups::Create(const std::string& name, const CgroupLimits& limits) {
  const std::string dir = root_ + "/task-" + name;
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return IoError("cannot make", dir);
  const std::pair<const char*, uint64_t> values[] = {
      {"memory.max", limits.memory_max_bytes},
      {"pids.max", limits.pids_max},
      {"cpu.weight", limits.cpu_weight},
  };
  for (const auto& [file, value] : values) {
    const std::string text = value == 0 ? (std::string_view(file) == "cpu.weight" ? "100" : "max")
                                        : std::to_string(value);
    if (auto r = WriteValue(dir + "/" + file, text); !r) return r.error();
  }
  // Swap would let a task past memory.max; refuse it where the kernel has the file.
  if (access((dir + "/memory.swap.max").c_str(), F_OK) == 0) {
    if (auto r = WriteValue(dir + "/memory.swap.max", "0"); !r) return r.error();
  }
  return dir + "/cgroup.procs";
}

void TaskCgroups::Remove(const std::string& name) {
  const std::string dir = root_ + "/task-" + name;
  if (rmdir(dir.c_str()) != 0 && errno != ENOENT) {
    spdlog::warn("cannot remove task cgroup {}: {}", dir, std::strerror(errno));
  }
}

std::string OwnCgroupDir(const std::string& proc_self_cgroup, const std::string& mountinfo) {
  std::string own;
  std::istringstream lines(proc_self_cgroup);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("0::", 0) == 0) own = line.substr(3);
  }
  if (own.empty()) return "";
  // mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS... - FSTYPE SOURCE SUPER
  std::istringstream mounts(mountinfo);
  for (std::string line; std::getline(mounts, line);) {
    const size_t dash = line.find(" - ");
    if (dash == std::string::npos || line.compare(dash + 3, 8, "cgroup2 ") != 0) continue;
    std::istringstream fields(line.substr(0, dash));
    std::string id, parent, dev, root, point;
    fields >> id >> parent >> dev >> root >> point;
    if (root != "/" && own.rfind(root, 0) == 0) own = own.substr(root.size());
    if (own == "/") own.clear();
    return point + own;
  }
  return "";
}

std::unique_ptr<TaskCgroups> DetectTaskCgroups(const std::string& configured_root,
                                               std::string& why) {
  std::string root = configured_root;
  if (root.empty()) {
    auto own = ReadFile("/proc/self/cgroup");
    auto mounts = ReadFile("/proc/self/mountinfo");
    if (own && mounts) root = OwnCgroupDir(*own, *mounts);
  }
  if (root.empty()) {
    why = "no cgroup v2 here";
    return nullptr;
  }
  auto cgroups = TaskCgroups::Open(root, getpid());
  if (!cgroups) {
    why = cgroups.error().message;
    return nullptr;
  }
  why = "cgroup v2 at " + root;
  return std::move(*cgroups);
}

}  // namespace autovibe::box
