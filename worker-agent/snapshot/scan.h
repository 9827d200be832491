// Walking a workspace for a checkpoint: what is there, and which files must be read because
// the stat cache cannot vouch for them.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "autovibe/v1/checkpoint.pb.h"
#include "common/core/result.h"
#include "worker-agent/snapshot/chunk_store.h"
#include "worker-agent/snapshot/stat_cache.h"

namespace autovibe::snapshot {

struct ScannedDir;

// One directory entry as found (never following a symbolic link).
struct ScannedEntry {
  std::string name;
  v1::TreeEntry::Kind kind = v1::TreeEntry::FILE;
  FileStat stat;
  std::unique_ptr<ScannedDir> dir;  // DIRECTORY
  std::string target;               // SYMLINK
  // FILE: its chunks when the stat cache vouched for it; otherwise `job` indexes the files
  // to read.
  std::vector<v1::ChunkRef> chunks;
  int job = -1;
};

struct ScannedDir {
  FileStat stat;
  std::vector<ScannedEntry> entries;  // sorted by name
};

// A file the stat cache could not vouch for.
struct FileJob {
  std::string path;  // relative to the workspace
  ScannedEntry* entry = nullptr;
};

struct Scan {
  ScannedDir root;
  std::vector<FileJob> jobs;
  std::vector<std::string> skipped;  // sockets, devices, unreadable entries: "path: why"
  uint64_t file_count = 0;
  uint64_t total_bytes = 0;
};

// Walks the workspace open at `root_fd`. A file matching `cache` (same inode, size, mtime and
// ctime) takes its chunks from there, if `store` still holds them all.
Result<Scan> ScanWorkspace(int root_fd, const StatCache& cache, const ChunkStore& store);

}  // namespace autovibe::snapshot
