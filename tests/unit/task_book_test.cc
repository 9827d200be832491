#include "controller/tasks/task_book.h"

#include <catch2/catch.hpp>

#include "tests/support/catch_result.h"
#include "tests/support/process.h"
#include "tests/unit/manual_clock.h"

using namespace autovibe;
using autovibe::testing::ManualClock;
using autovibe::testing::TempDir;

namespace {

// What the book ordered and said, kept for the test to look at.
struct Effects final : TaskCommands, TaskObserver {
  std::vector<std::pair<std::string, std::string>> runs;  // machine, task
  std::vector<std::pair<std::string, std::string>> cancels;
  void RunTask(const TaskRecord& t, std::function<void(AssignAnswer)>) override {
    runs.emplace_back(t.machine_id, t.id);
  }
  std::vector<std::pair<std::string, std::string>> pauses;
  void CancelTask(const std::string& m, const std::string& t, const std::string&,
                  Duration) override {
    cancels.emplace_back(m, t);
  }
  void PauseTask(const std::string& m, const std::string& t, const std::string&,
                 Duration) override {
    pauses.emplace_back(m, t);
  }
  void TaskChanged(const TaskRecord&) override {}
  void TaskLogged(const TaskRecord&, const TaskLogChunk&) override {}
  void MachineBusy(const std::string&, bool) override {}
};

TaskSpec Shell(std::vector<std::string> deps = {}) {
  TaskSpec s;
  s.tool = "shell";
  s.command = {"true"};
  s.depends_on = std::move(deps);
  return s;
}

TaskFinishedEvent Finished(const std::string& task, uint32_t attempt, TaskOutcome outcome,
                           int exit_code = 0) {
  TaskFinishedEvent f{.task_id = task, .attempt = attempt, .outcome = outcome};
  f.exit_code = exit_code;
  if (outcome != TaskOutcome::kSucceeded) f.reason = "exit code " + std::to_string(exit_code);
  return f;
}

struct Fixture {
  TempDir dir;
  std::unique_ptr<Store> store = *OpenSqliteStore(dir / "c.db");
  ManualClock clock;
  Effects fx;
  std::unique_ptr<TaskBook> book =
      std::make_unique<TaskBook>(TaskBookDeps{store.get(), &clock, &fx, &fx}, TaskBookOptions{});

  Fixture() { REQUIRE(book->CreateProject("demo")); }
  std::string Submit(TaskSpec spec) {
    auto t = book->Submit("demo", std::move(spec));
    REQUIRE(t);
    return (*t)->id;
  }
  TaskState State(const std::string& id) { return book->Find(id)->state; }
  void Restart() {
    book =
        std::make_unique<TaskBook>(TaskBookDeps{store.get(), &clock, &fx, &fx}, TaskBookOptions{});
    book->MachineUpdated("m1", {"shell"}, {}, 1, true);
    book->MachineUpdated("m2", {"shell"}, {}, 1, true);
    REQUIRE(book->Load());
  }
};

}  // namespace

TEST_CASE("a task runs, succeeds, and survives a restart", "[task_book]") {
  Fixture f;
  f.book->MachineUpdated("m1", {"shell"}, {}, 1, true);
  const std::string id = f.Submit(Shell());
  CHECK(f.State(id) == TaskState::kQueued);
  CHECK(f.book->Schedule(10) == 1);
  CHECK(f.State(id) == TaskState::kAssigned);
  REQUIRE(f.fx.runs.size() == 1);
  CHECK(f.fx.runs[0] == std::make_pair(std::string("m1"), id));
  f.book->AssignAnswered(id, 1, "m1", {.ok = true});
  CHECK(f.State(id) == TaskState::kRunning);
  f.book->ApplyFinished("m1", Finished(id, 1, TaskOutcome::kSucceeded));
  CHECK(f.State(id) == TaskState::kSucceeded);
  CHECK(f.book->Find(id)->exit_code == 0);
  f.Restart();
  CHECK(f.State(id) == TaskState::kSucceeded);
  CHECK(f.book->Counts("demo").at(TaskState::kSucceeded) == 1);
  auto events = f.store->tasks().TaskEvents(id);
  REQUIRE(events);
  std::vector<std::string> kinds;
  for (const auto& e : *events) kinds.push_back(e.kind);
  CHECK(kinds == std::vector<std::string>{"task.submitted", "task.queued", "task.assigned",
                                          "task.running", "task.succeeded"});
}

