// Reading a checkpoint's trees back from the store, and judging them before use: a manifest
// may come from another machine, so nothing in it is trusted.
#pragma once

#include <string>
#include <string_view>

#include "autovibe/v1/checkpoint.pb.h"
#include "common/core/result.h"
#include "worker-agent/snapshot/chunk_store.h"

namespace autovibe::snapshot {

// The tree stored under `hash` (32 raw bytes), checked: every name one plain path component
// (not empty, ".", "..", nor holding '/' or NUL), names unique, hashes well formed, symbolic
// links relative and staying inside the workspace. `path` names the directory in errors.
Result<v1::Tree> LoadTree(const ChunkStore& store, std::string_view hash, const std::string& path);

// Whether a symbolic link at `dir_depth` directories below the workspace root, pointing at
// `target`, stays inside the workspace when read as a path (absolute targets never do).
bool TargetStaysInside(std::string_view target, int dir_depth);

// "dir/name", or "name" at the root.
inline std::string JoinPath(const std::string& dir, std::string_view name) {
  return dir.empty() ? std::string(name) : dir + "/" + std::string(name);
}

}  // namespace autovibe::snapshot
