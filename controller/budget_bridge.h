// Connects the budget book to the task book, both owned by the controller's thread: the budget
// book asks which task a lease is for, and tells the task book when a project's budget runs
// out (hold and pause or stop its tasks) or has room again (let them go on). Each of those
// decisions, and each alert (AuditAlertSink), is written to the audit log.
#pragma once

#include <functional>
#include <string>

#include "controller/budgets/alerts.h"
#include "controller/budgets/budget_book.h"
#include "controller/model/audit_log.h"
#include "controller/task_audit.h"
#include "controller/tasks/task_book.h"

namespace autovibe {

class BudgetBridge final : public TaskLookup, public BudgetEffects {
 public:
  explicit BudgetBridge(TaskBook& tasks, AuditLog* audit = nullptr)
      : tasks_(tasks), audit_(audit) {}

  // TaskLookup
  std::optional<LeaseTaskInfo> TaskForLease(std::string_view task_id) const override;

  // BudgetEffects
  void BudgetExhausted(const std::string& project, const std::string& resource,
                       const std::string& message, bool pause) override;
  void BudgetReplenished(const std::string& project) override;
  void TaskCapReached(const std::string& task_id, const std::string& message) override;

 private:
  TaskBook& tasks_;
  AuditLog* audit_;
};

// Writes each budget alert to the audit log ("controller:budget_alert", or
// "controller:budget_exhausted" at 100%), then passes it on to `next`.
class AuditAlertSink final : public AlertSink {
 public:
  AuditAlertSink(AuditLog& audit, AlertSink& next) : audit_(audit), next_(next) {}
  void Alert(const BudgetAlert& a) override;

 private:
  AuditLog& audit_;
  AlertSink& next_;
};

}  // namespace autovibe
