#include "controller/agents/checkpoint_agents.h"

#include <boost/asio/post.hpp>

#include "autovibe/v1/command.pb.h"
#include "common/core/ids.h"
#include "controller/agents/agent_event_codec.h"
#include "controller/agents/checkpoint_transfer.h"

namespace autovibe {
namespace {

namespace asio = boost::asio;

// Taking, restoring or verifying a checkpoint reads or writes a whole workspace.
constexpr auto kDiskCommandTimeout = std::chrono::seconds(120);
constexpr auto kQuickCommandTimeout = std::chrono::seconds(30);

std::vector<CheckpointReport> Reports(const v1::CommandReply& reply) {
  std::vector<CheckpointReport> out;
  for (const auto& m : reply.checkpoints()) out.push_back(FromProto(m));
  return out;
}

CheckpointChange::Kind KindOf(v1::CheckpointChange::Kind k) {
  switch (k) {
    case v1::CheckpointChange::ADDED:
      return CheckpointChange::Kind::kAdded;
    case v1::CheckpointChange::REMOVED:
      return CheckpointChange::Kind::kRemoved;
    default:
      return CheckpointChange::Kind::kChanged;
  }
}

// The answer to a command whose reply carries nothing but whether it worked.
CheckpointAgents::Done<v1::CommandReply> Nothing(CheckpointAgents::Done<void> done) {
  return [done = std::move(done)](Result<v1::CommandReply> reply) {
    if (!reply) return done(reply.error());
    done(Result<void>{});
  };
}

}  // namespace

void NatsCheckpointAgents::Ask(const std::string& machine_id, v1::Command cmd, Duration timeout,
                               Done<v1::CommandReply> done) {
  cmd.set_command_id(NewId("c"));
  // Captures nothing of this: the answer may come after the service asking has stopped (it
  // drops it then), never after the bus is gone.
  d_.bus->RequestAsync(subjects_.Command(machine_id), cmd.SerializeAsString(), timeout,
                       [ioc = d_.ioc, machine_id, done = std::move(done)](Result<std::string> raw) {
                         asio::post(*ioc, [machine_id, done, raw = std::move(raw)] {
                           done(ReadCommandReply(machine_id, raw));
                         });
                       });
}

void NatsCheckpointAgents::TakeCheckpoint(const std::string& machine_id, const std::string& task_id,
                                          const std::string& label,
                                          Done<std::vector<CheckpointReport>> done) {
  v1::Command cmd;
  cmd.mutable_checkpoint_now()->set_task_id(task_id);
  cmd.mutable_checkpoint_now()->set_label(label);
  Ask(machine_id, std::move(cmd), kDiskCommandTimeout,
      [done = std::move(done)](Result<v1::CommandReply> reply) {
        if (!reply) return done(reply.error());
        done(Reports(*reply));
      });
}

void NatsCheckpointAgents::Restore(const std::string& machine_id, const std::string& checkpoint_id,
                                   const std::string& task_id,
                                   Done<std::vector<CheckpointReport>> done) {
  v1::Command cmd;
  cmd.mutable_restore_checkpoint()->set_checkpoint_id(checkpoint_id);
  cmd.mutable_restore_checkpoint()->set_task_id(task_id);
  Ask(machine_id, std::move(cmd), kDiskCommandTimeout,
      [done = std::move(done)](Result<v1::CommandReply> reply) {
        if (!reply) return done(reply.error());
        done(Reports(*reply));
      });
}

void NatsCheckpointAgents::Diff(const std::string& machine_id, const std::string& from,
                                const std::string& to, Done<CheckpointDiff> done) {
  v1::Command cmd;
  cmd.mutable_diff_checkpoints()->set_from(from);
  cmd.mutable_diff_checkpoints()->set_to(to);
  Ask(machine_id, std::move(cmd), kQuickCommandTimeout,
      [done = std::move(done)](Result<v1::CommandReply> reply) {
        if (!reply) return done(reply.error());
        CheckpointDiff diff;
        for (const auto& c : reply->changes()) diff.changes.push_back({KindOf(c.kind()), c.path()});
        // An older agent leaves changes_total unset.
        diff.total = std::max<uint64_t>(reply->changes_total(), reply->changes_size());
        done(std::move(diff));
      });
}

void NatsCheckpointAgents::Delete(const std::string& machine_id, const std::string& checkpoint_id,
                                  Done<void> done) {
  v1::Command cmd;
  cmd.mutable_delete_checkpoint()->set_checkpoint_id(checkpoint_id);
  Ask(machine_id, std::move(cmd), kQuickCommandTimeout, Nothing(std::move(done)));
}

void NatsCheckpointAgents::Verify(const std::string& machine_id, const std::string& checkpoint_id,
                                  Done<void> done) {
  v1::Command cmd;
  cmd.mutable_verify_checkpoint()->set_checkpoint_id(checkpoint_id);
  Ask(machine_id, std::move(cmd), kDiskCommandTimeout, Nothing(std::move(done)));
}

void NatsCheckpointAgents::ListHeld(const std::string& machine_id,
                                    Done<std::vector<std::string>> done) {
  v1::Command cmd;
  cmd.mutable_list_checkpoints();
  Ask(machine_id, std::move(cmd), kQuickCommandTimeout,
      [done = std::move(done)](Result<v1::CommandReply> reply) {
        if (!reply) return done(reply.error());
        done(std::vector<std::string>(reply->checkpoint_ids().begin(),
                                      reply->checkpoint_ids().end()));
      });
}

void NatsCheckpointAgents::Pin(const std::string& machine_id,
                               const std::vector<std::string>& checkpoint_ids) {
  v1::Command cmd;
  cmd.set_command_id(NewId("c"));
  // Set even when empty: an empty pin list unpins everything.
  v1::PinCheckpoints* pins = cmd.mutable_pin_checkpoints();
  for (const auto& id : checkpoint_ids) pins->add_checkpoint_ids(id);
  (void)d_.bus->Publish(subjects_.Command(machine_id), cmd.SerializeAsString());
}

Result<TransferReport> NatsCheckpointAgents::Transfer(const TransferRequest& request) {
  return TransferCheckpoint(*d_.bus, subjects_, request, kQuickCommandTimeout);
}

}  // namespace autovibe
