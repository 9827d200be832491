// Taking a checkpoint of a workspace: walk it, read what changed, store new chunks and trees.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/core/result.h"
#include "worker-agent/snapshot/chunk_store.h"
#include "worker-agent/snapshot/hash.h"
#include "worker-agent/snapshot/limits.h"
#include "worker-agent/snapshot/scan.h"
#include "worker-agent/snapshot/stat_cache.h"

namespace autovibe::snapshot {

struct CreateOptions {
  unsigned threads = 2;  // files are read, hashed and compressed on this many threads
  // A file changed this close to the checkpoint may change again within the file system's
  // timestamp granularity without its stat showing it (the "racy git" problem): the stat
  // cache does not vouch for it next time.
  std::chrono::nanoseconds racy_window = std::chrono::milliseconds(50);
  // After this many checkpoints that walked only what inotify reported, the next walks the
  // whole tree (the stat cache still spares reading unchanged files): for changes inotify does
  // not report, such as writes through a shared mapping or on network file systems. 0: only
  // when inotify cannot be trusted.
  unsigned full_walk_every = 20;
  // Files, directories and links a checkpoint takes at most (limits.h; lower in tests).
  uint64_t max_entries = kMaxEntries;
};

// What the store keeps of a workspace between its checkpoints.
struct WorkspaceState {
  StatCache cache;                        // from disk: vouches for files after a restart
  std::unique_ptr<ScannedDir> last;       // the last walk, trees included
  std::unique_ptr<WorkspaceWatch> watch;  // what changed since
  unsigned since_full_walk = 0;           // checkpoints since the last full walk
};

struct Created {
  Hash root;  // the workspace's root tree
  uint32_t root_mode = 0;
  uint64_t file_count = 0;
  uint64_t total_bytes = 0;
  uint64_t stored_bytes = 0;  // compressed bytes added to the store
  uint64_t files_read = 0;    // the rest came from the stat cache or the last walk
  bool full_walk = true;      // the whole tree was walked (not only what changed)
  std::vector<std::string> skipped;
};

// Stores the workspace open at `root_fd` (read only; symbolic links are stored, never
// followed). After a first walk, only directories inotify saw change are walked again.
// `state` is used and updated; its stat cache is replaced after a full walk. Everything
// written is durable (ChunkStore::Sync) when this returns.
Result<Created> CreateCheckpoint(ChunkStore& store, int root_fd, WorkspaceState& state,
                                 const CreateOptions& options);

}  // namespace autovibe::snapshot
