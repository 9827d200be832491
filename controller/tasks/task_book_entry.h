// TaskBook's in-memory entry for one task; private to controller/tasks/.
#pragma once

#include <type_traits>

#include "controller/tasks/task_book.h"

namespace autovibe {

struct TaskBook::Entry {
  TaskRecord record;
  int64_t last_log_seq = 0;  // the highest log seq stored for this task
  // The machine the current attempt was placed on, kept when the task goes back to the queue
  // (record.machine_id is cleared then) until it is placed again. Memory only.
  std::string attempt_machine;
};

SchedulerTask ToSchedulerTask(const TaskRecord& t);

// One operation from outside; the outermost one opens a savepoint and, when it ends, either
// undoes and reloads (a write failed) or lets its effects go out.
class TaskBook::Op {
 public:
  explicit Op(TaskBook& book);
  // Ends the operation: the first failed write's error, or ok.
  Result<void> End();

 private:
  TaskBook& book_;
  bool outer_;
};

template <class Body>
auto TaskBook::Guarded(Body&& body) {
  using R = std::invoke_result_t<Body>;
  Op op(*this);
  if constexpr (std::is_void_v<R>) {
    body();
    return op.End();
  } else if constexpr (requires(R r) {
                         r.has_value();
                         r.error();
                       }) {
    R r = body();
    if (auto ended = op.End(); !ended) return R(ended.error());
    return r;
  } else {
    R v = body();
    if (auto ended = op.End(); !ended) return Result<R>(ended.error());
    return Result<R>(std::move(v));
  }
}

}  // namespace autovibe