TEST_CASE("dependencies block, release and fail", "[task_book]") {
  Fixture f;
  f.book->MachineUpdated("m1", {"shell"}, {}, 1, true);
  const std::string a = f.Submit(Shell());
  const std::string b = f.Submit(Shell({a}));
  const std::string c = f.Submit(Shell({b}));
  CHECK(f.State(b) == TaskState::kBlocked);
  f.book->Schedule(10);
  f.book->ApplyFinished("m1", Finished(a, 1, TaskOutcome::kSucceeded));
  CHECK(f.State(b) == TaskState::kQueued);
  f.book->Schedule(10);
  f.book->ApplyFinished("m1", Finished(b, 1, TaskOutcome::kFailed, 2));
  CHECK(f.State(b) == TaskState::kFailed);
  CHECK(f.State(c) == TaskState::kFailed);
  CHECK(f.book->Find(c)->reason == "dependency " + b + " failed");
  // A task submitted after its dependency failed fails at once.
  const std::string d = f.Submit(Shell({b}));
  CHECK(f.State(d) == TaskState::kFailed);
  CHECK_FALSE(f.book->Submit("demo", Shell({"t-nope"})));
}

TEST_CASE("a lost machine's task runs elsewhere, the stale copy is cancelled", "[task_book]") {
  Fixture f;
  f.book->MachineUpdated("m1", {"shell"}, {}, 1, true);
  f.book->MachineUpdated("m2", {"shell"}, {}, 1, true);
  const std::string id = f.Submit(Shell());
  f.book->Schedule(10);
  const std::string first = f.book->Find(id)->machine_id;
  const std::string other = first == "m1" ? "m2" : "m1";
  f.book->AssignAnswered(id, 1, first, {.ok = true});
  f.book->MachineUpdated(first, {"shell"}, {}, 1, false);
  f.book->MachineGone(first, "machine lost");
  CHECK(f.State(id) == TaskState::kQueued);
  // Back in the queue it runs nowhere, but its attempt 1 ran on the first machine.
  CHECK(f.book->Find(id)->machine_id.empty());
  CHECK(f.book->AttemptMachine(id) == first);
  f.book->MachineUpdated(first, {"shell"}, {}, 1, false);
  f.book->Schedule(10);
  CHECK(f.book->Find(id)->machine_id == other);
  CHECK(f.book->AttemptMachine(id) == other);
  CHECK(f.book->Find(id)->attempts == 2);
  // The lost machine comes back still running attempt 1: it is told to stop.
  f.book->ReportedRunning(first, {id});
  REQUIRE(f.fx.cancels.size() == 1);
  CHECK(f.fx.cancels[0] == std::make_pair(first, id));
  // Its late finish does not count.
  f.book->ApplyFinished(first, Finished(id, 1, TaskOutcome::kSucceeded));
  CHECK(f.State(id) == TaskState::kAssigned);
}

TEST_CASE("attempts run out, unacknowledged assignments do not count", "[task_book]") {
  Fixture f;
  f.book->MachineUpdated("m1", {"shell"}, {}, 1, true);
  TaskSpec spec = Shell();
  spec.max_attempts = 2;
  const std::string id = f.Submit(spec);
  f.book->Schedule(10);
  f.book->AssignAnswered(id, 1, "m1",
                         {.ok = false, .error_code = ErrorCode::kBusy, .error = "busy"});
  CHECK(f.State(id) == TaskState::kQueued);
  CHECK(f.book->Find(id)->attempts == 0);
  f.clock.now += 1000;  // the refusing machine rests first
  f.book->Tick();
  for (int i = 0; i < 2; ++i) {
    f.book->Schedule(10);
    f.book->MachineGone("m1", "machine lost");
  }
  CHECK(f.State(id) == TaskState::kFailed);
  CHECK_THAT(f.book->Find(id)->reason, Catch::Contains("no attempts left"));
  const std::string bad = f.Submit(Shell());
  f.book->Schedule(10);
  f.book->AssignAnswered(
      bad, 1, "m1",
      {.ok = false, .error_code = ErrorCode::kBadTask, .error = "tool binary sh not found"});
  CHECK(f.State(bad) == TaskState::kFailed);
}

