// Reading a checkpoint's trees back from the store, and judging them before use: a manifest
// may come from another machine, so nothing in it is trusted.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "autovibe/v1/checkpoint.pb.h"
#include "common/core/result.h"
#include "worker-agent/snapshot/chunk_store.h"
#include "worker-agent/snapshot/limits.h"

namespace autovibe::snapshot {

// The tree stored under `hash` (32 raw bytes), checked: every name one plain path component
// (not empty, ".", "..", nor holding '/' or NUL, at most kMaxNameBytes), names unique and
// sorted, hashes well formed, symbolic link targets as the kernel takes them (not empty, no
// NUL, at most kMaxTargetBytes). A link's target is kept as it is, absolute or leading out of
// the workspace: a restore creates the link and never follows it. `path` names the directory
// in errors.
Result<v1::Tree> LoadTree(const ChunkStore& store, std::string_view hash, const std::string& path);

// How WalkTrees reads each tree: judged by LoadTree, or only parsed (what retention needs:
// the hashes, whatever else a tree holds).
enum class TreeCheck { kJudged, kParsed };

struct TreeWalk {
  TreeCheck check = TreeCheck::kJudged;
  // Before a tree is read: false leaves it and everything under it out (seen before). Null:
  // every tree.
  std::function<bool(const Hash&)> enter;
  // Each tree, with its directory's path ("" for the root) and depth (the root is 0).
  std::function<Result<void>(const v1::Tree&, const std::string& path, int depth)> visit;
  // A tree that cannot be read, other than a hostile one: given here the walk goes on without
  // it; null: it ends the walk.
  std::function<void(const Error&)> unreadable;
};

// Walks the tree `root` (32 raw bytes) and every tree under it, depth first, each before what
// it holds, on an explicit stack (memory: the trees on the way down, not the whole). A
// directory deeper than kMaxDepth ends the walk with TooDeep, a path longer than
// kMaxPathBytes with TooLong; so does an error from `visit`.
Result<void> WalkTrees(const ChunkStore& store, std::string_view root, const TreeWalk& walk);

// "dir/name", or "name" at the root.
inline std::string JoinPath(const std::string& dir, std::string_view name) {
  return dir.empty() ? std::string(name) : dir + "/" + std::string(name);
}

}  // namespace autovibe::snapshot
