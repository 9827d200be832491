// What the controller tells webhooks, made from the model's own records at the points where
// the controller decides (a budget alert, a task's end, a machine going away). Plain values.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "controller/model/machine.h"
#include "controller/model/task.h"
#include "controller/model/usage.h"
#include "controller/model/webhook.h"

namespace autovibe {

struct Notification {
  NotificationKind kind = NotificationKind::kTest;
  // Names the event: one delivery per key and webhook, however often the controller says it
  // ("task_failed:t-1:2", the task's second attempt).
  std::string key;
  std::string project;      // empty: the event belongs to no project (a machine's)
  std::string object_type;  // "task", "machine", "budget", "webhook"
  std::string object_id;
  int64_t at_ms = 0;  // 0: when the notifier is told
  std::string text;   // one line for people ("autovibe: task t-1 in demo failed: ...")
  boost::json::object details;
};

// budget_alert, or budget_exhausted at the 100% threshold.
Notification BudgetAlertNotification(const BudgetAlert& a);
// task_succeeded, task_failed or task_awaiting_review when `t` is in that state; nothing for
// any other state.
std::optional<Notification> TaskNotification(const TaskRecord& t);
// machine_lost: no heartbeat within the ttl.
Notification MachineLostNotification(const MachineRecord& m, const std::string& why);
// spawn_failed: the machine could not be made, or never booted.
Notification SpawnFailedNotification(const MachineRecord& m, const std::string& why);
// What POST /v1/webhooks/{id}/test sends.
Notification TestNotification(const std::string& webhook_id, const std::string& project);

}  // namespace autovibe
