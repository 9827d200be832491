// Which directories of a workspace changed since they were last read, from inotify, so a
// checkpoint re-reads those and not the whole tree.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace autovibe::snapshot {

class WorkspaceWatch {
 public:
  // Nullptr when inotify is not to be had (then every checkpoint walks the whole tree).
  static std::unique_ptr<WorkspaceWatch> Start();
  ~WorkspaceWatch();
  WorkspaceWatch(const WorkspaceWatch&) = delete;
  WorkspaceWatch& operator=(const WorkspaceWatch&) = delete;

  // Watches the directory open at `dir_fd`, known as `path` (relative to the workspace).
  // Called before the directory is read, so no change after the read goes unseen. False when
  // it cannot be watched (out of watches): the watch is then broken.
  bool Add(int dir_fd, const std::string& path);

  struct Changes {
    std::unordered_set<std::string> dirs;  // directories whose entries (or selves) changed
    bool everything = false;               // events were lost, or a directory moved: walk it all
  };
  // The changes seen since the last call.
  Changes Take();

  bool broken() const { return broken_; }

 private:
  explicit WorkspaceWatch(int fd) : fd_(fd) {}
  void Read(Changes& out);

  int fd_;
  bool broken_ = false;
  std::unordered_map<int, std::string> paths_;  // watch descriptor -> directory
};

}  // namespace autovibe::snapshot