TEST_CASE("cancel is final and tells the machine", "[task_book]") {
  Fixture f;
  f.book->MachineUpdated("m1", {"shell"}, {}, 1, true);
  const std::string running = f.Submit(Shell());
  const std::string waiting = f.Submit(Shell());
  f.book->Schedule(10);
  REQUIRE(f.book->Cancel(waiting, "by user"));
  CHECK(f.State(waiting) == TaskState::kCancelled);
  REQUIRE(f.book->Cancel(running, "by user"));
  CHECK(f.fx.cancels.size() == 1);
  CHECK_FALSE(f.book->Cancel(running, "again"));
  // The slot is free only once the machine reports the tool gone.
  CHECK(f.book->scheduler().Full("m1"));
  f.book->ApplyFinished("m1", Finished(running, 1, TaskOutcome::kCancelled, -1));
  CHECK(f.State(running) == TaskState::kCancelled);
  CHECK_FALSE(f.book->scheduler().Full("m1"));
}

TEST_CASE("an assignment unconfirmed after a restart goes back to the queue", "[task_book]") {
  Fixture f;
  f.book->MachineUpdated("m1", {"shell"}, {}, 1, true);
  const std::string id = f.Submit(Shell());
  f.book->Schedule(10);
  f.Restart();
  CHECK(f.State(id) == TaskState::kAssigned);
  f.book->CheckAssignDeadlines();
  CHECK(f.State(id) == TaskState::kAssigned);
  f.clock.now += 60'000;
  f.book->CheckAssignDeadlines();
  CHECK(f.State(id) == TaskState::kQueued);
}

TEST_CASE("a machine that refuses assignments rests, longer each time, not in a loop",
          "[task_book]") {
  Fixture f;
  f.book->MachineUpdated("m1", {"shell"}, {}, 1, true);
  const std::string id = f.Submit(Shell());
  REQUIRE(f.book->Schedule(10) == 1);
  f.book->AssignAnswered(
      id, 1, "m1", {.ok = false, .error_code = ErrorCode::kUnavailable, .error = "disk full"});
  CHECK(f.State(id) == TaskState::kQueued);
  CHECK(f.book->Find(id)->attempts == 0);
  // Resting: nothing is placed however often the scheduler runs.
  CHECK(f.book->Schedule(10) == 0);
  f.clock.now += 999;
  f.book->Tick();
  CHECK(f.book->Schedule(10) == 0);
  f.clock.now += 1;
  f.book->Tick();
  REQUIRE(f.book->Schedule(10) == 1);
  // Refused again: twice as long (2 s).
  f.book->AssignAnswered(
      id, 1, "m1", {.ok = false, .error_code = ErrorCode::kUnavailable, .error = "disk full"});
  f.clock.now += 1999;
  f.book->Tick();
  CHECK(f.book->Schedule(10) == 0);
  f.clock.now += 1;
  f.book->Tick();
  REQUIRE(f.book->Schedule(10) == 1);
  // Taking a task ends the backoff; the next refusal rests 1 s again.
  f.book->AssignAnswered(id, 1, "m1", {.ok = true});
  CHECK(f.State(id) == TaskState::kRunning);
  f.book->ApplyFinished("m1", Finished(id, 1, TaskOutcome::kSucceeded));
  const std::string next = f.Submit(Shell());
  REQUIRE(f.book->Schedule(10) == 1);
  f.book->AssignAnswered(
      next, 1, "m1",
      {.ok = false, .error_code = ErrorCode::kBusy, .error = "still stopping an old copy"});
  f.clock.now += 1000;
  f.book->Tick();
  CHECK(f.book->Schedule(10) == 1);
  // Every try was a placement on m1, one per rest: 5 in all.
  CHECK(f.fx.runs.size() == 5);
}

