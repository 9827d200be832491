// Projects and tasks: every task's state, its dependencies, its output, and where it runs.
//
// Not thread-safe: the owner thread calls every method. Every change is written to the store
// (inside the caller's open transaction, if any) and recorded as an event before the call
// returns; orders for agents go to TaskCommands, news to the TaskObserver. The book asks for
// its own scheduling passes whenever a task or a slot becomes free (SchedulePump).
//
// Each call from outside is one operation: when one of its writes fails, the operation fails
// with the store's error, its writes are undone (to a savepoint, when a transaction is open),
// the book reloads its tasks from the store, and nothing it would have ordered or told goes
// out, so memory, the database and the agents agree.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/core/duration.h"
#include "common/core/result.h"
#include "common/core/time.h"
#include "controller/model/agent_event.h"
#include "controller/model/task.h"
#include "controller/scheduler/scheduler.h"
#include "controller/store/store.h"
#include "controller/store/write_batch.h"
#include "controller/tasks/schedule_pump.h"

namespace autovibe {

// What an agent said to an assignment (or why no answer came).
struct AssignAnswer {
  bool ok = false;
  ErrorCode error_code = ErrorCode::kFailed;  // kBadTask: the machine can never run it
  std::string error;
};

// Orders for the agents; agents/task_commands sends them over the bus.
class TaskCommands {
 public:
  virtual ~TaskCommands() = default;
  // Start the task's current attempt on t.machine_id. `done` gets the agent's answer (or the
  // failure to get one) once, on the owner thread, after the assignment is durable.
  virtual void RunTask(const TaskRecord& t, std::function<void(AssignAnswer)> done) = 0;
  // Ask a machine to stop a task it runs, `delay` from now (a budget stop lets the tool show
  // the error its last call got first).
  virtual void CancelTask(const std::string& machine_id, const std::string& task_id,
                          const std::string& reason, Duration delay = Duration(0)) = 0;
  // Ask a machine to stop a task's tool but keep its workspace (the task is paused).
  virtual void PauseTask(const std::string& machine_id, const std::string& task_id,
                         const std::string& reason, Duration delay = Duration(0)) = 0;
};

// Who is told what the task book did: live followers, the fleet's busy flags.
class TaskObserver {
 public:
  virtual ~TaskObserver() = default;
  // The task's state or fields changed.
  virtual void TaskChanged(const TaskRecord& t) = 0;
  virtual void TaskLogged(const TaskRecord& t, const TaskLogChunk& chunk) = 0;
  // Every task slot of the machine is taken (busy) or one is free again.
  virtual void MachineBusy(const std::string& machine_id, bool busy) = 0;
};

struct TaskBookDeps {
  Store* store = nullptr;
  const Clock* clock = nullptr;
  TaskCommands* commands = nullptr;
  TaskObserver* observer = nullptr;
  // Scheduling passes are posted here and run in the open write batch whenever something
  // placeable changed (SchedulePump). Null: passes run only when Schedule() is called.
  boost::asio::io_context* ioc = nullptr;
  WriteBatch* batch = nullptr;
};

struct TaskBookOptions {
  uint32_t default_timeout_s = 3600;
  uint32_t default_slots = 1;  // tasks per machine when its agent does not say
  // How long an assignment may stay unconfirmed after a controller restart before it goes
  // back to the queue.
  Duration assign_timeout = std::chrono::seconds(20);
};

// What a stop, a resume or a budget decision did to a project's tasks.
struct HoldCounts {
  int paused = 0;     // running tasks whose tools were stopped, workspaces kept
  int cancelled = 0;  // running tasks cancelled (budget action "stop")
  int held = 0;       // queued tasks held back
  int released = 0;   // paused or held tasks sent back to the queue
};

struct TaskCounters {
  uint64_t submitted = 0;
  uint64_t placements = 0;
  uint64_t requeued = 0;
  uint64_t stale_cancels = 0;
  std::map<std::string, uint64_t> finished;  // by final state
};

class TaskBook {
 public:
  TaskBook(TaskBookDeps deps, TaskBookOptions options);
  ~TaskBook();

  // Loads projects and tasks. Call after the machines are known (MachineUpdated), so tasks
  // placed before a restart hold their slots again.
  Result<void> Load();

  // --- projects
  // Names: 1-63 of [a-z0-9._-], starting with a letter or digit. Codes: bad_request, conflict.
  Result<const ProjectRecord*> CreateProject(const std::string& name, TaskRepo repo = {});
  // Sets (or, with an empty url, clears) the repository the project's tasks work on unless
  // they name one. Codes: not_found.
  Result<const ProjectRecord*> SetProjectRepo(std::string_view name, TaskRepo repo);
  const ProjectRecord* FindProject(std::string_view name) const;
  std::vector<const ProjectRecord*> Projects() const;
  std::map<TaskState, int> Counts(std::string_view project) const;

