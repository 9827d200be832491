#include "controller/events/event_filter.h"

#include <algorithm>

namespace autovibe {
namespace {

constexpr size_t kMaxKinds = 16;
constexpr size_t kMaxKindBytes = 64;

bool KindMatches(std::string_view want, std::string_view kind) {
  return kind == want ||
         (kind.size() > want.size() && kind.starts_with(want) && kind[want.size()] == '.');
}

bool ValidKind(std::string_view k) {
  if (k.empty() || k.size() > kMaxKindBytes || k.front() == '.' || k.back() == '.') return false;
  return std::all_of(k.begin(), k.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
  });
}

}  // namespace

bool EventFilter::Passes(const StoredEvent& e) const {
  if (!scope.empty() && std::find(scope.begin(), scope.end(), e.project) == scope.end()) {
    return false;
  }
  if (!project.empty() && e.project != project) return false;
  if (!task.empty() && e.task_id != task) return false;
  if (kinds.empty()) return true;
  return std::any_of(kinds.begin(), kinds.end(),
                     [&](const std::string& k) { return KindMatches(k, e.kind); });
}

Result<std::vector<std::string>> ParseEventKinds(std::string_view list) {
  std::vector<std::string> out;
  while (!list.empty()) {
    const size_t comma = list.find(',');
    std::string_view k = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (k.empty()) continue;
    if (!ValidKind(k)) {
      return MakeError(ErrorCode::kBadRequest,
                       "bad event kind \"" + std::string(k.substr(0, kMaxKindBytes)) +
                           "\": use names such as task, task.running, budget.alert");
    }
    if (out.size() == kMaxKinds) {
      return MakeError(ErrorCode::kBadRequest,
                       "at most " + std::to_string(kMaxKinds) + " event kinds at once");
    }
    out.emplace_back(k);
  }
  return out;
}

}  // namespace autovibe
