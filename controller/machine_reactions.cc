#include "controller/machine_reactions.h"

#include <spdlog/spdlog.h>

namespace autovibe {
namespace {

bool Accepting(MachineState s) { return s == MachineState::kReady || s == MachineState::kBusy; }

// A reaction whose writes failed has been undone by the task book (which reloaded what the
// store holds); the machine's next heartbeat or registration brings it up again.
void Report(const Result<void>& r) {
  if (!r) spdlog::error("tasks could not follow a machine's change: {}", r.error().message);
}

}  // namespace

void MachineReactions::Sync(const MachineRecord& m) {
  // Every machine carries its own id as a label, so a paused task can be pinned to the
  // machine that holds its workspace.
  auto labels = m.labels;
  labels["autovibe.machine"] = m.id;
  Report(d_.tasks->MachineUpdated(m.id, m.tools, labels, m.task_slots, Accepting(m.state)));
}

void MachineReactions::MachineRegistered(const MachineRecord& m,
                                         const std::vector<std::string>& running) {
  Sync(m);
  Report(d_.tasks->ReportedRunning(m.id, running));
  // After its answer (the caller queued it first, and AfterCommit keeps the order): the
  // agent's retention waits for its first pins, and the catalogue learns which copies its
  // store still has.
  d_.batch->AfterCommit([checkpoints = d_.checkpoints, facts = d_.task_facts, id = m.id] {
    checkpoints->MachineRegistered(id, *facts);
  });
}

void MachineReactions::MachineChanged(const MachineRecord& m) { Sync(m); }

void MachineReactions::MachineDown(const MachineRecord& m, MachineDownCause cause,
                                   const std::string& why) {
  // No new task lands there; what it ran is retried elsewhere (or resumes from a checkpoint).
  if (d_.fleet->Find(m.id) != nullptr) Sync(m);
  const TaskChanges held(*d_.tasks, d_.tasks->scheduler().Held(m.id));
  Report(d_.tasks->MachineGone(m.id, why));
  if (d_.notifier != nullptr && cause == MachineDownCause::kLost) {
    d_.notifier->Notify(MachineLostNotification(m, why));
  }
  if (d_.notifier != nullptr && cause == MachineDownCause::kFailed) {
    d_.notifier->Notify(SpawnFailedNotification(m, why));
  }
  AuditDown(m, cause, why, held);
  switch (cause) {
    case MachineDownCause::kLost:
    case MachineDownCause::kAgentStopped:
      // It may come back: its leases run out by themselves (an agent cut off stops spending
      // when they do), and what its outbox holds still counts when it arrives.
      break;
    case MachineDownCause::kAgentRestarted:
      // The old process's leases are closed at what they settled; the new one asks afresh.
      d_.budgets->MachineRestarted(m.id);
      break;
    case MachineDownCause::kTerminated:
    case MachineDownCause::kFailed:
      d_.budgets->MachineForgotten(m.id);
      if (d_.nats_auth != nullptr) d_.nats_auth->Forget(m.id);
      break;
  }
}

void MachineReactions::AuditDown(const MachineRecord& m, MachineDownCause cause,
                                 const std::string& why, const TaskChanges& held) {
  const std::string rule =
      cause == MachineDownCause::kLost ? "machine_lost" : "machine_" + std::string(ToString(cause));
  if (cause == MachineDownCause::kLost) {
    AuditRecord r = Decision(rule, "machine.lost", "machine", m.id);
    r.details = DetailsJson({{"name", m.name}, {"why", why}});
    Audit(d_.audit, std::move(r));
  }
  held.Audit(d_.audit, rule, m.id);
}

void MachineReactions::ReportedRunning(const std::string& machine_id,
                                       const std::vector<std::string>& task_ids) {
  Report(d_.tasks->ReportedRunning(machine_id, task_ids));
}

}  // namespace autovibe
