// TaskBook's in-memory entry for one task; private to controller/tasks/.
#pragma once

#include "controller/tasks/task_book.h"

namespace autovibe {

struct TaskBook::Entry {
  TaskRecord record;
  int64_t last_log_seq = 0;  // the highest log seq stored for this task
};

SchedulerTask ToSchedulerTask(const TaskRecord& t);

}  // namespace autovibe
