#include "controller/api/project_scope.h"

namespace autovibe {

std::optional<std::string> ProjectLookup::OfTask(std::string_view id) const {
  const TaskRecord* t = tasks == nullptr ? nullptr : tasks->Find(id);
  if (t == nullptr) return std::nullopt;
  return t->project;
}

std::optional<std::string> ProjectLookup::OfCheckpoint(std::string_view id) const {
  if (machines != nullptr && machines->FindCheckpoint(id) != nullptr) return std::string();
  const CheckpointRecord* c = checkpoints == nullptr ? nullptr : checkpoints->Find(id);
  if (c == nullptr) return std::nullopt;
  if (c->task_id.empty()) return std::string();
  // A checkpoint outlives nothing of its task's: a task is never forgotten.
  return OfTask(c->task_id).value_or(std::string());
}

bool ProjectScope::SeesTask(std::string_view id) const {
  if (Everything()) return true;
  auto project = lookup_.OfTask(id);
  return project && Sees(*project);
}

bool ProjectScope::SeesCheckpoint(std::string_view id) const {
  if (Everything()) return true;
  auto project = lookup_.OfCheckpoint(id);
  return project && !project->empty() && Sees(*project);
}

}  // namespace autovibe
