// Walking a workspace for a checkpoint: what is there, and which files must be read because
// neither the stat cache nor the previous walk can vouch for them.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "autovibe/v1/checkpoint.pb.h"
#include "common/core/result.h"
#include "worker-agent/snapshot/chunk_store.h"
#include "worker-agent/snapshot/limits.h"
#include "worker-agent/snapshot/stat_cache.h"
#include "worker-agent/snapshot/watch.h"

namespace autovibe::snapshot {

struct ScannedDir;

// One directory entry as found (never following a symbolic link).
struct ScannedEntry {
  std::string name;
  v1::TreeEntry::Kind kind = v1::TreeEntry::FILE;
  FileStat stat;
  std::unique_ptr<ScannedDir> dir;   // DIRECTORY
  std::string target;                // SYMLINK
  std::vector<v1::ChunkRef> chunks;  // FILE, once known
  bool gone = false;                 // vanished (or could not be opened) before it could be read
};

struct ScannedDir {
  ScannedDir() = default;
  // Takes a deep tree apart one level at a time, never a recursion as deep as the tree.
  ~ScannedDir();
  ScannedDir(const ScannedDir&) = delete;
  ScannedDir& operator=(const ScannedDir&) = delete;

  FileStat stat;
  std::vector<ScannedEntry> entries;  // sorted by name
  // Known while nothing under the directory changed since its tree was stored.
  std::optional<Hash> tree;
  uint64_t files = 0;  // under it, as of `tree`
  uint64_t bytes = 0;
  uint64_t entries_under = 0;  // files, directories and links under it, as of `tree`
};

// A file to read: entry `index` of `dir`.
struct FileJob {
  std::string path;  // relative to the workspace
  ScannedDir* dir = nullptr;
  size_t index = 0;
  int fd = -1;  // opened by the walk (relative to its directory), or to be opened by path
  ScannedEntry& entry() const { return dir->entries[index]; }
};

// Takes each file to read as soon as the walk finds it; the walk goes on meanwhile. Called
// on the walking thread.
class JobSink {
 public:
  virtual ~JobSink() = default;
  virtual void Add(FileJob job) = 0;
  // Whether a job may come with its file open (the sink holds few open files).
  virtual bool TakesOpenFile() const = 0;
};

struct Scan {
  std::unique_ptr<ScannedDir> root;
  uint64_t files_to_read = 0;        // handed to the sink
  uint64_t entries = 0;              // read from directories by this walk
  std::vector<std::string> skipped;  // sockets, devices, unreadable entries: "path: why"
  uint64_t skipped_total = 0;        // `skipped` keeps the first kMaxSkipped
  bool full = true;                  // the whole tree was walked
  bool incomplete = false;           // a changed directory could not be read again
  // Why the walk stopped short (deeper than kMaxDepth, more than kMaxEntries, a path longer
  // than kMaxPathBytes, the workspace unreadable): no checkpoint can be made of it. `root`
  // still holds what was found, which jobs handed to the sink point into.
  std::optional<Error> failed;
};
inline constexpr size_t kMaxSkipped = 1000;

// Walks the whole workspace open at `root_fd`, depth first on an explicit stack, within the
// limits of limits.h (more than `max_entries` read fails it too).
// A file matching `cache` (same inode, size, mtime and ctime) takes its chunks from there, if
// `store` still holds them all. Each directory is added to `watch` (when given) before it is
// read.
Scan ScanWorkspace(int root_fd, const StatCache& cache, const ChunkStore& store,
                   WorkspaceWatch* watch, JobSink& sink, uint64_t max_entries = kMaxEntries);

// Walks only what changed since `previous` was taken: the directories in `changed` (re-read;
// their files compared with what `previous` holds) and new directories below them. The rest
// of `previous` is taken over as it is, trees included.
Scan RescanWorkspace(int root_fd, std::unique_ptr<ScannedDir> previous,
                     const WorkspaceWatch::Changes& changed, const ChunkStore& store,
                     WorkspaceWatch* watch, JobSink& sink, uint64_t max_entries = kMaxEntries);

// What a walk knows of its files, as a stat cache (files changed too recently left out).
StatCache StatCacheOf(const ScannedDir& root);

}  // namespace autovibe::snapshot
