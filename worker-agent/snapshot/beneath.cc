#include "worker-agent/snapshot/beneath.h"

#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <string_view>

namespace autovibe::snapshot {
namespace {

// Well inside PATH_MAX (4096, the terminating NUL included).
constexpr size_t kPiece = 3072;

int Openat2(int dir, const std::string& relative, int flags, mode_t mode) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) != 0 ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  for (;;) {
    long fd = ::syscall(SYS_openat2, dir, relative.c_str(), &how, sizeof how);
    if (fd < 0 && errno == EINTR) continue;
    return static_cast<int>(fd);
  }
}

}  // namespace

int OpenBeneath(int root, const std::string& path, int flags, mode_t mode) {
  if (path.size() < kPiece) return Openat2(root, path, flags, mode);
  std::string_view relative = path;
  // Directory by directory, in pieces: each opened beneath the last, without symbolic links,
  // so the whole stays beneath `root` as one call would.
  int dir = root;
  while (relative.size() >= kPiece) {
    size_t slash = relative.rfind('/', kPiece - 1);
    if (slash == std::string_view::npos || slash == 0) {
      if (dir != root) ::close(dir);
      errno = ENAMETOOLONG;
      return -1;
    }
    int next = Openat2(dir, std::string(relative.substr(0, slash)), O_PATH | O_DIRECTORY, 0);
    int saved = errno;
    if (dir != root) ::close(dir);
    if (next < 0) {
      errno = saved;
      return -1;
    }
    dir = next;
    relative.remove_prefix(slash + 1);
  }
  int fd = Openat2(dir, std::string(relative), flags, mode);
  int saved = errno;
  ::close(dir);
  errno = saved;
  return fd;
}

bool HaveOpenat2() {
  open_how how{};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH;
  long fd = ::syscall(SYS_openat2, AT_FDCWD, ".", &how, sizeof how);
  if (fd >= 0) ::close(static_cast<int>(fd));
  return fd >= 0 || (errno != ENOSYS && errno != EPERM);
}

}  // namespace autovibe::snapshot