  // --- tasks
  // Codes: not_found (no such project), bad_request (an unknown dependency).
  Result<const TaskRecord*> Submit(const std::string& project, TaskSpec spec);
  // Codes: not_found, conflict (already final).
  Result<const TaskRecord*> Cancel(std::string_view id, const std::string& reason);
  const TaskRecord* Find(std::string_view id) const;
  // Tasks of a project (empty: all) in a state (nullopt: any): the last `limit`, in
  // submission order.
  std::vector<const TaskRecord*> List(std::string_view project, std::optional<TaskState> state,
                                      size_t limit) const;
  Result<std::vector<TaskLogChunk>> Logs(std::string_view id, int64_t after_seq, size_t limit);

  // --- the review gate (task_review.cc): a repository task with `review` ends awaiting_review;
  // approving makes it succeeded (its change is then published), rejecting makes it rejected.
  // Codes: not_found, conflict (not awaiting review).
  Result<const TaskRecord*> Review(std::string_view id, bool approve, const std::string& reason);
  // Changes what is known of a task's change (stored, published) and tells the observer.
  Result<void> UpdateChange(std::string_view id, const std::function<void(TaskChange&)>& update);

  // --- holds: a project stopped by a user, or a budget used up (task_hold.cc). While a
  // project is held its queued and newly runnable tasks wait as "paused" instead of running.
  // Stops every running task of the project (paused: tool stopped, workspace kept) and holds
  // its queued ones. Codes: not_found.
  Result<HoldCounts> StopProject(std::string_view name, const std::string& reason);
  // Lifts the stop; the tasks go back to the queue unless a budget still holds them.
  Result<HoldCounts> ResumeProject(std::string_view name);
  // One paused task (a checkpoint restore paused it) goes back to the queue, to go on where
  // its workspace is. Codes: not_found; conflict (not paused, or its project is held).
  Result<const TaskRecord*> ResumeTask(std::string_view id);
  // A budget of the project is used up: running tasks are paused (or cancelled when `pause` is
  // false) and queued ones held, until BudgetReplenished.
  Result<HoldCounts> BudgetExhausted(const std::string& project, const std::string& message,
                                     bool pause);
  Result<HoldCounts> BudgetReplenished(const std::string& project);
  // The task reached its own max_usd: it is cancelled.
  Result<void> TaskCapReached(const std::string& task_id, const std::string& message);
  // Why the project's tasks wait ("" when they do not): the stop, else the budget.
  std::string HoldReason(std::string_view project) const;
  // Paused tasks of the project in total.
  int Paused(std::string_view project) const;

  // --- machines
  // A machine registered, changed state or settings.
  Result<void> MachineUpdated(const std::string& id, const std::vector<std::string>& tools,
                              const std::map<std::string, std::string>& labels, uint32_t slots,
                              bool accepting);
  // The machine's tasks are gone (lost, agent restarted or stopping): retry them elsewhere.
  Result<void> MachineGone(const std::string& machine_id, const std::string& why);
  // What an agent says it runs (heartbeat, registration): confirms assignments and cancels
  // copies that should not run there.
  Result<void> ReportedRunning(const std::string& machine_id,
                               const std::vector<std::string>& task_ids);

  // --- scheduling
  // Places up to `max` queued tasks; returns how many.
  size_t Schedule(size_t max);
  // Queues a scheduling pass (the tick does, in case a change slipped past the book).
  void RequestSchedule() { pump_.Request(); }
  // No pass runs after this.
  void Stop() { pump_.Stop(); }
  bool HasQueued() const { return scheduler_.queued() > 0; }
  // The agent's answer to RunTask (TaskCommands::RunTask's `done` lands here). An error
  // coded kBadTask fails the task; any other (or no answer) puts it back in the queue.
  Result<void> AssignAnswered(const std::string& task_id, uint32_t attempt,
                              const std::string& machine_id, const AssignAnswer& answer);
  // Requeues assignments left unconfirmed past the assign timeout (after a restart).
  Result<void> CheckAssignDeadlines();
  // Once a second: the above, and machines whose refusal cool-down ended take tasks again.
  Result<void> Tick();

  // --- agent events (already deduplicated by event id), from `machine_id`
  Result<void> ApplyStarted(const std::string& machine_id, const TaskStartedEvent& s);
  Result<void> ApplyLog(const std::string& machine_id, int64_t at_ms, const TaskLogEvent& l);
  Result<void> ApplyFinished(const std::string& machine_id, const TaskFinishedEvent& f);