TEST_CASE("a task cancelled while assigned frees its slot when the assignment fails",
          "[task_book]") {
  Fixture f;
  f.book->MachineUpdated("m1", {"shell"}, {}, 1, true);
  const std::string first = f.Submit(Shell());
  const std::string second = f.Submit(Shell());
  REQUIRE(f.book->Schedule(10) == 1);
  REQUIRE(f.book->Cancel(first, "by the user"));
  CHECK(f.State(first) == TaskState::kCancelled);
  CHECK(f.book->Schedule(10) == 0);  // the agent may still be starting it
  f.book->AssignAnswered(
      first, 1, "m1",
      {.ok = false, .error_code = ErrorCode::kFailed, .error = "no agent listening"});
  REQUIRE(f.book->Schedule(10) == 1);
  CHECK(f.fx.runs.back() == std::make_pair(std::string("m1"), second));
  CHECK(f.State(first) == TaskState::kCancelled);
}

TEST_CASE("a stopped project pauses its running tasks and holds the rest until resumed",
          "[task_book]") {
  Fixture f;
  f.book->MachineUpdated("m1", {"shell"}, {{"autovibe.machine", "m1"}}, 1, true);
  const std::string running = f.Submit(Shell());
  const std::string queued = f.Submit(Shell());
  f.book->Schedule(10);
  f.book->AssignAnswered(running, 1, "m1", {.ok = true});
  REQUIRE(f.State(running) == TaskState::kRunning);
  REQUIRE(f.State(queued) == TaskState::kQueued);

  auto stopped = f.book->StopProject("demo", "stopped by the user");
  REQUIRE(stopped);
  CHECK(stopped->paused == 1);
  CHECK(stopped->held == 1);
  CHECK(f.State(running) == TaskState::kPaused);
  CHECK(f.State(queued) == TaskState::kPaused);
  CHECK(f.fx.pauses == std::vector<std::pair<std::string, std::string>>{{"m1", running}});
  CHECK(f.book->HoldReason("demo") == "project demo is stopped");
  // A task submitted meanwhile waits too; the agent's report keeps the pause.
  const std::string later = f.Submit(Shell());
  CHECK(f.State(later) == TaskState::kPaused);
  auto paused = Finished(running, 1, TaskOutcome::kPaused);
  paused.report.session_id = "s-1";
  f.book->ApplyFinished("m1", paused);
  CHECK(f.State(running) == TaskState::kPaused);
  CHECK(f.book->Find(running)->report.session_id == "s-1");
  CHECK(f.book->Schedule(10) == 0);

  f.Restart();  // the stop survives a restart
  CHECK(f.book->HoldReason("demo") == "project demo is stopped");
  f.book->MachineUpdated("m1", {"shell"}, {{"autovibe.machine", "m1"}}, 1, true);
  auto resumed = f.book->ResumeProject("demo");
  REQUIRE(resumed);
  CHECK(resumed->released == 3);
  CHECK(f.State(running) == TaskState::kQueued);
  CHECK(f.book->Find(running)->resume_machine == "m1");
  CHECK(f.book->Schedule(10) == 2);  // the paused one back on m1, one held one on m2
  CHECK(f.book->Find(running)->machine_id == "m1");
  CHECK(f.book->Find(running)->attempts == 2);
  CHECK_FALSE(f.book->StopProject("nope", "x"));
}

TEST_CASE("an exhausted budget holds a project until it is replenished", "[task_book]") {
  Fixture f;
  f.book->MachineUpdated("m1", {"shell"}, {}, 2, true);
  const std::string a = f.Submit(Shell());
  const std::string b = f.Submit(Shell());
  f.book->Schedule(10);
  auto counts = f.book->BudgetExhausted("demo", "budget usd (total) is exhausted", false);
  REQUIRE(counts);
  CHECK(counts->cancelled == 2);
  CHECK(f.State(a) == TaskState::kCancelled);
  CHECK(f.book->Find(a)->reason == "budget usd (total) is exhausted");
  const std::string c = f.Submit(Shell());
  CHECK(f.State(c) == TaskState::kPaused);
  // A stop does not lift with the budget; the budget does not lift a stop.
  REQUIRE(f.book->StopProject("demo", "stopped by the user"));
  CHECK(f.book->BudgetReplenished("demo")->released == 0);
  CHECK(f.State(c) == TaskState::kPaused);
  auto resumed = f.book->ResumeProject("demo");
  REQUIRE(resumed);
  CHECK(resumed->released == 1);
  CHECK(f.State(c) == TaskState::kQueued);
  CHECK(f.book->HoldReason("demo").empty());
}

