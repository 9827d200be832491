// The controller's reactions to the fleet and the task book, in one place each: every cause
// of a machine going away (lost, agent stopped or restarted, terminated, failed) reaches
// MachineReactions::MachineDown, which lists everything that follows; what the task book does
// reaches live followers and the fleet through TaskReactions; TaskBookFacts answers the
// checkpoint service's questions about tasks. Owner-thread only.
#pragma once

#include "controller/api/task_followers.h"
#include "controller/budgets/budget_book.h"
#include "controller/checkpoints/checkpoint_service.h"
#include "controller/checkpoints/task_facts.h"
#include "controller/fleet/fleet.h"
#include "controller/fleet/machine_listener.h"
#include "controller/machines/nats_auth.h"
#include "controller/model/audit_log.h"
#include "controller/notify/notifier.h"
#include "controller/results/result_keeper.h"
#include "controller/store/write_batch.h"
#include "controller/task_audit.h"
#include "controller/tasks/task_book.h"

namespace autovibe {

class TaskBookFacts final : public TaskFacts {
 public:
  explicit TaskBookFacts(const TaskBook& tasks) : tasks_(tasks) {}

  // TaskFacts
  bool Unfinished(std::string_view task_id) const override { return tasks_.Unfinished(task_id); }
  std::string MachineOf(std::string_view task_id) const override {
    return tasks_.MachineOf(task_id);
  }
  std::vector<std::string> StartingPoints() const override { return tasks_.StartingPoints(); }
  bool IsStartingPoint(std::string_view checkpoint_id) const override {
    return tasks_.IsStartingPoint(checkpoint_id);
  }

 private:
  const TaskBook& tasks_;
};

struct MachineReactionsDeps {
  const Fleet* fleet = nullptr;
  WriteBatch* batch = nullptr;
  TaskBook* tasks = nullptr;
  BudgetBook* budgets = nullptr;
  CheckpointService* checkpoints = nullptr;
  const TaskFacts* task_facts = nullptr;
  NatsAuth* nats_auth = nullptr;  // null: the bus has no per-machine users
  Notifier* notifier = nullptr;   // null: nobody is told
  AuditLog* audit = nullptr;      // machines lost and their tasks requeued are written here
};

class MachineReactions final : public MachineListener {
 public:
  explicit MachineReactions(MachineReactionsDeps deps) : d_(deps) {}

  // MachineListener
  void MachineRegistered(const MachineRecord& m, const std::vector<std::string>& running) override;
  void MachineChanged(const MachineRecord& m) override;
  void MachineDown(const MachineRecord& m, MachineDownCause cause, const std::string& why) override;
  void ReportedRunning(const std::string& machine_id,
                       const std::vector<std::string>& task_ids) override;

 private:
  // Tells the task book what the fleet says of a machine (tools, labels, slots, whether it
  // takes work).
  void Sync(const MachineRecord& m);
  // Audit records of a machine going down and of what became of the tasks it held.
  void AuditDown(const MachineRecord& m, MachineDownCause cause, const std::string& why,
                 const TaskChanges& held);

  MachineReactionsDeps d_;
};

class TaskReactions final : public TaskObserver {
 public:
  TaskReactions(TaskFollowers& followers, Fleet& fleet) : followers_(followers), fleet_(fleet) {}

  // TaskObserver
  void TaskChanged(const TaskRecord& t) override {
    followers_.TaskChanged(t);
    if (results_ != nullptr) results_->TaskChanged(t);
    if (auto n = TaskNotification(t); n && notifier_ != nullptr) notifier_->Notify(*n);
  }
  // Keeps repository tasks' results from now on (made after the task book).
  void SetResults(ResultKeeper* results) { results_ = results; }
  // Tells webhooks of tasks that end (made after the task book).
  void SetNotifier(Notifier* notifier) { notifier_ = notifier; }
  void TaskLogged(const TaskRecord& t, const TaskLogChunk& chunk) override {
    followers_.TaskLogged(t, chunk);
  }
  void MachineBusy(const std::string& machine_id, bool busy) override {
    fleet_.SetBusy(machine_id, busy);
  }

 private:
  TaskFollowers& followers_;
  Fleet& fleet_;
  ResultKeeper* results_ = nullptr;
  Notifier* notifier_ = nullptr;
};

}  // namespace autovibe
