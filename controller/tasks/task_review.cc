// TaskBook: the review gate of repository tasks, and what becomes of their change.
#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "controller/tasks/task_book.h"
#include "controller/tasks/task_book_entry.h"

namespace autovibe {

namespace json = boost::json;

Result<const TaskRecord*> TaskBook::Review(std::string_view id, bool approve,
                                           const std::string& reason) {
  return Guarded([&]() -> Result<const TaskRecord*> {
    Entry* e = Get(id);
    if (e == nullptr) {
      return MakeError(ErrorCode::kNotFound, "no task with id " + std::string(id).substr(0, 80));
    }
    TaskRecord& t = e->record;
    if (t.state != TaskState::kAwaitingReview) {
      return MakeError(
          ErrorCode::kConflict,
          "task " + t.id + " is " + std::string(ToString(t.state)) + ", not awaiting_review");
    }
    if (approve) {
      Finish(*e, TaskState::kSucceeded, reason.empty() ? "approved" : "approved: " + reason);
    } else {
      Finish(*e, TaskState::kRejected, reason.empty() ? "rejected" : "rejected: " + reason);
    }
    return &e->record;
  });
}

Result<void> TaskBook::UpdateChange(std::string_view id,
                                    const std::function<void(TaskChange&)>& update) {
  return Guarded([&]() -> void {
    Entry* e = Get(id);
    if (e == nullptr) return;
    update(e->record.report.change);
    Save(*e);
    TellChanged(e->record);
  });
}

}  // namespace autovibe
