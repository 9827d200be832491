#include "controller/agents/agent_event_codec.h"

#include <boost/algorithm/hex.hpp>

#include "common/wire/resources.h"

namespace autovibe {
namespace {

std::string StreamName(v1::LogStream s) {
  switch (s) {
    case v1::LOG_STREAM_STDERR:
      return "stderr";
    case v1::LOG_STREAM_AGENT:
      return "agent";
    default:
      return "stdout";
  }
}

TaskOutcome OutcomeOf(v1::TaskOutcome o) {
  switch (o) {
    case v1::TASK_OUTCOME_SUCCEEDED:
      return TaskOutcome::kSucceeded;
    case v1::TASK_OUTCOME_FAILED:
      return TaskOutcome::kFailed;
    case v1::TASK_OUTCOME_CANCELLED:
      return TaskOutcome::kCancelled;
    case v1::TASK_OUTCOME_TIMED_OUT:
      return TaskOutcome::kTimedOut;
    case v1::TASK_OUTCOME_PAUSED:
      return TaskOutcome::kPaused;
    default:
      return TaskOutcome::kUnspecified;
  }
}

}  // namespace

CheckpointReport FromProto(const v1::CheckpointManifest& m) {
  return {.id = m.id(),
          .machine_id = m.machine_id(),
          .task_id = m.task_id(),
          .parent = m.parent(),
          .trigger = m.trigger(),
          .label = m.label(),
          .workspace = m.workspace(),
          .root = boost::algorithm::hex_lower(m.root()),
          .files = m.file_count(),
          .bytes = m.total_bytes(),
          .stored_bytes = m.stored_bytes(),
          .created_at_ms = m.created_unix_ms()};
}

MachineRegistration FromProto(const v1::RegisterRequest& r) {
  return {.name = r.name(),
          .machine_id = r.machine_id(),
          .agent_version = r.agent_version(),
          .backend = r.backend(),
          .labels = {r.labels().begin(), r.labels().end()},
          .tools = {r.tools().begin(), r.tools().end()},
          .resources = FromProto(r.resources()),
          .running_task_ids = {r.running_task_ids().begin(), r.running_task_ids().end()},
          .instance_id = r.instance_id(),
          .task_slots = r.task_slots()};
}

HeartbeatReport FromProto(const v1::Heartbeat& hb) {
  return {.machine_id = hb.machine_id(),
          .sequence = hb.sequence(),
          .resources = FromProto(hb.resources()),
          .running_task_ids = {hb.running_task_ids().begin(), hb.running_task_ids().end()},
          .sent_at_unix_ns = hb.sent_at_unix_ns()};
}

UsageReport FromProto(const v1::UsageRecord& r) {
  return {.task_id = r.task_id(),
          .attempt = r.attempt(),
          .project = r.project(),
          .lease_id = r.lease_id(),
          .kind = r.kind(),
          .provider = r.provider(),
          .model = r.model(),
          .route = r.route(),
          .input_tokens = r.input_tokens(),
          .output_tokens = r.output_tokens(),
          .cache_write_tokens = r.cache_write_tokens(),
          .cache_read_tokens = r.cache_read_tokens(),
          .cost_micros = r.cost_micros(),
          .task_ms = r.task_ms(),
          .machine_ms = r.machine_ms(),
          .latency_us = r.latency_us(),
          .http_status = r.http_status(),
          .status = r.status(),
          .estimated = r.estimated()};
}

std::optional<AgentEvent> FromProto(const v1::AgentEvent& ev) {
  AgentEvent out{.event_id = ev.event_id(),
                 .machine_id = ev.machine_id(),
                 .at_ms = ev.at_unix_ns() / 1'000'000};
  switch (ev.kind_case()) {
    case v1::AgentEvent::kTaskStarted:
      out.what = TaskStartedEvent{ev.task_started().task_id(), ev.task_started().attempt()};
      break;
    case v1::AgentEvent::kTaskLog: {
      const auto& l = ev.task_log();
      out.what = TaskLogEvent{l.task_id(), l.attempt(), StreamName(l.stream()), l.data()};
      break;
    }
    case v1::AgentEvent::kTaskFinished: {
      const auto& f = ev.task_finished();
      const auto& r = f.report();
      out.what = TaskFinishedEvent{
          .task_id = f.task_id(),
          .attempt = f.attempt(),
          .outcome = OutcomeOf(f.outcome()),
          .exit_code = f.exit_code(),
          .signal = f.signal(),
          .reason = f.reason(),
          .report = {r.turns(), r.session_id(), r.reported_cost_micros(), r.result_subtype(),
                     r.reported_input_tokens(), r.reported_output_tokens(),
                     r.reported_cache_read_tokens(), r.reported_cache_write_tokens()}};
      if (f.has_repo()) {
        const v1::RepoResult& c = f.repo();
        std::get<TaskFinishedEvent>(out.what).report.change =
            TaskChange{.base = c.base(),
                       .head = c.head(),
                       .branch = c.branch(),
                       .base_branch = c.base_branch(),
                       .files_changed = c.files_changed(),
                       .insertions = c.insertions(),
                       .deletions = c.deletions(),
                       .diff_bytes = c.diff_bytes(),
                       .bundle_bytes = c.bundle_bytes(),
                       .error = c.error()};
      }
      break;
    }
    case v1::AgentEvent::kUsage:
      out.what = FromProto(ev.usage());
      break;
    case v1::AgentEvent::kCheckpointCreated:
      out.what = CheckpointCreatedEvent{FromProto(ev.checkpoint_created().manifest()),
                                        ev.checkpoint_created().attempt()};
      break;
    case v1::AgentEvent::kCheckpointsRemoved: {
      const auto& ids = ev.checkpoints_removed().checkpoint_ids();
      out.what = CheckpointsRemovedEvent{{ids.begin(), ids.end()}};
      break;
    }
    case v1::AgentEvent::kAgentStopping:
      out.what = AgentStoppingEvent{ev.agent_stopping().reason()};
      break;
    default:
      return std::nullopt;
  }
  return out;
}

}  // namespace autovibe
