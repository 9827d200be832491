#include "controller/agents/machine_commands.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "autovibe/v1/command.pb.h"
#include "common/bus/subjects.h"
#include "common/core/ids.h"

namespace autovibe {

void NatsMachineAgents::Drain(const std::string& machine_id) { Send(machine_id, false); }

void NatsMachineAgents::Shutdown(const std::string& machine_id) { Send(machine_id, true); }

void NatsMachineAgents::Send(const std::string& machine_id, bool shutdown) {
  v1::Command cmd;
  cmd.set_command_id(NewId("c"));
  if (shutdown) {
    cmd.mutable_shutdown();
  } else {
    cmd.mutable_drain();
  }
  if (auto r = bus_.Publish(Subjects(prefix_).Command(machine_id), cmd.SerializeAsString()); !r) {
    spdlog::warn("machines cannot tell {} to {}: {}", machine_id, shutdown ? "stop" : "drain",
                 r.error().message);
  }
}

void NatsMachineAgents::SyncDisks(const std::string& machine_id, Duration timeout,
                                  std::function<void(Result<void>)> done) {
  v1::Command sync;
  sync.set_command_id(NewId("c"));
  sync.mutable_sync_disks();
  bus_.RequestAsync(Subjects(prefix_).Command(machine_id), sync.SerializeAsString(), timeout,
                    [ioc = &ioc_, alive = alive_, done = std::move(done)](Result<std::string> raw) {
                      Result<void> outcome;
                      if (!raw) outcome = raw.error();
                      boost::asio::post(*ioc, [alive, done, outcome] {
                        if (*alive) done(outcome);
                      });
                    });
}

}  // namespace autovibe
