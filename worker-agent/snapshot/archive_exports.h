// The checkpoint archives being read (archive.h), by export id: each keeps its place between
// the pieces the controller asks for (ExportArchive in command.proto), so the next piece costs
// only its own bytes. A piece asked for again (a lost reply) is sent again; a piece at any other
// place (an export this agent forgot, after a restart or once it was idle too long) starts the
// archive again and skips to it: the same checkpoint gives the same bytes.
//
// Not thread-safe: the agent's disk thread owns it, with the store.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "common/core/result.h"
#include "worker-agent/snapshot/archive.h"
#include "worker-agent/snapshot/checkpoint_store.h"

namespace autovibe::snapshot {

struct ArchivePieceRequest {
  std::string checkpoint_id;
  std::string export_id;
  uint64_t offset = 0;  // into the archive
  size_t max_bytes = 0;
};

struct ArchivePiece {
  std::string data;
  bool last = false;   // the archive ends with this piece
  uint64_t total = 0;  // the archive's whole size, once `last`
};

class ArchiveExports {
 public:
  // Exports kept at once (the least recently read goes first), and how long one is kept idle.
  static constexpr size_t kMaxExports = 4;
  static constexpr std::chrono::minutes kIdle{10};

  explicit ArchiveExports(ArchiveOptions options = {}) : options_(options) {}

  // The piece of checkpoint `checkpoint_id`'s archive at `offset`: "not_found" when the store
  // lacks the checkpoint, "bad_request" for an offset past the archive's end or a malformed
  // export id, else what the archive met (a corrupt chunk, a hostile tree).
  Result<ArchivePiece> Piece(CheckpointStore& store, const ArchivePieceRequest& request);
  // The checkpoints being read: retention leaves them alone meanwhile.
  std::set<std::string> Checkpoints() const;

 private:
  struct Export {
    std::string checkpoint_id;
    std::unique_ptr<ArchiveWriter> writer;
    bool sent = false;  // a piece has been sent: `last_offset` and `last` hold it
    uint64_t last_offset = 0;
    ArchivePiece last;
    std::chrono::steady_clock::time_point used;
  };
  Result<Export> Start(CheckpointStore& store, const ArchivePieceRequest& request) const;
  void Forget(std::chrono::steady_clock::time_point now);

  ArchiveOptions options_;
  std::map<std::string, Export> exports_;
};

}  // namespace autovibe::snapshot
