// ArchiveAgents over the bus: ExportArchive commands on <prefix>.cmd.<m>.
// Owner-thread only; replies are posted back to the owner thread. Outlives every request it
// sent (the controller keeps it to its end, as it keeps the bus).
#pragma once

#include <boost/asio/io_context.hpp>
#include <string>

#include "common/bus/bus.h"
#include "controller/checkpoints/archive_agents.h"

namespace autovibe {
namespace v1 {
class Command;
}  // namespace v1

struct ArchiveAgentsDeps {
  boost::asio::io_context* ioc = nullptr;
  Bus* bus = nullptr;
  std::string subject_prefix = "av";
};

class NatsArchiveAgents final : public ArchiveAgents {
 public:
  explicit NatsArchiveAgents(ArchiveAgentsDeps deps) : d_(std::move(deps)) {}

  // ArchiveAgents
  void Piece(const std::string& machine_id, const std::string& checkpoint_id,
             const std::string& export_id, uint64_t offset, Done<ArchivePiece> done) override;

 private:
  // Sends `cmd`; asks again while no answer comes in time (attempt of kTries).
  void Ask(const std::string& machine_id, v1::Command cmd, int attempt, Done<ArchivePiece> done);

  ArchiveAgentsDeps d_;
};

}  // namespace autovibe
