// What a request's caller may see: its Caller, and where the project of a task or a
// checkpoint is found. Api checks a request's own object against it before any route runs;
// the routes that hold project objects (tasks, budgets, checkpoints) take it to filter their
// lists and to check the other objects a request names (a dependency, a starting checkpoint,
// a restore's task). Owner-thread only.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "controller/api/caller.h"
#include "controller/checkpoints/checkpoint_service.h"
#include "controller/machines/machine_manager.h"
#include "controller/tasks/task_book.h"

namespace autovibe {

// Where objects' projects are found. Any part may be null: none of those objects exist.
struct ProjectLookup {
  const TaskBook* tasks = nullptr;
  const CheckpointService* checkpoints = nullptr;
  const MachineManager* machines = nullptr;  // whole-machine checkpoints

  // A task's project; nothing when there is no such task.
  std::optional<std::string> OfTask(std::string_view id) const;
  // A checkpoint's project (its task's); "" for one of no project (a whole-machine checkpoint,
  // or one taken of no task); nothing when there is no such checkpoint.
  std::optional<std::string> OfCheckpoint(std::string_view id) const;
};

class ProjectScope {
 public:
  ProjectScope(const Caller& caller, const ProjectLookup& lookup)
      : caller_(caller), lookup_(lookup) {}

  const Caller& caller() const { return caller_; }
  // The caller is limited to no project.
  bool Everything() const { return caller_.projects.empty(); }
  bool Sees(std::string_view project) const { return caller_.Sees(project); }
  // For a caller of every project, any id (the route says whether it exists); for a
  // project-scoped one, an existing object of one of its projects only: the rest answer as
  // if they did not exist.
  bool SeesTask(std::string_view id) const;
  bool SeesCheckpoint(std::string_view id) const;
  const ProjectLookup& lookup() const { return lookup_; }

 private:
  const Caller& caller_;
  const ProjectLookup& lookup_;
};

}  // namespace autovibe
