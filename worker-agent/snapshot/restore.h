// Writing a checkpoint back out: into a fresh directory beside the target, swapped in only
// once complete, so a failure leaves what was there untouched.
#pragma once

#include <cstdint>
#include <string>

#include "common/core/result.h"
#include "worker-agent/snapshot/chunk_store.h"
#include "worker-agent/snapshot/hash.h"

namespace autovibe::snapshot {

struct RestoreOptions {
  // Whether `target` may exist: its content is then replaced (and removed once swapped out).
  // Otherwise an existing target is refused.
  bool replace = false;
  unsigned threads = 2;
};

struct Restored {
  uint64_t files = 0;
  uint64_t directories = 0;
  uint64_t symlinks = 0;
  uint64_t bytes = 0;
};

// Restores the tree `root` (with the root directory's `root_mode`) at `target`. Every file is
// checked against its chunks' hashes as it is written; a corrupt chunk is reported with the
// file it belongs to ("corrupt"), a hostile tree refused ("hostile_manifest"), one deeper than
// kMaxDepth too ("too_large"). Symbolic links come back with their targets as stored, absolute
// or leading out of the workspace included. Nothing is written outside the new directory, and
// no symbolic link is followed: every file and directory is reached with openat2 beneath it.
Result<Restored> RestoreTree(const ChunkStore& store, const Hash& root, uint32_t root_mode,
                             const std::string& target, const RestoreOptions& options);

}  // namespace autovibe::snapshot
