#include "controller/budget_bridge.h"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>

namespace autovibe {

std::optional<LeaseTaskInfo> BudgetBridge::TaskForLease(std::string_view task_id) const {
  const TaskRecord* t = tasks_.Find(task_id);
  if (t == nullptr) return std::nullopt;
  const ProjectRecord* p = tasks_.FindProject(t->project);
  return LeaseTaskInfo{.project = t->project,
                       .machine_id = tasks_.AttemptMachine(task_id),
                       .attempt = t->attempts,
                       .placed = IsPlaced(t->state),
                       .max_usd_micros = t->spec.max_usd_micros,
                       .project_stopped = p != nullptr && p->stopped};
}

void BudgetBridge::BudgetExhausted(const std::string& project, const std::string& resource,
                                   const std::string& message, bool pause) {
  // The tasks it stops: every placed task of the project.
  std::vector<std::string> placed;
  for (const TaskRecord* t : tasks_.List(project, std::nullopt, SIZE_MAX)) {
    if (IsPlaced(t->state)) placed.push_back(t->id);
  }
  const TaskChanges stopped(tasks_, placed);
  auto c = tasks_.BudgetExhausted(project, message, pause);
  AuditRecord r = Decision("budget_exhausted", pause ? "project.pause" : "project.stop", "project",
                           project, project);
  if (c) {
    r.details = boost::json::serialize(boost::json::object{{"resource", resource},
                                                           {"message", message},
                                                           {"paused", c->paused},
                                                           {"cancelled", c->cancelled},
                                                           {"held", c->held}});
  } else {
    r.result = "error";
    r.error = c.error().message;
  }
  Audit(audit_, std::move(r));
  stopped.Audit(audit_, "budget_exhausted", "");
  if (!c) {
    // The hold stands (leases are refused all the same); the tasks stay as the store has them.
    spdlog::error("project {} budget {} exhausted, but its tasks could not be held: {}", project,
                  resource, c.error().message);
    return;
  }
  spdlog::warn("project {} budget {} exhausted: {} paused, {} cancelled, {} held", project,
               resource, c->paused, c->cancelled, c->held);
}

void BudgetBridge::BudgetReplenished(const std::string& project) {
  auto c = tasks_.BudgetReplenished(project);
  AuditRecord r = Decision("budget_replenished", "project.release", "project", project, project);
  if (c) {
    r.details = boost::json::serialize(boost::json::object{{"released", c->released}});
  } else {
    r.result = "error";
    r.error = c.error().message;
  }
  Audit(audit_, std::move(r));
  if (!c) {
    spdlog::error("project {} budget replenished, but its tasks could not be released: {}", project,
                  c.error().message);
  } else if (c->released > 0) {
    spdlog::info("project {} budget replenished: {} tasks go on", project, c->released);
  }
}

void BudgetBridge::TaskCapReached(const std::string& task_id, const std::string& message) {
  const TaskRecord* t = tasks_.Find(task_id);
  AuditRecord record =
      Decision("task_budget_cap", "task.cancel", "task", task_id, t != nullptr ? t->project : "");
  record.details = DetailsJson({{"message", message}});
  if (auto r = tasks_.TaskCapReached(task_id, message); !r) {
    spdlog::error("task {} reached its cap but could not be cancelled: {}", task_id,
                  r.error().message);
    record.result = "error";
    record.error = r.error().message;
  }
  Audit(audit_, std::move(record));
}

void AuditAlertSink::Alert(const BudgetAlert& a) {
  AuditRecord r = Decision(a.threshold >= 100 ? "budget_exhausted" : "budget_alert", "budget.alert",
                           "project", a.project, a.project);
  r.details =
      boost::json::serialize(boost::json::object{{"resource", ToString(a.resource)},
                                                 {"period", ToString(a.period)},
                                                 {"threshold", a.threshold},
                                                 {"spent", PlainAmount(a.resource, a.spent)},
                                                 {"limit", PlainAmount(a.resource, a.limit)}});
  audit_.Record(std::move(r));
  next_.Alert(a);
}

}  // namespace autovibe
