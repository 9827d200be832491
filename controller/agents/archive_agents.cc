#include "controller/agents/archive_agents.h"

#include <boost/asio/post.hpp>

#include "autovibe/v1/command.pb.h"
#include "common/bus/subjects.h"
#include "common/core/ids.h"
#include "controller/agents/checkpoint_transfer.h"

namespace autovibe {
namespace {

namespace asio = boost::asio;

// The agent makes pieces on its disk thread, behind any checkpoint it is taking: a piece may
// wait there for minutes. A reply can also be lost on the way (nats-server forgets which reply
// subjects an agent may answer on when its configuration is reloaded): a piece that did not
// come in time is asked for again, which costs the agent nothing (it sends the last piece
// again), kTries times in all.
constexpr auto kPieceTimeout = std::chrono::seconds(15);
constexpr int kTries = 8;
constexpr uint32_t kPieceBytes = 512 << 10;  // well inside a bus message

}  // namespace

void NatsArchiveAgents::Piece(const std::string& machine_id, const std::string& checkpoint_id,
                              const std::string& export_id, uint64_t offset,
                              Done<ArchivePiece> done) {
  v1::Command cmd;
  auto* e = cmd.mutable_export_archive();
  e->set_checkpoint_id(checkpoint_id);
  e->set_export_id(export_id);
  e->set_offset(offset);
  e->set_max_bytes(kPieceBytes);
  Ask(machine_id, std::move(cmd), 1, std::move(done));
}

void NatsArchiveAgents::Ask(const std::string& machine_id, v1::Command cmd, int attempt,
                            Done<ArchivePiece> done) {
  cmd.set_command_id(NewId("c"));
  const std::string bytes = cmd.SerializeAsString();
  d_.bus->RequestAsync(
      Subjects(d_.subject_prefix).Command(machine_id), bytes, kPieceTimeout,
      [this, ioc = d_.ioc, machine_id, cmd = std::move(cmd), attempt,
       done = std::move(done)](Result<std::string> raw) mutable {
        asio::post(*ioc, [this, machine_id, cmd = std::move(cmd), attempt, done = std::move(done),
                          raw = std::move(raw)]() mutable {
          if (!raw && raw.error().code == ErrorCode::kTimeout && attempt < kTries) {
            return Ask(machine_id, std::move(cmd), attempt + 1, std::move(done));
          }
          auto reply = ReadCommandReply(machine_id, raw);
          if (!reply) return done(reply.error());
          const uint64_t total = reply->total();
          done(ArchivePiece{std::move(*reply->mutable_data()), total != 0, total});
        });
      });
}

}  // namespace autovibe
