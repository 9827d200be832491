#include "worker-agent/snapshot/watch.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace autovibe::snapshot {
namespace {

constexpr uint32_t kMask = IN_CREATE | IN_DELETE | IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE |
                           IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

std::string Parent(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

}  // namespace

std::unique_ptr<WorkspaceWatch> WorkspaceWatch::Start() {
  int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return nullptr;
  return std::unique_ptr<WorkspaceWatch>(new WorkspaceWatch(fd));
}

WorkspaceWatch::~WorkspaceWatch() { ::close(fd_); }

bool WorkspaceWatch::Add(int dir_fd, const std::string& path) {
  // Through the descriptor: the name could meanwhile be something else.
  std::string self = "/proc/self/fd/" + std::to_string(dir_fd);
  int wd = ::inotify_add_watch(fd_, self.c_str(), kMask);
  if (wd < 0) {
    broken_ = true;
    return false;
  }
  paths_[wd] = path;  // the same directory watched again keeps its descriptor
  return true;
}

void WorkspaceWatch::Read(Changes& out) {
  alignas(inotify_event) char buf[64 << 10];
  for (;;) {
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // EAGAIN: drained
    for (char* p = buf; p < buf + n;) {
      auto* e = reinterpret_cast<inotify_event*>(p);
      p += sizeof(inotify_event) + e->len;
      if ((e->mask & IN_Q_OVERFLOW) != 0) {
        out.everything = true;
        continue;
      }
      auto it = paths_.find(e->wd);
      if (it == paths_.end()) continue;
      if ((e->mask & IN_IGNORED) != 0) {
        paths_.erase(it);
        continue;
      }
      // A directory moved: the paths of everything under it are stale.
      bool dir_moved = (e->mask & IN_ISDIR) != 0 && (e->mask & (IN_MOVED_FROM | IN_MOVED_TO)) != 0;
      if (dir_moved || (e->mask & IN_MOVE_SELF) != 0) out.everything = true;
      out.dirs.insert(it->second);
      // The directory itself changed: its entry in its parent did too.
      if (e->len == 0 && !it->second.empty()) out.dirs.insert(Parent(it->second));
    }
  }
}

WorkspaceWatch::Changes WorkspaceWatch::Take() {
  Changes out;
  Read(out);
  if (broken_) out.everything = true;
  return out;
}

}  // namespace autovibe::snapshot
