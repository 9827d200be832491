// Hands a task's directories to its user: the workspace (restores and checkpoints write as
// root) and its HOME.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/core/result.h"

namespace autovibe::box {

// chown -R `uid`:`gid` `root`, never following a symlink, and iterative: O(1) descriptors and
// no recursion whatever the depth. Going back up it checks each parent is the directory it
// came down from, so a tree changed under it cannot lead it outside `root` ("io" error).
// `root` itself becomes mode 0700.
Result<void> GiveTree(const std::string& root, uid_t uid, gid_t gid);

// Creates `dir` (0700, parents 0700) if missing and gives it to uid:gid (GiveTree).
Result<void> PrepareOwnedDir(const std::string& dir, uid_t uid, gid_t gid);

}  // namespace autovibe::box
