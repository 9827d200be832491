// Taking a checkpoint of a workspace: walk it, read what changed, store new chunks and trees.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/core/result.h"
#include "worker-agent/snapshot/chunk_store.h"
#include "worker-agent/snapshot/hash.h"
#include "worker-agent/snapshot/stat_cache.h"

namespace autovibe::snapshot {

struct CreateOptions {
  unsigned threads = 2;  // files are read, hashed and compressed on this many threads
  // A file changed this close to the checkpoint may change again within the file system's
  // timestamp granularity without its stat showing it (the "racy git" problem): the stat
  // cache does not vouch for it next time.
  std::chrono::nanoseconds racy_window = std::chrono::milliseconds(50);
};

struct Created {
  Hash root;  // the workspace's root tree
  uint32_t root_mode = 0;
  uint64_t file_count = 0;
  uint64_t total_bytes = 0;
  uint64_t stored_bytes = 0;  // compressed bytes added to the store
  uint64_t files_read = 0;    // the rest came from the stat cache
  std::vector<std::string> skipped;
};

// Stores the workspace open at `root_fd` (read only; symbolic links are stored, never
// followed). `cache` is used and then replaced by what this checkpoint learnt. Everything
// written is durable (ChunkStore::Sync) when this returns.
Result<Created> CreateCheckpoint(ChunkStore& store, int root_fd, StatCache& cache,
                                 const CreateOptions& options);

}  // namespace autovibe::snapshot
