// The running side of TaskBook: placement, agents' answers and events, machines coming and
// going.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "common/core/text.h"
#include "controller/tasks/task_book.h"
#include "controller/tasks/task_book_entry.h"

namespace autovibe {
namespace {

namespace json = boost::json;

constexpr size_t kLastLogMax = 200;

// The last non-empty line of a chunk, for progress displays.
std::string LastLine(std::string_view data) {
  while (!data.empty() && (data.back() == '\n' || data.back() == '\r' || data.back() == ' ')) {
    data.remove_suffix(1);
  }
  auto nl = data.find_last_of('\n');
  if (nl != std::string_view::npos) data.remove_prefix(nl + 1);
  if (data.size() > kLastLogMax) data = data.substr(0, kLastLogMax);
  return ValidUtf8(data);
}

}  // namespace

Result<void> TaskBook::MachineUpdated(const std::string& id, const std::vector<std::string>& tools,
                                      const std::map<std::string, std::string>& labels,
                                      uint32_t slots, bool accepting) {
  return Guarded([&]() -> void {
    scheduler_.UpsertMachine(
        {id, tools, labels, slots == 0 ? options_.default_slots : slots, accepting});
    TellBusy(id);
    if (accepting) pump_.Request();
  });
}

Result<void> TaskBook::MachineGone(const std::string& machine_id, const std::string& why) {
  return Guarded([&]() -> void {
    if (cooldowns_.erase(machine_id) > 0) Rest(machine_id, false);  // what comes back starts anew
    for (const std::string& task_id : scheduler_.Held(machine_id)) {
      Entry* e = Get(task_id);
      scheduler_.Release(machine_id, task_id);
      if (e == nullptr || e->record.machine_id != machine_id) continue;
      if (IsPlaced(e->record.state)) Requeue(*e, why);
    }
    TellBusy(machine_id);
  });
}

void TaskBook::Requeue(Entry& e, const std::string& why) {
  TaskRecord& t = e.record;
  assign_deadlines_.erase(t.id);
  if (t.attempts >= t.spec.max_attempts) {
    Finish(e, TaskState::kFailed,
           fmt::format("{} during attempt {} of {}; no attempts left", why, t.attempts,
                       t.spec.max_attempts));
    return;
  }
  ++counters_.requeued;
  t.resume_machine.clear();  // its workspace went with the machine
  t.reason =
      fmt::format("{}; retrying (attempt {} of {} next)", why, t.attempts + 1, t.spec.max_attempts);
  Record(e, "task.requeued",
         json::serialize(
             json::object{{"why", why}, {"machine_id", t.machine_id}, {"attempts", t.attempts}}));
  spdlog::info("task {} requeued: {}", t.id, t.reason);
  Enqueue(e);
}

Result<void> TaskBook::ReportedRunning(const std::string& machine_id,
                                       const std::vector<std::string>& task_ids) {
  return Guarded([&]() -> void {
    for (const std::string& id : task_ids) {
      Entry* e = Get(id);
      if (e != nullptr && e->record.machine_id == machine_id) {
        if (e->record.state == TaskState::kAssigned) {
          // The agent runs it: the assignment's answer was lost (or is still on its way).
          assign_deadlines_.erase(id);
          SetState(*e, TaskState::kRunning);
          if (e->record.started_at_ms == 0) e->record.started_at_ms = clock_.NowMs();
          Save(*e);
          TellChanged(e->record);
          continue;
        }
        if (e->record.state == TaskState::kRunning) continue;
        if (e->record.state == TaskState::kPaused) {
          // Still stopping: ask again (pause is idempotent) rather than cancel, which would
          // lose what the tool reports of itself for the resume.
          std::string_view why = e->record.reason;
          if (why.starts_with("paused: ")) why.remove_prefix(8);
          OrderPause(machine_id, id, std::string(why));
          continue;
        }
      }
      // Not this machine's to run (requeued after it was lost, cancelled, finished, unknown):
      // one task never has two live copies.
      ++counters_.stale_cancels;
      OrderCancel(machine_id, id, "this copy is stale: the task runs elsewhere or ended");
    }
  });
}

size_t TaskBook::Schedule(size_t max) {
  auto placed = Guarded([&]() -> size_t {
    auto placements = scheduler_.Place(max);
    const int64_t now = clock_.NowMs();
    for (const Placement& p : placements) {
      Entry* e = Get(p.task_id);
      if (e == nullptr || e->record.state != TaskState::kQueued) {
        scheduler_.Release(p.machine_id, p.task_id);
        continue;
      }
      TaskRecord& t = e->record;
      SetState(*e, TaskState::kAssigned);
      t.machine_id = p.machine_id;
      e->attempt_machine = p.machine_id;
      ++t.attempts;
      t.assigned_at_ms = now;
      t.exit_code.reset();
      t.signal = 0;
      Save(*e);
      Record(*e, "task.assigned",
             json::serialize(json::object{{"machine_id", p.machine_id}, {"attempt", t.attempts}}));
      ++counters_.placements;
      TellChanged(t);
      OrderRun(t);
      if (scheduler_.Full(p.machine_id)) TellBusy(p.machine_id);
    }
    return placements.size();
  });
  return placed ? *placed : 0;
}

Result<void> TaskBook::AssignAnswered(const std::string& task_id, uint32_t attempt,
                                      const std::string& machine_id, const AssignAnswer& answer) {
  return Guarded([&]() -> void {
    Entry* e = Matching(machine_id, task_id, attempt);
    if (e == nullptr) return;  // moved on meanwhile (cancelled, requeued, ...)
    TaskRecord& t = e->record;
    if (answer.ok) {
      Acknowledged(machine_id);
      assign_deadlines_.erase(task_id);
      if (t.state == TaskState::kAssigned) {
        SetState(*e, TaskState::kRunning);
        t.started_at_ms = clock_.NowMs();
        Save(*e);
        TellChanged(t);
      }
      return;
    }
    // Cancelled while assigned: the agent never took it, so nothing will free its slot later.
    Unhold(*e);
    if (!IsPlaced(t.state)) return;
    if (answer.error_code == ErrorCode::kRepoUnavailable) {
      // Counts as an attempt: the machine tried, and another would fail the same way.
      Finish(*e, TaskState::kFailed, "repo_unavailable: " + answer.error);
      return;
    }
    if (answer.error_code == ErrorCode::kBadTask) {
      Finish(*e, TaskState::kFailed, "machine " + machine_id + " cannot run it: " + answer.error);
      return;
    }
    // Not started: this try does not count, but the machine rests before it gets another.
    --t.attempts;
    CoolDown(machine_id);
    Requeue(*e, "machine " + machine_id + " did not take the task (" + answer.error + ")");
  });
}

Result<void> TaskBook::CheckAssignDeadlines() {
  return Guarded([&]() -> void {
    if (assign_deadlines_.empty()) return;
    const int64_t now = clock_.NowMs();
    std::vector<std::string> overdue;
    for (const auto& [id, deadline] : assign_deadlines_) {
      if (now > deadline) overdue.push_back(id);
    }
    for (const auto& id : overdue) {
      assign_deadlines_.erase(id);
      Entry* e = Get(id);
      if (e == nullptr) continue;
      // Still held, or cancelled meanwhile with no agent that will ever say it ended.
      Unhold(*e);
      if (e->record.state != TaskState::kAssigned) continue;
      --e->record.attempts;
      CoolDown(e->record.machine_id);
      Requeue(*e, "machine " + e->record.machine_id + " never confirmed the assignment");
    }
  });
}

void TaskBook::Unhold(Entry& e) {
  scheduler_.Release(e.record.machine_id, e.record.id);
  TellBusy(e.record.machine_id);
  pump_.Request();  // a slot is free
}

TaskBook::Entry* TaskBook::Matching(const std::string& machine_id, const std::string& task_id,
                                    uint32_t attempt) {
  Entry* e = Get(task_id);
  if (e == nullptr || e->record.machine_id != machine_id || e->record.attempts != attempt) {
    return nullptr;
  }
  return e;
}

Result<void> TaskBook::ApplyStarted(const std::string& machine_id, const TaskStartedEvent& s) {
  return Guarded([&]() -> void {
    Entry* e = Matching(machine_id, s.task_id, s.attempt);
    if (e == nullptr || e->record.state != TaskState::kAssigned) return;
    assign_deadlines_.erase(s.task_id);
    SetState(*e, TaskState::kRunning);
    e->record.started_at_ms = clock_.NowMs();
    Save(*e);
    TellChanged(e->record);
  });
}

Result<void> TaskBook::ApplyLog(const std::string& machine_id, int64_t at_ms,
                                const TaskLogEvent& l) {
  return Guarded([&]() -> void {
    Entry* e = Matching(machine_id, l.task_id, l.attempt);
    if (e == nullptr || l.data.empty()) return;
    TaskLogChunk c{e->last_log_seq + 1, l.attempt, l.stream, l.data,
                   at_ms > 0 ? at_ms : clock_.NowMs()};
    if (auto r = store_.tasks().AppendTaskLog(e->record.id, c); !r) {
      spdlog::error("tasks cannot store log of {}: {}", e->record.id, r.error().message);
      Fail(r.error());
      return;
    }
    e->last_log_seq = c.seq;
    if (std::string line = LastLine(c.data); !line.empty()) e->record.last_log = std::move(line);
    TellLogged(e->record, c);
  });
}

Result<void> TaskBook::ApplyFinished(const std::string& machine_id, const TaskFinishedEvent& f) {
  return Guarded([&]() -> void {
    Entry* e = Matching(machine_id, f.task_id, f.attempt);
    if (e == nullptr) return;
    TaskRecord& t = e->record;
    const bool placed = IsPlaced(t.state);
    Unhold(*e);
    t.exit_code = f.exit_code;
    t.signal = f.signal;
    // A paused run keeps the session of the run before it if it reported none of its own.
    const std::string session =
        f.report.session_id.empty() ? t.report.session_id : f.report.session_id;
    t.report = f.report;
    t.report.session_id = session;
    const bool stopped_here =
        f.outcome == TaskOutcome::kPaused || f.outcome == TaskOutcome::kCancelled;
    // Paused or cancelled by the controller meanwhile: keep that state, note how it ended. (A
    // tool that ended on its own before a pause reached it ends as it did.)
    if (!placed && (t.state != TaskState::kPaused || stopped_here)) {
      Save(*e);
      TellChanged(t);
      return;
    }
    switch (f.outcome) {
      case TaskOutcome::kPaused:
        ApplyPaused(*e, f);
        break;
      case TaskOutcome::kSucceeded:
        // A change to review waits for a human; no change, nothing to review.
        Finish(*e,
               t.spec.repo.review && !t.report.change.head.empty() &&
                       t.report.change.head != t.report.change.base
                   ? TaskState::kAwaitingReview
                   : TaskState::kSucceeded,
               "");
        break;
      case TaskOutcome::kCancelled:
        Finish(*e, TaskState::kCancelled, f.reason.empty() ? "cancelled on the machine" : f.reason);
        break;
      default:
        Finish(*e, TaskState::kFailed, f.reason.empty() ? "the tool failed" : f.reason);
    }
  });
}

}  // namespace autovibe