TEST_CASE("a tool that ended before its pause arrived ends as it did", "[task_book]") {
  Fixture f;
  f.book->MachineUpdated("m1", {"shell"}, {}, 1, true);
  const std::string id = f.Submit(Shell());
  f.book->Schedule(10);
  f.book->AssignAnswered(id, 1, "m1", {.ok = true});
  REQUIRE(f.book->StopProject("demo", "stopped by the user"));
  f.book->ApplyFinished("m1", Finished(id, 1, TaskOutcome::kSucceeded));
  CHECK(f.State(id) == TaskState::kSucceeded);
}

namespace {

// What the book holds of every task, in a form two books can be compared by.
std::vector<std::string> Snapshot(const TaskBook& book) {
  std::vector<std::string> out;
  for (const TaskRecord* t : book.List("", std::nullopt, SIZE_MAX)) {
    out.push_back(t->id + " " + std::string(ToString(t->state)) + " " + t->machine_id + " " +
                  std::to_string(t->attempts));
  }
  return out;
}

// A book loaded afresh from the same database: what the disk says.
std::vector<std::string> OnDisk(Fixture& f) {
  Effects quiet;
  TaskBook fresh(TaskBookDeps{f.store.get(), &f.clock, &quiet, &quiet}, TaskBookOptions{});
  fresh.MachineUpdated("m1", {"shell"}, {}, 1, true);
  REQUIRE(fresh.Load());
  return Snapshot(fresh);
}

}  // namespace

TEST_CASE("a write the database refuses fails its operation, and memory and disk still agree",
          "[task_book]") {
  Fixture f;
  // With a transaction open, as the controller's write batch keeps one.
  REQUIRE(f.store->Begin());
  f.book->MachineUpdated("m1", {"shell"}, {}, 1, true);
  const std::string running = f.Submit(Shell());
  REQUIRE(f.book->Schedule(10) == 1);
  REQUIRE(f.book->AssignAnswered(running, 1, "m1", {.ok = true}));
  const std::string queued = f.Submit(Shell());
  const auto before = Snapshot(*f.book);
  const size_t orders = f.fx.runs.size();
  REQUIRE(f.store->RefuseWritesForTest(true));

  // A submission: refused with the store's error; the task is not there afterwards.
  auto submitted = f.book->Submit("demo", Shell());
  REQUIRE_FALSE(submitted);
  CHECK(submitted.error().code == ErrorCode::kStore);
  // The agent's report that the task finished: the event fails (and will come again).
  auto finished = f.book->ApplyFinished("m1", Finished(running, 1, TaskOutcome::kSucceeded));
  REQUIRE_FALSE(finished);
  // A cancel, and a scheduling pass onto a freed machine: both fail; no order went out.
  REQUIRE_FALSE(f.book->Cancel(queued, "by the user"));
  f.book->MachineUpdated("m2", {"shell"}, {}, 1, true);
  CHECK(f.book->Schedule(10) == 0);
  CHECK(f.fx.runs.size() == orders);
  CHECK(f.fx.cancels.empty());
  CHECK(Snapshot(*f.book) == before);
  REQUIRE(f.store->RefuseWritesForTest(false));
  REQUIRE(f.store->Commit());
  CHECK(OnDisk(f) == before);

  // Once the database takes writes again, the same report is applied.
  REQUIRE(f.book->ApplyFinished("m1", Finished(running, 1, TaskOutcome::kSucceeded)));
  CHECK(f.State(running) == TaskState::kSucceeded);
  CHECK(OnDisk(f) == Snapshot(*f.book));
}

TEST_CASE("without a transaction a refused write still leaves memory as the disk has it",
          "[task_book]") {
  Fixture f;
  f.book->MachineUpdated("m1", {"shell"}, {}, 1, true);
  const std::string a = f.Submit(Shell());
  REQUIRE(f.store->RefuseWritesForTest(true));
  CHECK_FALSE(f.book->Schedule(10) == 1);
  REQUIRE(f.store->RefuseWritesForTest(false));
  CHECK(f.State(a) == TaskState::kQueued);
  CHECK(OnDisk(f) == Snapshot(*f.book));
  CHECK(f.book->Schedule(10) == 1);
  CHECK(f.State(a) == TaskState::kAssigned);
}
