// Connects the budget book to the task book, both owned by the controller's thread: the budget
// book asks which task a lease is for, and tells the task book when a project's budget runs
// out (hold and pause or stop its tasks) or has room again (let them go on).
#pragma once

#include <functional>
#include <string>

#include "controller/budgets/budget_book.h"
#include "controller/tasks/task_book.h"

namespace autovibe {

class BudgetBridge final : public TaskLookup, public BudgetEffects {
 public:
  explicit BudgetBridge(TaskBook& tasks) : tasks_(tasks) {}

  // TaskLookup
  std::optional<LeaseTaskInfo> TaskForLease(std::string_view task_id) const override;

  // BudgetEffects
  void BudgetExhausted(const std::string& project, const std::string& resource,
                       const std::string& message, bool pause) override;
  void BudgetReplenished(const std::string& project) override;
  void TaskCapReached(const std::string& task_id, const std::string& message) override;

 private:
  TaskBook& tasks_;
};

}  // namespace autovibe
