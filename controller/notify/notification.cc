#include "controller/notify/notification.h"

#include <fmt/format.h>

#include "common/core/ids.h"
#include "common/core/time.h"
#include "controller/budgets/alerts.h"
#include "controller/model/budget.h"

namespace autovibe {
namespace {

namespace json = boost::json;

std::string TaskOutcome(const TaskRecord& t) {
  switch (t.state) {
    case TaskState::kSucceeded:
      return "succeeded";
    case TaskState::kAwaitingReview:
      return "awaits review of its change";
    default:
      break;
  }
  std::string out = "failed";
  if (t.exit_code) out += fmt::format(" (exit code {})", *t.exit_code);
  if (t.signal != 0) out += fmt::format(" (signal {})", t.signal);
  if (!t.reason.empty()) out += ": " + t.reason;
  return out;
}

json::object MachineDetails(const MachineRecord& m, const std::string& why) {
  return {{"machine_id", m.id},
          {"name", m.name},
          {"backend", m.backend},
          {"pool", m.pool},
          {"state", ToString(m.state)},
          {"reason", why},
          {"last_heartbeat_at", FormatRfc3339(m.last_heartbeat_at_ms)}};
}

}  // namespace

Notification BudgetAlertNotification(const BudgetAlert& a) {
  const bool exhausted = a.threshold >= kExhaustedThreshold;
  const std::string budget =
      a.project + "/" + std::string(ToString(a.resource)) + "/" + std::string(ToString(a.period));
  return Notification{
      .kind = exhausted ? NotificationKind::kBudgetExhausted : NotificationKind::kBudgetAlert,
      .key = fmt::format("budget:{}:{}:{}", budget, a.period_start_ms, a.threshold),
      .project = a.project,
      .object_type = "budget",
      .object_id = budget,
      .at_ms = a.at_ms,
      .text = AlertText(a),
      .details = {{"resource", ToString(a.resource)},
                  {"period", ToString(a.period)},
                  {"threshold", a.threshold},
                  {"spent", PlainAmount(a.resource, a.spent)},
                  {"limit", PlainAmount(a.resource, a.limit)}}};
}

std::optional<Notification> TaskNotification(const TaskRecord& t) {
  NotificationKind kind;
  switch (t.state) {
    case TaskState::kSucceeded:
      kind = NotificationKind::kTaskSucceeded;
      break;
    case TaskState::kFailed:
      kind = NotificationKind::kTaskFailed;
      break;
    case TaskState::kAwaitingReview:
      kind = NotificationKind::kTaskAwaitingReview;
      break;
    default:
      return std::nullopt;
  }
  json::object details{{"state", ToString(t.state)},
                       {"attempts", t.attempts},
                       {"tool", t.spec.tool},
                       {"machine_id", t.machine_id},
                       {"reason", t.reason},
                       {"started_at", FormatRfc3339(t.started_at_ms)},
                       {"finished_at", FormatRfc3339(t.finished_at_ms)}};
  details["exit_code"] = t.exit_code ? json::value(*t.exit_code) : json::value(nullptr);
  return Notification{
      .kind = kind,
      .key = fmt::format("{}:{}:{}", ToString(kind), t.id, t.attempts),
      .project = t.project,
      .object_type = "task",
      .object_id = t.id,
      .at_ms = t.finished_at_ms,
      .text = fmt::format("autovibe: task {} in project {} {}", t.id, t.project, TaskOutcome(t)),
      .details = std::move(details)};
}

Notification MachineLostNotification(const MachineRecord& m, const std::string& why) {
  return Notification{
      .kind = NotificationKind::kMachineLost,
      // A machine that comes back and is lost again is another event.
      .key = fmt::format("machine_lost:{}:{}", m.id, m.last_heartbeat_at_ms),
      .object_type = "machine",
      .object_id = m.id,
      .text = fmt::format("autovibe: machine {} ({}) is lost: {}", m.name, m.id, why),
      .details = MachineDetails(m, why)};
}

Notification SpawnFailedNotification(const MachineRecord& m, const std::string& why) {
  return Notification{
      .kind = NotificationKind::kSpawnFailed,
      .key = "spawn_failed:" + m.id,
      .object_type = "machine",
      .object_id = m.id,
      .text = fmt::format("autovibe: machine {} of pool {} could not be started: {}", m.name,
                          m.pool.empty() ? "-" : m.pool, why),
      .details = MachineDetails(m, why)};
}

Notification TestNotification(const std::string& webhook_id, const std::string& project) {
  return Notification{.kind = NotificationKind::kTest,
                      .key = "test:" + NewId(webhook_id),
                      .project = project,
                      .object_type = "webhook",
                      .object_id = webhook_id,
                      .text = "autovibe: a test notification for webhook " + webhook_id,
                      .details = {}};
}

}  // namespace autovibe
