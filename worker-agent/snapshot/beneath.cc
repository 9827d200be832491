#include "worker-agent/snapshot/beneath.h"

#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace autovibe::snapshot {

int OpenBeneath(int root, const std::string& relative, int flags, mode_t mode) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) != 0 ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  for (;;) {
    long fd = ::syscall(SYS_openat2, root, relative.c_str(), &how, sizeof how);
    if (fd < 0 && errno == EINTR) continue;
    return static_cast<int>(fd);
  }
}

bool ResolvesBeneath(int root, const std::string& relative) {
  open_how how{};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  for (int tries = 0; tries < 100; ++tries) {
    long fd = ::syscall(SYS_openat2, root, relative.c_str(), &how, sizeof how);
    if (fd >= 0) {
      ::close(static_cast<int>(fd));
      return true;
    }
    // EAGAIN: a rename raced the lookup.
    if (errno == EINTR || errno == EAGAIN) continue;
    // Missing, a loop, or unreadable, but inside. Anything else (EXDEV: it leads out; ENOSYS
    // or EPERM: no openat2 here to tell) is taken as leading out.
    return errno == ENOENT || errno == ENOTDIR || errno == ELOOP || errno == EACCES;
  }
  return false;
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
