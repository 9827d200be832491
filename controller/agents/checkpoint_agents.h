// CheckpointAgents over the bus: each question is a Command on <prefix>.cmd.<m> whose reply
// is read here (agents' CheckpointManifests become CheckpointReports), pins are published
// without waiting, and a transfer moves objects between two agents (checkpoint_transfer.h).
// Owner-thread only but for Transfer; replies are posted back to the owner thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <string>
#include <vector>

#include "common/bus/bus.h"
#include "common/bus/subjects.h"
#include "controller/checkpoints/checkpoint_agents.h"

namespace autovibe {
namespace v1 {
class Command;
class CommandReply;
}  // namespace v1

struct CheckpointAgentsDeps {
  boost::asio::io_context* ioc = nullptr;  // the owner thread answers are posted to
  Bus* bus = nullptr;
  std::string subject_prefix = "av";
};

class NatsCheckpointAgents final : public CheckpointAgents {
 public:
  explicit NatsCheckpointAgents(CheckpointAgentsDeps deps)
      : d_(std::move(deps)), subjects_(d_.subject_prefix) {}

  // CheckpointAgents
  void TakeCheckpoint(const std::string& machine_id, const std::string& task_id,
                      const std::string& label, Done<std::vector<CheckpointReport>> done) override;
  void Restore(const std::string& machine_id, const std::string& checkpoint_id,
               const std::string& task_id, Done<std::vector<CheckpointReport>> done) override;
  void Diff(const std::string& machine_id, const std::string& from, const std::string& to,
            Done<CheckpointDiff> done) override;
  void Delete(const std::string& machine_id, const std::string& checkpoint_id,
              Done<void> done) override;
  void Verify(const std::string& machine_id, const std::string& checkpoint_id,
              Done<void> done) override;
  void ListHeld(const std::string& machine_id, Done<std::vector<std::string>> done) override;
  void Pin(const std::string& machine_id, const std::vector<std::string>& checkpoint_ids) override;
  Result<TransferReport> Transfer(const TransferRequest& request) override;

 private:
  // Sends `cmd` to the machine; `done` gets, on the owner thread, the reply when it says ok,
  // else its error (ReadCommandReply).
  void Ask(const std::string& machine_id, v1::Command cmd, Duration timeout,
           Done<v1::CommandReply> done);

  CheckpointAgentsDeps d_;
  Subjects subjects_;
};

}  // namespace autovibe
