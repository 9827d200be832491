// The agent's workspace checkpoints: content-addressed chunks (chunk_store.h), one manifest
// per checkpoint naming its root tree and its parent, so checkpoints form a tree.
//
// Layout under `dir`: packs/ and index (the chunks), checkpoints/<id>.pb (manifests), heads
// (the checkpoint each workspace stands on), statcache/<workspace key> (stat caches).
//
// Not thread-safe: one owner (the agent's disk thread) calls it; it uses threads of its own
// for reading, hashing and compressing files.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "autovibe/v1/checkpoint.pb.h"
#include "common/core/result.h"
#include "worker-agent/snapshot/chunk_store.h"
#include "worker-agent/snapshot/create.h"
#include "worker-agent/snapshot/restore.h"
#include "worker-agent/snapshot/stat_cache.h"

namespace autovibe::snapshot {

struct CheckpointOptions {
  StoreOptions store;
  CreateOptions create;
};

struct CreateRequest {
  std::string workspace;
  std::string trigger = "manual";  // manual | auto | task_end | before_restore
  std::string task_id;
  std::string machine_id;
  std::string label;
  // When the workspace is as its head checkpoint left it, take none (automatic triggers).
  bool only_if_changed = false;
};

struct CreateResult {
  v1::CheckpointManifest manifest;  // the new one, or the head when nothing changed
  bool created = false;
  uint64_t files_read = 0;  // the rest came from the stat cache or the last walk
  bool full_walk = true;    // the whole tree was walked, not only what inotify saw change
  std::vector<std::string> skipped;
};

struct RestoreRequest {
  std::string id;
  std::string target;
  // Take the place of an existing directory (in place: the workspace then stands on `id`).
  bool replace = false;
  // Recorded in the before_restore checkpoint of what is replaced.
  std::string task_id;
  std::string machine_id;
  // Called with the before_restore checkpoint as soon as it is taken, even if the restore
  // then fails (it is in the store either way).
  std::function<void(const v1::CheckpointManifest&)> on_before;
};

struct RestoreResult {
  Restored restored;
  std::optional<v1::CheckpointManifest> before;  // taken of what was replaced, if it changed
  std::string not_kept;  // why what was replaced could not be kept first (too large)
};

struct Change {
  enum Kind { kAdded, kRemoved, kChanged };
  Kind kind;
  std::string path;
};

struct VerifyReport {
  uint64_t chunks = 0;
  uint64_t bytes = 0;
  std::vector<std::string> problems;  // "path: chunk H is corrupt: why"
};

struct Retention {
  size_t keep_auto = 20;    // the newest automatic checkpoints of each workspace
  int keep_daily_days = 7;  // and the newest one of each of the last D days (UTC)
};

struct PruneReport {
  std::vector<std::string> removed;
  uint64_t freed_bytes = 0;
};

class CheckpointStore {
 public:
  static Result<std::unique_ptr<CheckpointStore>> Open(const std::string& dir,
                                                       CheckpointOptions options);
  // Saves the stat caches (SaveCaches).
  ~CheckpointStore();

  Result<CreateResult> Create(const CreateRequest& request);
  Result<v1::CheckpointManifest> Get(const std::string& id) const;
  // Oldest first.
  std::vector<v1::CheckpointManifest> List() const;
  // The checkpoint `workspace` stands on (its next one's parent); empty when none.
  std::string Head(const std::string& workspace) const;

  // Writes checkpoint `id` to `target`. `replace` lets it take the place of an existing
  // directory (in place: the workspace then stands on `id`).
  Result<Restored> Restore(const std::string& id, const std::string& target, bool replace);
  Result<RestoreResult> Restore(const RestoreRequest& request);
  // Takes a checkpoint made elsewhere (snapshot/transfer.h brought its objects): refused,
  // naming what is missing, unless every tree and chunk it holds is here. Idempotent.
  Result<v1::CheckpointManifest> Import(const v1::CheckpointManifest& manifest);
  // What changed from checkpoint `from` to `to`, sorted by path.
  Result<std::vector<Change>> Diff(const std::string& from, const std::string& to) const;
  // Re-reads and re-hashes every chunk of the checkpoint.
  Result<VerifyReport> Verify(const std::string& id) const;
  // Removes one checkpoint (its children then hang from its parent; a workspace standing on
  // it stands on its parent) and the chunks no other checkpoint holds. Refused for a pinned
  // one (a task runs from it).
  Result<PruneReport> Delete(const std::string& id, const std::set<std::string>& pinned);
  // Keeps manual checkpoints, heads, pinned ones, and automatic ones as `retention` says;
  // removes the rest and collects their chunks.
  Result<PruneReport> Prune(const Retention& retention, const std::set<std::string>& pinned,
                            int64_t now_unix_ms);

  // Keeps these objects through deletes and retention for kHeld: a transfer asked about them
  // (present or not) and will import a checkpoint that uses them.
  static constexpr std::chrono::minutes kHeld{10};
  void Hold(std::span<const Hash> hashes);

  ChunkStore& chunks() { return *store_; }

  // Writes each workspace's stat cache as the last walk left it (at stop: the next start then
  // reads only what changed meanwhile).
  void SaveCaches();

 private:
  CheckpointStore(std::string dir, CheckpointOptions options)
      : dir_(std::move(dir)), options_(options) {}
  Result<void> Load();
  Result<void> SaveManifest(const v1::CheckpointManifest& m);
  Result<void> SaveHeads();
  WorkspaceState& StateFor(const std::string& workspace);
  std::string CachePath(const std::string& workspace) const;
  Result<PruneReport> Remove(const std::set<std::string>& ids);

  std::string dir_;
  CheckpointOptions options_;
  std::unique_ptr<ChunkStore> store_;
  std::map<std::string, v1::CheckpointManifest> manifests_;
  v1::CheckpointHeads heads_;
  std::map<std::string, WorkspaceState> states_;
  std::unordered_map<Hash, std::chrono::steady_clock::time_point, HashKey> held_;  // Hold()
};

}  // namespace autovibe::snapshot
