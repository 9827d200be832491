#include "controller/agents/event_limits.h"

#include <fmt/format.h>

#include <initializer_list>
#include <string>

namespace autovibe {
namespace {

// A log chunk is at most 32 KiB of output (the agent's LogBatcher); a list of removed
// checkpoints is bounded only by the stream's cap; anything else is a few hundred bytes.
constexpr size_t kMaxLogEvent = size_t{128} << 10;
constexpr size_t kMaxOtherEvent = size_t{64} << 10;
constexpr size_t kMaxRemovedEvent = size_t{1} << 20;

size_t MaxBytes(const v1::AgentEvent& ev) {
  switch (ev.kind_case()) {
    case v1::AgentEvent::kTaskLog:
      return kMaxLogEvent;
    case v1::AgentEvent::kCheckpointsRemoved:
      return kMaxRemovedEvent;
    default:
      return kMaxOtherEvent;
  }
}

// The ids the event carries, by what they name.
std::optional<Refusal> LongId(
    std::initializer_list<std::pair<const char*, const std::string*>> ids) {
  for (const auto& [what, id] : ids) {
    if (id->size() > kMaxEventIdBytes) {
      return Refusal{"id_too_long", fmt::format("its {} is {} bytes long, the limit is {}", what,
                                                id->size(), kMaxEventIdBytes)};
    }
  }
  return std::nullopt;
}

std::optional<Refusal> LongIdIn(const v1::AgentEvent& ev) {
  const std::string* task = nullptr;
  switch (ev.kind_case()) {
    case v1::AgentEvent::kTaskStarted:
      task = &ev.task_started().task_id();
      break;
    case v1::AgentEvent::kTaskLog:
      task = &ev.task_log().task_id();
      break;
    case v1::AgentEvent::kTaskFinished:
      task = &ev.task_finished().task_id();
      break;
    case v1::AgentEvent::kUsage:
      return LongId({{"task id", &ev.usage().task_id()},
                     {"lease id", &ev.usage().lease_id()},
                     {"project", &ev.usage().project()}});
    case v1::AgentEvent::kCheckpointCreated: {
      const auto& m = ev.checkpoint_created().manifest();
      return LongId({{"checkpoint id", &m.id()},
                     {"parent checkpoint id", &m.parent()},
                     {"task id", &m.task_id()},
                     {"machine id", &m.machine_id()}});
    }
    case v1::AgentEvent::kCheckpointsRemoved:
      for (const std::string& id : ev.checkpoints_removed().checkpoint_ids()) {
        if (auto r = LongId({{"checkpoint id", &id}})) return r;
      }
      return std::nullopt;
    default:
      return std::nullopt;
  }
  return LongId({{"task id", task}});
}

}  // namespace

std::string_view EventKindName(const v1::AgentEvent& ev) {
  switch (ev.kind_case()) {
    case v1::AgentEvent::kAgentStarted:
      return "agent_started";
    case v1::AgentEvent::kAgentStopping:
      return "agent_stopping";
    case v1::AgentEvent::kTaskStarted:
      return "task_started";
    case v1::AgentEvent::kTaskLog:
      return "task_log";
    case v1::AgentEvent::kTaskFinished:
      return "task_finished";
    case v1::AgentEvent::kUsage:
      return "usage";
    case v1::AgentEvent::kCheckpointCreated:
      return "checkpoint_created";
    case v1::AgentEvent::kCheckpointsRemoved:
      return "checkpoints_removed";
    default:
      return "unknown";
  }
}

std::optional<Refusal> CheckEventLimits(const v1::AgentEvent& ev, size_t bytes) {
  if (const size_t max = MaxBytes(ev); bytes > max) {
    return Refusal{"too_large", fmt::format("{} bytes, the limit for a {} event is {}", bytes,
                                            EventKindName(ev), max)};
  }
  if (ev.event_id().empty()) return Refusal{"no_event_id", "it has no event id"};
  if (auto r = LongId({{"event id", &ev.event_id()}, {"machine id", &ev.machine_id()}})) return r;
  return LongIdIn(ev);
}

}  // namespace autovibe
