// Audit records for the tasks a decision of the controller changed (a machine lost, a budget
// used up): their states are noted before it, and each task whose state then differs gets a
// record ("task.requeue" when back in the queue, else "task.<state>"). Owner-thread only.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "controller/model/audit_log.h"
#include "controller/tasks/task_book.h"

namespace autovibe {

class TaskChanges {
 public:
  TaskChanges(const TaskBook& book, const std::vector<std::string>& ids);

  // One record per changed task, under `rule`, naming `machine` ("" for none) and the task's
  // reason. Nothing when `log` is null.
  void Audit(AuditLog* log, std::string_view rule, const std::string& machine) const;

 private:
  const TaskBook& book_;
  std::vector<std::pair<std::string, TaskState>> before_;
};

}  // namespace autovibe
