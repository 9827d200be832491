// What the checkpoint service needs to know of tasks, asked at the moment it needs it (the
// controller's wiring answers from the task book), so checkpoints and tasks never hold each
// other: the task book starts tasks from checkpoints, and the checkpoint service keeps what
// unfinished tasks still need.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace autovibe {

class TaskFacts {
 public:
  virtual ~TaskFacts() = default;
  // Whether the task is known and not yet final (its checkpoints may still be resumed from).
  virtual bool Unfinished(std::string_view task_id) const = 0;
  // The machine the task runs or last ran on; "" when unknown.
  virtual std::string MachineOf(std::string_view task_id) const = 0;
  // The checkpoints unfinished tasks were submitted with (from_checkpoint).
  virtual std::vector<std::string> StartingPoints() const = 0;
  virtual bool IsStartingPoint(std::string_view checkpoint_id) const = 0;
};

}  // namespace autovibe
