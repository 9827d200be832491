// What agents report on their event stream (DESIGN.md, "Bus protocol": av.evt.<m>), as the
// controller's parts see it once the bus edge (agents/event_intake) has decoded it: one struct
// per kind, no protobuf.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "controller/model/checkpoint.h"
#include "controller/model/task.h"
#include "controller/model/usage.h"

namespace autovibe {

struct TaskStartedEvent {
  std::string task_id;
  uint32_t attempt = 0;
};

struct TaskLogEvent {
  std::string task_id;
  uint32_t attempt = 0;
  std::string stream;  // stdout, stderr, agent
  std::string data;
};

enum class TaskOutcome { kUnspecified, kSucceeded, kFailed, kCancelled, kTimedOut, kPaused };

struct TaskFinishedEvent {
  std::string task_id;
  uint32_t attempt = 0;
  TaskOutcome outcome = TaskOutcome::kUnspecified;
  int32_t exit_code = 0;  // -1 when killed by a signal
  int32_t signal = 0;
  std::string reason;
  TaskReport report;  // report.change: a repository task's result, when it has one
};

// A checkpoint an agent took (or, in a command's answer, holds): its manifest's summary.
struct CheckpointReport {
  std::string id;
  std::string machine_id;  // where it was taken
  std::string task_id;
  std::string parent;
  std::string trigger;
  std::string label;
  std::string workspace;
  std::string root;  // hex SHA-256 of its root tree
  uint64_t files = 0;
  uint64_t bytes = 0;
  uint64_t stored_bytes = 0;
  int64_t created_at_ms = 0;
};

struct CheckpointCreatedEvent {
  CheckpointReport checkpoint;
  uint32_t attempt = 0;  // of the task whose workspace was taken
};

struct CheckpointsRemovedEvent {
  std::vector<std::string> checkpoint_ids;
};

struct AgentStoppingEvent {
  std::string reason;
};

// The kinds the controller acts on, in the order of AgentEvent::what's alternatives.
enum class AgentEventKind {
  kTaskStarted,
  kTaskLog,
  kTaskFinished,
  kUsage,
  kCheckpointCreated,
  kCheckpointsRemoved,
  kAgentStopping,
};

struct AgentEvent {
  std::string event_id;
  std::string machine_id;
  int64_t at_ms = 0;  // by the agent's clock
  std::variant<TaskStartedEvent, TaskLogEvent, TaskFinishedEvent, UsageReport,
               CheckpointCreatedEvent, CheckpointsRemovedEvent, AgentStoppingEvent>
      what;

  AgentEventKind kind() const { return static_cast<AgentEventKind>(what.index()); }
};

}  // namespace autovibe
