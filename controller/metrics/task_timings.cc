#include "controller/metrics/task_timings.h"

#include <algorithm>

namespace autovibe {
namespace {

double Seconds(int64_t from_ms, int64_t to_ms) {
  return static_cast<double>(std::max<int64_t>(0, to_ms - from_ms)) / 1000;
}

}  // namespace

void TaskTimings::Loaded(const TaskRecord& t) {
  if (!IsFinal(t.state)) unfinished_[t.id] = t.started_at_ms > 0;
}

void TaskTimings::TaskChanged(const TaskRecord& t) {
  if (!IsFinal(t.state)) {
    auto [it, fresh] = unfinished_.try_emplace(t.id, false);
    if (!it->second && t.state == TaskState::kRunning && t.started_at_ms > 0) {
      it->second = true;
      submit_to_running_.Observe(Seconds(t.created_at_ms, t.started_at_ms));
    }
  } else if (auto it = unfinished_.find(t.id); it != unfinished_.end()) {
    // Once per task: a final task's later changes (its result published, say) pass here too.
    unfinished_.erase(it);
    if (t.started_at_ms > 0 && t.finished_at_ms > 0) {
      durations_[std::string(ToString(t.state))].Observe(
          Seconds(t.started_at_ms, t.finished_at_ms));
    }
  }
  next_.TaskChanged(t);
}

}  // namespace autovibe
