// How long tasks take, for /metrics: from submission to their tool's first start, and from
// their last start to their end. It sits between the task book and the reactions to it (a
// TaskObserver that passes every call on), so it sees each change as the book reports it,
// once the book's operation succeeded. Owner-thread only.
#pragma once

#include <map>
#include <string>
#include <unordered_map>

#include "common/core/histogram.h"
#include "controller/tasks/task_book.h"

namespace autovibe {

class TaskTimings final : public TaskObserver {
 public:
  // `next` hears every call after the timings are taken; it must outlive this.
  explicit TaskTimings(TaskObserver& next) : next_(next) {}

  // An unfinished task the book loaded at start: its first start, when it has one, was
  // counted by an earlier run of the controller.
  void Loaded(const TaskRecord& t);

  // TaskObserver
  void TaskChanged(const TaskRecord& t) override;
  void TaskLogged(const TaskRecord& t, const TaskLogChunk& chunk) override {
    next_.TaskLogged(t, chunk);
  }
  void MachineBusy(const std::string& machine_id, bool busy) override {
    next_.MachineBusy(machine_id, busy);
  }

  // From submission to the first time its tool ran.
  const DurationHistogram& submit_to_running() const { return submit_to_running_; }
  // From the last start to the end, by final state ("succeeded", "failed", ...).
  const std::map<std::string, DurationHistogram>& durations() const { return durations_; }

 private:
  TaskObserver& next_;
  // Unfinished tasks seen since the start -> whether they have run yet.
  std::unordered_map<std::string, bool> unfinished_;
  DurationHistogram submit_to_running_;
  std::map<std::string, DurationHistogram> durations_;
};

}  // namespace autovibe