  // Whether the task is known and not final.
  bool Unfinished(std::string_view id) const;
  // The machine the task runs or last ran on; "" when unknown.
  std::string MachineOf(std::string_view id) const;
  // The machine its current attempt was placed on: where it runs, or ran even if the task has
  // gone back to the queue since (until it is placed again, or the controller restarts); ""
  // when none.
  std::string AttemptMachine(std::string_view id) const;
  // The checkpoints unfinished tasks were submitted with, and whether one is among them.
  std::vector<std::string> StartingPoints() const;
  bool IsStartingPoint(std::string_view checkpoint_id) const;

  const TaskCounters& counters() const { return counters_; }
  const Scheduler& scheduler() const { return scheduler_; }

 private:
  struct Entry;
  class Op;

  // Runs one operation (see above): what `body` returns, or the store's error.
  template <class Body>
  auto Guarded(Body&& body);
  // A write of the operation failed: it fails (the first error is kept).
  void Fail(const Error& e);
  // Runs `effect` once the operation under way succeeds (at once outside one).
  void Effect(std::function<void()> effect);
  void TellChanged(const TaskRecord& t);
  void TellLogged(const TaskRecord& t, const TaskLogChunk& chunk);
  void TellBusy(const std::string& machine_id);
  void OrderRun(const TaskRecord& t);
  void OrderCancel(const std::string& machine_id, const std::string& task_id,
                   const std::string& reason, Duration delay = Duration(0));
  void OrderPause(const std::string& machine_id, const std::string& task_id,
                  const std::string& reason, Duration delay = Duration(0));
  // What the store holds replaces the book's tasks and projects (after a failed operation).
  void Reload();

  Entry* Get(std::string_view id);
  void Save(Entry& e);
  void SetState(Entry& e, TaskState to);
  void Record(const Entry& e, std::string_view kind, const std::string& detail_json);
  void Enqueue(Entry& e);
  // Holds back a queued task of a held project (paused, no machine). False when not held.
  bool HoldIfProjectHeld(Entry& e);
  // Pauses (or cancels) the running tasks of a project and holds its queued ones.
  HoldCounts HoldProject(const std::string& project, const std::string& reason, bool pause,
                         Duration delay);
  HoldCounts ReleaseProject(const std::string& project);
  // A paused task back to the queue, on the machine holding its workspace when it can.
  void Release(Entry& e);
  void ApplyPaused(Entry& e, const TaskFinishedEvent& f);
  void Finish(Entry& e, TaskState to, std::string reason);
  void Requeue(Entry& e, const std::string& why);
  void Unhold(Entry& e);
  void ResolveDependents(const Entry& e);
  Entry* Matching(const std::string& machine_id, const std::string& task_id, uint32_t attempt);
  // A machine that refused (or never answered) an assignment takes no task for a while, 1 s
  // doubling to 30 s while it keeps refusing, so a broken agent cannot spin the scheduler.
  void CoolDown(const std::string& machine_id);
  void Acknowledged(const std::string& machine_id);
  void EndCooldowns();
  void Rest(const std::string& machine_id, bool resting);

  Store& store_;
  const Clock& clock_;
  TaskCommands& commands_;
  TaskObserver& observer_;
  WriteBatch* batch_;
  TaskBookOptions options_;
  Scheduler scheduler_;
  SchedulePump pump_;
  std::vector<std::unique_ptr<ProjectRecord>> projects_;
  std::unordered_map<std::string, ProjectRecord*> projects_by_name_;
  std::unordered_map<std::string, std::string> budget_holds_;  // project -> why
  std::map<std::string, std::map<TaskState, int>> counts_;     // project -> state -> tasks
  std::vector<std::unique_ptr<Entry>> tasks_;                  // submission order
  std::unordered_map<std::string, Entry*> by_id_;
  // from_checkpoint of unfinished tasks -> how many (kept by SetState, Submit and Load).
  std::map<std::string, int, std::less<>> starting_points_;
  std::unordered_map<std::string, std::vector<Entry*>> dependents_;
  std::unordered_map<std::string, int64_t> assign_deadlines_;  // task id -> ms
  struct Cooldown {
    int64_t until_ms = 0;  // 0: over
    int64_t backoff_ms = 0;
  };
  std::unordered_map<std::string, Cooldown> cooldowns_;  // machine id -> cool-down
  int64_t next_seq_ = 1;
  TaskCounters counters_;
  // The operation under way: how deep its calls are nested, its first failed write, whether
  // it writes under a savepoint, and what it orders and tells once it succeeds.
  int op_depth_ = 0;
  std::optional<Error> op_error_;
  bool op_savepoint_ = false;
  std::vector<std::function<void()>> effects_;
};

}  // namespace autovibe
