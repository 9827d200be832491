// Opening paths inside a workspace without ever leaving it: every lookup is resolved beneath
// a directory we hold open, and no symbolic link is followed on the way (openat2).
#pragma once

#include <fcntl.h>

#include <string>

namespace autovibe::snapshot {

// openat2(root, relative, flags, mode) with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS. Returns
// the descriptor, or -1 with errno set (ELOOP/EXDEV when the path would leave `root` or go
// through a symbolic link). A path longer than the kernel takes in one call (PATH_MAX) is
// resolved a piece at a time, each piece beneath the directory the one before reached.
int OpenBeneath(int root, const std::string& relative, int flags, mode_t mode = 0);

// Whether this kernel (and the seccomp profile around us) lets us call openat2: Linux 5.6 or
// later. Without it no workspace path can be opened safely.
bool HaveOpenat2();

}  // namespace autovibe::snapshot
