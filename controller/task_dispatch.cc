#include "controller/task_dispatch.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "autovibe/v1/command.pb.h"
#include "autovibe/v1/event.pb.h"
#include "common/core/ids.h"
#include "common/core/time.h"

namespace autovibe {
namespace {

namespace asio = boost::asio;

constexpr size_t kPlacementsPerStep = 256;
constexpr auto kAssignTimeout = std::chrono::seconds(5);
// A task seeded from a checkpoint starts once its workspace is written.
constexpr auto kSeedTimeout = std::chrono::seconds(120);
// Agent events carry log chunks of up to 64 KiB; this leaves room for the envelope.
constexpr size_t kMaxAgentEvent = 1 << 20;
constexpr const char* kEventsStream = "AV_EVENTS";
constexpr const char* kEventsConsumer = "controller";

bool Accepting(MachineState s) { return s == MachineState::kReady || s == MachineState::kBusy; }

}  // namespace

void TaskDispatch::SyncMachine(const MachineRecord& m) {
  // Every machine carries its own id as a label, so a paused task can be pinned to the
  // machine that holds its workspace.
  auto labels = m.labels;
  labels["autovibe.machine"] = m.id;
  tasks_->MachineUpdated(m.id, m.tools, labels, m.task_slots, Accepting(m.state));
}

void TaskDispatch::RequestSchedule() {
  if (schedule_queued_ || stopped_) return;
  schedule_queued_ = true;
  asio::post(*d_.ioc, [this] { SchedulePass(); });
}

void TaskDispatch::SchedulePass() {
  schedule_queued_ = false;
  if (stopped_ || !tasks_->HasQueued()) return;
  d_.batch->Open();
  if (tasks_->Schedule(kPlacementsPerStep) == kPlacementsPerStep) RequestSchedule();
}

void TaskDispatch::RunTask(const TaskRecord& t) {
  v1::Command cmd;
  cmd.set_command_id(NewId("c"));
  v1::RunTask* run = cmd.mutable_run_task();
  run->set_task_id(t.id);
  run->set_project(t.project);
  run->set_tool(t.spec.tool);
  run->set_prompt(t.spec.prompt);
  for (const auto& a : t.spec.command) run->add_command(a);
  for (const auto& [k, v] : t.spec.env) (*run->mutable_env())[k] = v;
  for (const auto& [k, v] : t.spec.options) (*run->mutable_options())[k] = v;
  run->set_timeout_ms(t.spec.timeout_s * 1000u);
  run->set_attempt(t.attempts);
  run->set_max_usd_micros(t.spec.max_usd_micros);
  if (!t.resume_machine.empty() && t.resume_machine == t.machine_id) {
    run->set_resume(true);
    run->set_resume_session(t.report.session_id);
  }
  // A task continued elsewhere, or submitted from a checkpoint, starts from it: the checkpoint
  // is brought onto the machine first (only the objects it lacks travel).
  std::string from =
      checkpoints_ != nullptr && !run->resume() ? checkpoints_->StartingPoint(t) : "";
  if (!from.empty()) run->set_from_checkpoint(from);
  // The decision is durable before the agent hears of it: a restart never forgets a task
  // that is running somewhere.
  d_.batch->AfterCommit([this, machine = t.machine_id, task = t.id, attempt = t.attempts, from,
                         data = cmd.SerializeAsString()] {
    if (from.empty()) return SendRunTask(machine, task, attempt, data, kAssignTimeout);
    checkpoints_->Branch(
        from, machine, [this, machine, task, attempt, from, data](Result<BranchOutcome> r) {
          if (stopped_) return;
          if (r) return SendRunTask(machine, task, attempt, data, kSeedTimeout);
          v1::CommandReply reply;
          // A checkpoint nobody has any more fails the task; one on a
          // machine that cannot answer now waits.
          reply.set_error_code(r.error().code == "not_found" ? "bad_task" : "unavailable");
          reply.set_error("cannot bring checkpoint " + from +
                          " onto the machine: " + r.error().message);
          AssignAnswered(machine, task, attempt, reply.SerializeAsString());
        });
  });
}

void TaskDispatch::SendRunTask(const std::string& machine, const std::string& task,
                               uint32_t attempt, const std::string& data, Duration timeout) {
  d_.bus->RequestAsync(Subject("cmd." + machine), data, timeout,
                       [this, machine, task, attempt](Result<std::string> raw) {
                         asio::post(*d_.ioc, [this, machine, task, attempt, raw = std::move(raw)] {
                           if (stopped_) return;
                           AssignAnswered(machine, task, attempt, raw);
                         });
                       });
}

void TaskDispatch::AssignAnswered(const std::string& machine, const std::string& task,
                                  uint32_t attempt, const Result<std::string>& raw) {
  v1::CommandReply reply;
  bool ok = false;
  std::string code;
  std::string error;
  if (!raw) {
    error = raw.error().code == "no_responders" ? "no agent listening" : raw.error().message;
  } else if (!reply.ParseFromString(*raw)) {
    error = "undecodable reply";
  } else {
    ok = reply.ok();
    code = reply.error_code();
    error = reply.error();
  }
  d_.batch->Open();
  tasks_->AssignAnswered(task, attempt, machine, ok, code, error);
  RequestSchedule();
}

void TaskDispatch::CancelTask(const std::string& machine_id, const std::string& task_id,
                              const std::string& reason, Duration delay) {
  v1::Command cmd;
  cmd.set_command_id(NewId("c"));
  cmd.mutable_cancel_task()->set_task_id(task_id);
  cmd.mutable_cancel_task()->set_reason(reason);
  cmd.mutable_cancel_task()->set_delay_ms(static_cast<uint32_t>(delay.count()));
  // Fire and forget: a copy that keeps running shows up in the next heartbeat and is
  // cancelled again.
  d_.batch->AfterCommit(
      [this, subject = Subject("cmd." + machine_id), data = cmd.SerializeAsString()] {
        if (auto r = d_.bus->Publish(subject, data); !r) {
          spdlog::warn("controller cannot send cancel: {}", r.error().message);
        }
      });
}

void TaskDispatch::PauseTask(const std::string& machine_id, const std::string& task_id,
                             const std::string& reason, Duration delay) {
  v1::Command cmd;
  cmd.set_command_id(NewId("c"));
  cmd.mutable_pause_task()->set_task_id(task_id);
  cmd.mutable_pause_task()->set_reason(reason);
  cmd.mutable_pause_task()->set_delay_ms(static_cast<uint32_t>(delay.count()));
  // Like a cancel: a copy that keeps running shows up in the next heartbeat and is stopped.
  d_.batch->AfterCommit(
      [this, subject = Subject("cmd." + machine_id), data = cmd.SerializeAsString()] {
        if (auto r = d_.bus->Publish(subject, data); !r) {
          spdlog::warn("controller cannot send pause: {}", r.error().message);
        }
      });
}

void TaskDispatch::TaskChanged(const TaskRecord& t) {
  d_.followers->TaskChanged(t);
  if (IsFinal(t.state) || t.state == TaskState::kQueued) RequestSchedule();
}

void TaskDispatch::TaskLogged(const TaskRecord& t, const TaskLogChunk& chunk) {
  d_.followers->TaskLogged(t, chunk);
}

void TaskDispatch::MachineBusy(const std::string& machine_id, bool busy) {
  d_.fleet->SetBusy(machine_id, busy);
  if (!busy) RequestSchedule();
}

void TaskDispatch::StartEventConsumer() {
  if (events_sub_ || events_starting_ || stopped_) return;
  events_starting_ = true;
  asio::post(*d_.blocking, [this] {
    StreamConfig sc{kEventsStream, {d_.subject_prefix + ".evt.>"}};
    auto ensured = d_.bus->EnsureStream(sc);
    Result<std::unique_ptr<Subscription>> sub = ensured.error();
    if (ensured) {
      sub = d_.bus->ConsumeStream(
          kEventsStream, kEventsConsumer, d_.subject_prefix + ".evt.>", kMaxAgentEvent,
          [this](BusMessage m, std::function<void()> ack) {
            asio::post(*d_.ioc,
                       [this, m = std::move(m), ack = std::move(ack)] { OnAgentEvent(m, ack); });
          });
    }
    asio::post(*d_.ioc, [this, sub = std::move(sub)]() mutable {
      events_starting_ = false;
      if (!sub) {
        // Retried on the next (re)connection and by the tick.
        spdlog::error("controller cannot consume agent events: {}", sub.error().message);
        return;
      }
      if (stopped_) return;
      events_sub_ = std::move(*sub);
      spdlog::info("controller consuming agent events stream={}", kEventsStream);
    });
  });
}

void TaskDispatch::OnAgentEvent(const BusMessage& m, const std::function<void()>& ack) {
  if (stopped_) return;
  auto ev = DecodeOrReject<v1::AgentEvent>(*d_.bus, m, "agent_event");
  // Only an agent's own subject may speak for its machine.
  if (ev && m.subject != Subject("evt." + ev->machine_id())) {
    d_.bus->Stats().Reject("agent_event", "subject_mismatch", m.subject, m.data.size());
    ev.reset();
  }
  if (ev && ev->event_id().empty()) {
    d_.bus->Stats().Reject("agent_event", "no_event_id", m.subject, m.data.size());
    ev.reset();
  }
  if (!ev) {
    ack();  // never redeliver what will never be accepted
    return;
  }
  d_.batch->Open();
  auto fresh = d_.store->MarkAgentEventApplied(ev->event_id(), UnixNowNs() / 1'000'000);
  if (!fresh) {
    spdlog::error("controller cannot record event {}: {}", ev->event_id(), fresh.error().message);
    return;  // not acked: it comes again
  }
  if (*fresh && ev->has_usage()) {
    if (on_usage_) on_usage_(*ev);
  } else if (*fresh && (ev->has_checkpoint_created() || ev->has_checkpoints_removed())) {
    if (checkpoints_ != nullptr) checkpoints_->ApplyEvent(*ev);
  } else if (*fresh && (!ev->has_agent_stopping() || AgentStopped(*ev))) {
    tasks_->ApplyAgentEvent(*ev);
  }
  d_.batch->AfterCommit(ack);
}

bool TaskDispatch::AgentStopped(const v1::AgentEvent& ev) {
  const std::string why = "the agent stopped: " + ev.agent_stopping().reason();
  if (!d_.fleet->AgentStopped(ev.machine_id(), ev.at_unix_ns() / 1'000'000, why)) {
    // Stale (the agent registered again since) or a machine we do not know: nothing it held
    // is affected by this notice.
    return d_.fleet->Find(ev.machine_id()) == nullptr;
  }
  // No new task may land on a machine whose agent is gone, until it registers again.
  SyncMachine(*d_.fleet->Find(ev.machine_id()));
  return true;
}

void TaskDispatch::Stop() {
  stopped_ = true;
  events_sub_.reset();
}

}  // namespace autovibe
