// Placement: which queued task runs on which machine next. Pure bookkeeping with no I/O, so
// it is fast and testable; the TaskBook applies what it decides.
//
// Order: higher priority first; within a priority, projects take turns (round-robin) so one
// project cannot starve another; within a project, first come first served. A task runs only
// on a machine that offers its tool and carries all its labels, and has a free task slot.
// Not thread-safe: the owner thread calls it.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace autovibe {

struct SchedulerMachine {
  std::string id;
  std::vector<std::string> tools;
  std::map<std::string, std::string> labels;
  uint32_t slots = 1;
  bool accepting = true;  // ready or busy; not draining, lost, ...
};

struct SchedulerTask {
  std::string id;
  std::string project;
  int64_t seq = 0;
  int32_t priority = 0;
  std::string tool;
  std::map<std::string, std::string> labels;
};

struct Placement {
  std::string task_id;
  std::string machine_id;
};

class Scheduler {
 public:
  Scheduler();
  ~Scheduler();

  // Adds or updates a machine; its held tasks are kept.
  void UpsertMachine(const SchedulerMachine& m);
  void RemoveMachine(const std::string& id);
  // A resting machine takes no new task, whatever UpsertMachine says, until it is resumed.
  void SetResting(const std::string& id, bool resting);

  // A task waiting to be placed. Enqueueing a task already queued does nothing.
  void Enqueue(const SchedulerTask& t);
  // The task is no longer waiting (cancelled, failed). Cheap: entries are skipped lazily.
  void Dequeue(const std::string& task_id);
  bool IsQueued(const std::string& task_id) const { return queued_.count(task_id) > 0; }
  size_t queued() const { return queued_.size(); }

  // A task occupies / frees a slot on a machine (placed by Place(), or found running there).
  void Hold(const std::string& machine_id, const std::string& task_id);
  void Release(const std::string& machine_id, const std::string& task_id);
  // Tasks the scheduler counts against the machine's slots.
  std::vector<std::string> Held(const std::string& machine_id) const;
  bool Full(const std::string& machine_id) const;

  // Places up to `max` queued tasks on free slots and returns the decisions; each placed task
  // is dequeued and held on its machine.
  std::vector<Placement> Place(size_t max);

  // Forgets every queued and held task (the task book reloads them); machines stay.
  void ForgetTasks();
  std::vector<std::string> MachineIds() const;

  // Whether any machine offers this tool with these labels (regardless of free slots).
  bool AnyMachineFits(const std::string& tool,
                      const std::map<std::string, std::string>& labels) const;

 private:
  struct Group;
  struct MachineEntry;
  struct Level;

  Group& GroupFor(const SchedulerMachine& m);
  void UpdateFree(MachineEntry& m);
  MachineEntry* FindFreeMachine(const SchedulerTask& t);
  bool AnyFree() const;
  bool PlaceFromProject(Level& level, const std::string& project, std::vector<Placement>& out);

  std::unordered_map<std::string, std::unique_ptr<MachineEntry>> machines_;
  std::map<std::string, std::unique_ptr<Group>> groups_;  // by capability signature
  std::map<int32_t, Level, std::greater<>> levels_;       // by priority, highest first
  std::unordered_set<std::string> queued_;
};

}  // namespace autovibe
