#include "controller/agents/archive_agents.h"

#include <boost/asio/post.hpp>

#include "autovibe/v1/command.pb.h"
#include "common/bus/subjects.h"
#include "common/core/ids.h"
#include "controller/agents/checkpoint_transfer.h"

namespace autovibe {
namespace {

namespace asio = boost::asio;

// The agent makes pieces on its disk thread, behind any checkpoint it is taking.
constexpr auto kPieceTimeout = std::chrono::seconds(120);
constexpr uint32_t kPieceBytes = 512 << 10;  // well inside a bus message

}  // namespace

void NatsArchiveAgents::Piece(const std::string& machine_id, const std::string& checkpoint_id,
                              const std::string& export_id, uint64_t offset,
                              Done<ArchivePiece> done) {
  v1::Command cmd;
  cmd.set_command_id(NewId("c"));
  auto* e = cmd.mutable_export_archive();
  e->set_checkpoint_id(checkpoint_id);
  e->set_export_id(export_id);
  e->set_offset(offset);
  e->set_max_bytes(kPieceBytes);
  d_.bus->RequestAsync(Subjects(d_.subject_prefix).Command(machine_id), cmd.SerializeAsString(),
                       kPieceTimeout,
                       [ioc = d_.ioc, machine_id, done = std::move(done)](Result<std::string> raw) {
                         asio::post(*ioc, [machine_id, done, raw = std::move(raw)] {
                           auto reply = ReadCommandReply(machine_id, raw);
                           if (!reply) return done(reply.error());
                           const uint64_t total = reply->total();
                           done(ArchivePiece{std::move(*reply->mutable_data()), total != 0, total});
                         });
                       });
}

}  // namespace autovibe
