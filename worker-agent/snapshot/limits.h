// How deep and how large a workspace a checkpoint takes. Every walk of a workspace or of a
// stored tree (scan, tree writing, restore, transfer, retention, diff, verify) goes through an
// explicit stack, never recursion, and applies these same limits in the same way, so a
// hostile workspace or manifest fails one checkpoint with a reason instead of the agent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/core/result.h"

namespace autovibe::snapshot {

// Directories below the workspace root (the root is 0; "a/b" is 2). Deeper is refused.
inline constexpr int kMaxDepth = 4096;
// Files, directories and symbolic links in one workspace: a checkpoint holds its whole walk
// in memory (some hundred bytes each).
inline constexpr uint64_t kMaxEntries = 4'000'000;
// One directory's stored tree: it must fit one object (transfer.h, PartReceiver::kMaxObject).
inline constexpr size_t kMaxTreeBytes = 64ull << 20;
// A path inside the workspace, in bytes: past PATH_MAX (4096) only the agent's piecewise
// lookups reach it (beneath.h); this bounds what every walk holds per file.
inline constexpr size_t kMaxPathBytes = 16 << 10;
// What the kernel allows: one name (NAME_MAX), a symbolic link's target (PATH_MAX - 1).
inline constexpr size_t kMaxNameBytes = 255;
inline constexpr size_t kMaxTargetBytes = 4095;

// `path` for an error message: a hostile one can be tens of kilobytes long.
inline std::string ShortPath(std::string_view path) {
  constexpr size_t kShown = 120;
  if (path.empty()) return ".";
  if (path.size() <= kShown) return std::string(path);
  return std::string(path.substr(0, kShown)) + "... (" + std::to_string(path.size()) + " bytes)";
}

// The one error for a directory past kMaxDepth, wherever it is found.
inline Error TooDeep(std::string_view path) {
  return MakeError(ErrorCode::kTooLarge, "the workspace is more than " + std::to_string(kMaxDepth) +
                                             " directories deep (at " + ShortPath(path) +
                                             "): a checkpoint cannot hold it");
}

// The one error for a workspace of more than kMaxEntries (or the `limit` a test sets).
inline Error TooMany(uint64_t limit = kMaxEntries) {
  return MakeError(ErrorCode::kTooLarge, "the workspace holds more than " + std::to_string(limit) +
                                             " files, directories and links: a checkpoint "
                                             "cannot hold it");
}

// The one error for a path longer than kMaxPathBytes.
inline Error TooLong(std::string_view path) {
  return MakeError(ErrorCode::kTooLarge, "a path in the workspace is longer than " +
                                             std::to_string(kMaxPathBytes) + " bytes (" +
                                             ShortPath(path) + "): a checkpoint cannot hold it");
}

}  // namespace autovibe::snapshot
