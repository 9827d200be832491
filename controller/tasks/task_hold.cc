// Holds on a project's tasks: the emergency stop, and budgets used up. A held project runs
// nothing: its running tasks are paused (tool stopped, workspace kept on the machine) or
// cancelled, its queued tasks wait as paused, and when the hold lifts each paused task goes back
// to the queue, pinned to the machine that holds its workspace so it continues there.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "controller/tasks/task_book.h"
#include "controller/tasks/task_book_entry.h"

namespace autovibe {
namespace {

namespace json = boost::json;

// The label every machine carries with its own id (TaskDispatch::SyncMachine), so a task can be
// pinned to one machine.
constexpr const char* kMachineLabel = "autovibe.machine";
// A tool stopped by its budget gets this long to show the error its last call got (Claude Code
// prints it and exits within milliseconds); an emergency stop is immediate.
constexpr Duration kBudgetStopDelay = std::chrono::milliseconds(100);

}  // namespace

std::string TaskBook::HoldReason(std::string_view project) const {
  const ProjectRecord* p = FindProject(project);
  if (p != nullptr && p->stopped) return "project " + p->name + " is stopped";
  auto it = budget_holds_.find(std::string(project));
  return it == budget_holds_.end() ? "" : it->second;
}

int TaskBook::Paused(std::string_view project) const {
  auto it = counts_.find(std::string(project));
  if (it == counts_.end()) return 0;
  auto c = it->second.find(TaskState::kPaused);
  return c == it->second.end() ? 0 : c->second;
}

Result<HoldCounts> TaskBook::StopProject(std::string_view name, const std::string& reason) {
  return Guarded([&]() -> Result<HoldCounts> {
    auto it = projects_by_name_.find(std::string(name));
    if (it == projects_by_name_.end()) {
      return MakeError(ErrorCode::kNotFound, "no project named " + std::string(name).substr(0, 80));
    }
    ProjectRecord& p = *it->second;
    if (!p.stopped) {
      p.stopped = true;
      if (auto r = store_.tasks().SetProjectStopped(p.name, true); !r) {
        Fail(r.error());
        return r.error();
      }
      StoredEvent ev{0,
                     clock_.NowMs(),
                     "project.stopped",
                     "",
                     json::serialize(json::object{{"project", p.name}, {"reason", reason}}),
                     "",
                     p.name};
      if (auto r = store_.AppendEvent(ev); !r) Fail(r.error());
      spdlog::warn("project {} stopped: {}", p.name, reason);
    }
    // Also when already stopped: a task that slipped through (an assignment answered late) stops.
    return HoldProject(p.name, reason, /*pause=*/true, Duration(0));
  });
}

Result<HoldCounts> TaskBook::ResumeProject(std::string_view name) {
  return Guarded([&]() -> Result<HoldCounts> {
    auto it = projects_by_name_.find(std::string(name));
    if (it == projects_by_name_.end()) {
      return MakeError(ErrorCode::kNotFound, "no project named " + std::string(name).substr(0, 80));
    }
    ProjectRecord& p = *it->second;
    if (p.stopped) {
      p.stopped = false;
      if (auto r = store_.tasks().SetProjectStopped(p.name, false); !r) {
        Fail(r.error());
        return r.error();
      }
      StoredEvent ev{0,
                     clock_.NowMs(),
                     "project.resumed",
                     "",
                     json::serialize(json::object{{"project", p.name}}),
                     "",
                     p.name};
      if (auto r = store_.AppendEvent(ev); !r) Fail(r.error());
      spdlog::info("project {} resumed", p.name);
    }
    if (budget_holds_.count(p.name) > 0) return HoldCounts{};  // the budget still holds it
    return ReleaseProject(p.name);
  });
}

Result<HoldCounts> TaskBook::BudgetExhausted(const std::string& project, const std::string& message,
                                             bool pause) {
  return Guarded([&]() -> HoldCounts {
    budget_holds_[project] = message;
    return HoldProject(project, message, pause, kBudgetStopDelay);
  });
}

Result<HoldCounts> TaskBook::BudgetReplenished(const std::string& project) {
  return Guarded([&]() -> HoldCounts {
    if (budget_holds_.erase(project) == 0) return {};
    const ProjectRecord* p = FindProject(project);
    if (p != nullptr && p->stopped) return {};
    return ReleaseProject(project);
  });
}

Result<void> TaskBook::TaskCapReached(const std::string& task_id, const std::string& message) {
  return Guarded([&]() -> void {
    Entry* e = Get(task_id);
    if (e == nullptr || IsFinal(e->record.state)) return;
    if (auto r = Cancel(task_id, message); !r) spdlog::warn("tasks: {}", r.error().message);
  });
}

HoldCounts TaskBook::HoldProject(const std::string& project, const std::string& reason, bool pause,
                                 Duration delay) {
  HoldCounts counts;
  for (auto& owned : tasks_) {
    Entry& e = *owned;
    TaskRecord& t = e.record;
    if (t.project != project) continue;
    if (IsPlaced(t.state)) {
      assign_deadlines_.erase(t.id);
      if (!pause) {
        OrderCancel(t.machine_id, t.id, reason, delay);
        Finish(e, TaskState::kCancelled, reason);
        ++counts.cancelled;
        continue;
      }
      // The slot stays taken until the agent reports the tool gone (ApplyFinished).
      OrderPause(t.machine_id, t.id, reason, delay);
      SetState(e, TaskState::kPaused);
      t.reason = "paused: " + reason;
      Save(e);
      Record(e, "task.paused",
             json::serialize(json::object{{"reason", reason}, {"machine_id", t.machine_id}}));
      TellChanged(t);
      ++counts.paused;
    } else if (t.state == TaskState::kQueued) {
      scheduler_.Dequeue(t.id);
      if (HoldIfProjectHeld(e)) ++counts.held;
    }
  }
  return counts;
}

bool TaskBook::HoldIfProjectHeld(Entry& e) {
  std::string why = HoldReason(e.record.project);
  if (why.empty()) return false;
  TaskRecord& t = e.record;
  SetState(e, TaskState::kPaused);
  t.machine_id.clear();
  t.resume_machine.clear();
  t.reason = "held: " + why;
  Save(e);
  Record(e, "task.paused", json::serialize(json::object{{"reason", t.reason}}));
  TellChanged(t);
  return true;
}

HoldCounts TaskBook::ReleaseProject(const std::string& project) {
  HoldCounts counts;
  for (auto& owned : tasks_) {
    Entry& e = *owned;
    if (e.record.project != project || e.record.state != TaskState::kPaused) continue;
    Release(e);
    ++counts.released;
  }
  return counts;
}

Result<const TaskRecord*> TaskBook::ResumeTask(std::string_view id) {
  return Guarded([&]() -> Result<const TaskRecord*> {
    Entry* e = Get(id);
    if (e == nullptr) {
      return MakeError(ErrorCode::kNotFound, "no task with id " + std::string(id).substr(0, 80));
    }
    TaskRecord& t = e->record;
    if (t.state != TaskState::kPaused) {
      return MakeError(ErrorCode::kConflict,
                       "task " + t.id + " is " + std::string(ToString(t.state)) + ", not paused");
    }
    if (std::string why = HoldReason(t.project); !why.empty()) {
      return MakeError(ErrorCode::kConflict, "task " + t.id + " waits for its project: " + why);
    }
    Release(*e);
    return &e->record;
  });
}

void TaskBook::Release(Entry& e) {
  TaskRecord& t = e.record;
  // A paused task continues where its workspace is, if that machine still takes work.
  t.resume_machine.clear();
  if (!t.machine_id.empty() && t.attempts > 0) {
    if (scheduler_.AnyMachineFits(t.spec.tool, {{kMachineLabel, t.machine_id}})) {
      t.resume_machine = t.machine_id;
    } else {
      spdlog::info("task {}: machine {} holding its workspace is gone; it starts afresh", t.id,
                   t.machine_id);
    }
  }
  Record(e, "task.resumed", json::serialize(json::object{{"machine_id", t.resume_machine}}));
  t.reason.clear();
  Enqueue(e);
}

void TaskBook::ApplyPaused(Entry& e, const TaskFinishedEvent& f) {
  TaskRecord& t = e.record;
  if (t.state != TaskState::kPaused) {
    SetState(e, TaskState::kPaused);
    Record(e, "task.paused",
           json::serialize(json::object{{"reason", f.reason}, {"machine_id", t.machine_id}}));
  }
  t.reason = f.reason.empty() ? "paused on the machine" : f.reason;
  Save(e);
  TellChanged(t);
}

SchedulerTask ToSchedulerTask(const TaskRecord& t) {
  SchedulerTask s{t.id, t.project, t.seq, t.spec.priority, t.spec.tool, t.spec.labels};
  if (!t.resume_machine.empty()) s.labels[kMachineLabel] = t.resume_machine;
  return s;
}

}  // namespace autovibe
