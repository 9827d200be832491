// A checkpoint as a tar archive compressed with zstd (what `autovibe checkpoint export` and
// GET /v1/checkpoints/{id}/archive give), made from the store a piece at a time.
//
// The archive holds the workspace as the checkpoint has it: directories (empty ones too),
// regular files with their permission bits and modification times, symbolic links as links
// (their targets as stored, never followed). Paths are relative to the workspace ("src/a.c"; the
// workspace itself is not an entry), so they never start with '/' and hold no "..": every tree
// is judged as a restore judges it (tree.h) and a hostile one ends the archive with
// kHostileManifest. POSIX pax format (long and non-ASCII names), written by libarchive.
//
// Memory: the trees on the way down, one chunk, and at most one piece plus what one chunk
// compresses to; never the whole archive. The same checkpoint gives the same bytes each time
// (with the same libarchive and zstd), so a reader that lost its place can start again and
// skip to where it was (archive_exports.h).
//
// Not thread-safe; the store must outlive the writer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "autovibe/v1/checkpoint.pb.h"
#include "common/core/result.h"
#include "worker-agent/snapshot/chunk_store.h"

namespace autovibe::snapshot {

struct ArchiveOptions {
  int zstd_level = 3;
};

class ArchiveWriter {
 public:
  static Result<std::unique_ptr<ArchiveWriter>> Open(const ChunkStore& store,
                                                     const v1::CheckpointManifest& manifest,
                                                     ArchiveOptions options = {});
  ~ArchiveWriter();
  ArchiveWriter(const ArchiveWriter&) = delete;
  ArchiveWriter& operator=(const ArchiveWriter&) = delete;

  // The archive's next bytes: `max_bytes` of them (at least 1), fewer only where it ends.
  // An error (a missing or corrupt chunk, a hostile tree) ends the archive: every later call
  // returns it again.
  Result<std::string> Next(size_t max_bytes);
  // Every byte has been handed out.
  bool done() const;
  // Bytes handed out so far.
  uint64_t position() const { return position_; }

 private:
  struct State;
  explicit ArchiveWriter(std::unique_ptr<State> state);
  // One step: one entry's header, or one chunk of a file, or the end of the archive.
  Result<void> Step();

  std::unique_ptr<State> s_;
  uint64_t position_ = 0;
};

}  // namespace autovibe::snapshot
