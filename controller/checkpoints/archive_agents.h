// What the controller asks of the agents holding a checkpoint for its archive (a tar+zstd of
// the workspace, GET /v1/checkpoints/{id}/archive): the archive's next piece, made by the agent
// on request. The bus edge (agents/archive_agents.h) carries it as an ExportArchive command.
//
// Threads: called on the owner thread; `done` runs once, later, on the owner thread.
// Errors: "unavailable" when the machine did not answer, else the agent's code ("not_found"
// when its store lacks the checkpoint, "corrupt", "hostile_manifest", ...).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/core/result.h"

namespace autovibe {

struct ArchivePiece {
  std::string data;
  bool last = false;   // the archive ends with this piece
  uint64_t total = 0;  // the archive's whole size, once `last`
};

class ArchiveAgents {
 public:
  template <class T>
  using Done = std::function<void(Result<T>)>;
  virtual ~ArchiveAgents() = default;

  // The piece of checkpoint `checkpoint_id`'s archive at `offset` (at most 512 KiB) from the
  // machine's store. One export's pieces share `export_id` and are asked for in order, one at
  // a time: the agent keeps its place between them.
  virtual void Piece(const std::string& machine_id, const std::string& checkpoint_id,
                     const std::string& export_id, uint64_t offset, Done<ArchivePiece> done) = 0;
};

}  // namespace autovibe
