// TaskBook's operations: what makes a failed write fail the operation it belongs to, leaving
// memory, the database and the agents agreeing (see task_book.h).
#include <spdlog/spdlog.h>

#include "controller/tasks/task_book.h"
#include "controller/tasks/task_book_entry.h"

namespace autovibe {
namespace {

constexpr std::string_view kSavepoint = "task_book";

}  // namespace

TaskBook::Op::Op(TaskBook& book) : book_(book), outer_(book.op_depth_++ == 0) {
  if (!outer_) return;
  book_.op_error_.reset();
  // Inside the write batch's transaction the operation's writes can be undone alone; outside
  // one, each write commits by itself and the reload below still makes memory match.
  book_.op_savepoint_ =
      book_.store_.InTransaction() && book_.store_.Savepoint(kSavepoint).has_value();
}

Result<void> TaskBook::Op::End() {
  --book_.op_depth_;
  if (!outer_) return {};
  auto effects = std::move(book_.effects_);
  book_.effects_.clear();
  std::optional<Error> failed = std::move(book_.op_error_);
  book_.op_error_.reset();
  if (failed && book_.op_savepoint_) {
    if (auto r = book_.store_.RollbackTo(kSavepoint); !r) {
      spdlog::error("tasks cannot undo a failed operation: {}", r.error().message);
    }
  }
  if (book_.op_savepoint_) (void)book_.store_.Release(kSavepoint);
  book_.op_savepoint_ = false;
  if (failed) {
    spdlog::error("tasks: an operation failed ({}); reloading the tasks from the store",
                  failed->message);
    book_.Reload();
    return *failed;
  }
  for (auto& effect : effects) effect();
  return {};
}

void TaskBook::Fail(const Error& e) {
  if (!op_error_) op_error_ = e;
}

void TaskBook::Effect(std::function<void()> effect) {
  if (op_depth_ > 0) {
    effects_.push_back(std::move(effect));
  } else {
    effect();
  }
}

void TaskBook::TellChanged(const TaskRecord& t) {
  Effect([this, t] { observer_.TaskChanged(t); });
}

void TaskBook::TellLogged(const TaskRecord& t, const TaskLogChunk& chunk) {
  Effect([this, t, chunk] { observer_.TaskLogged(t, chunk); });
}

void TaskBook::TellBusy(const std::string& machine_id) {
  Effect([this, machine_id, busy = scheduler_.Full(machine_id)] {
    observer_.MachineBusy(machine_id, busy);
  });
}

void TaskBook::OrderRun(const TaskRecord& t) {
  Effect([this, t] {
    commands_.RunTask(
        t, [this, task = t.id, attempt = t.attempts, machine = t.machine_id](AssignAnswer a) {
          if (batch_ != nullptr) batch_->Open();
          (void)AssignAnswered(task, attempt, machine, a);
        });
  });
}

void TaskBook::OrderCancel(const std::string& machine_id, const std::string& task_id,
                           const std::string& reason, Duration delay) {
  Effect([=, this] { commands_.CancelTask(machine_id, task_id, reason, delay); });
}

void TaskBook::OrderPause(const std::string& machine_id, const std::string& task_id,
                          const std::string& reason, Duration delay) {
  Effect([=, this] { commands_.PauseTask(machine_id, task_id, reason, delay); });
}

void TaskBook::Reload() {
  projects_.clear();
  projects_by_name_.clear();
  counts_.clear();
  tasks_.clear();
  by_id_.clear();
  dependents_.clear();
  starting_points_.clear();
  assign_deadlines_.clear();
  scheduler_.ForgetTasks();
  if (auto r = Load(); !r) {
    spdlog::error("tasks cannot reload from the store: {}", r.error().message);
  }
  // Slots held before may be free now, and the other way round.
  for (const std::string& m : scheduler_.MachineIds()) {
    observer_.MachineBusy(m, scheduler_.Full(m));
  }
  pump_.Request();
}

}  // namespace autovibe
