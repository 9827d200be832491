#include "controller/task_audit.h"

namespace autovibe {

TaskChanges::TaskChanges(const TaskBook& book, const std::vector<std::string>& ids) : book_(book) {
  for (const std::string& id : ids) {
    if (const TaskRecord* t = book.Find(id)) before_.emplace_back(id, t->state);
  }
}

void TaskChanges::Audit(AuditLog* log, std::string_view rule, const std::string& machine) const {
  if (log == nullptr) return;
  for (const auto& [id, before] : before_) {
    const TaskRecord* t = book_.Find(id);
    if (t == nullptr || t->state == before) continue;
    const std::string action = t->state == TaskState::kQueued
                                   ? std::string("task.requeue")
                                   : "task." + std::string(ToString(t->state));
    AuditRecord r = Decision(rule, action, "task", id, t->project);
    r.details = machine.empty() ? DetailsJson({{"reason", t->reason}})
                                : DetailsJson({{"machine", machine}, {"reason", t->reason}});
    log->Record(std::move(r));
  }
}

}  // namespace autovibe
