// GET /v1/checkpoints/{id}/archive: a workspace checkpoint as tar+zstd, streamed through the
// controller from a machine holding a copy (ready ones first; the next one when a machine
// cannot give it). The agent makes the archive a piece at a time (ArchiveAgents); the
// controller asks for the next piece only while the client keeps up, so it holds at most a
// couple of pieces per download, whatever the checkpoint's size.
//
// Answers: 404 for an unknown checkpoint, 503 when no machine holding it can be reached or
// give it (the message says which and why); else 200, application/zstd, with a
// Content-Disposition filename <id>.tar.zst. A machine lost mid-way cuts the body off (the
// chunked body has no end, which clients report as an error) and the log says why.
// Owner-thread only.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/http/http.h"
#include "controller/checkpoints/archive_agents.h"
#include "controller/checkpoints/checkpoint_service.h"
#include "controller/fleet/fleet.h"

namespace autovibe {

struct CheckpointArchivesDeps {
  const CheckpointService* checkpoints = nullptr;
  const Fleet* fleet = nullptr;
  ArchiveAgents* agents = nullptr;  // outlives every download
};

class CheckpointArchives {
 public:
  explicit CheckpointArchives(CheckpointArchivesDeps deps) : d_(deps) {}

  HttpResponse Export(std::string_view id);

 private:
  // The machines holding `c` whose agents can answer now, ready ones first, then busy, then
  // draining; `why` gets why the others cannot.
  std::vector<std::string> Holders(const CheckpointRecord& c, std::string& why) const;

  CheckpointArchivesDeps d_;
};

}  // namespace autovibe
