#include <array>
#include <utility>

#include "controller/model/task.h"

namespace autovibe {
namespace {

constexpr std::array<std::pair<TaskState, std::string_view>, 10> kNames = {{
    {TaskState::kQueued, "queued"},
    {TaskState::kBlocked, "blocked"},
    {TaskState::kAssigned, "assigned"},
    {TaskState::kRunning, "running"},
    {TaskState::kPaused, "paused"},
    {TaskState::kSucceeded, "succeeded"},
    {TaskState::kFailed, "failed"},
    {TaskState::kCancelled, "cancelled"},
    {TaskState::kAwaitingReview, "awaiting_review"},
    {TaskState::kRejected, "rejected"},
}};

}  // namespace

std::string_view ToString(TaskState s) {
  for (const auto& [state, name] : kNames) {
    if (state == s) return name;
  }
  return "unknown";
}

std::optional<TaskState> ParseTaskState(std::string_view text) {
  for (const auto& [state, name] : kNames) {
    if (name == text) return state;
  }
  return std::nullopt;
}

bool IsFinal(TaskState s) {
  return s == TaskState::kSucceeded || s == TaskState::kFailed || s == TaskState::kCancelled ||
         s == TaskState::kRejected;
}

bool IsPlaced(TaskState s) { return s == TaskState::kAssigned || s == TaskState::kRunning; }

}  // namespace autovibe
