#include "controller/agents/sender_rules.h"

#include <fmt/format.h>

namespace autovibe {
namespace {

Refusal Refuse(std::string reason, std::string detail) {
  return Refusal{std::move(reason), std::move(detail)};
}

}  // namespace

std::optional<Refusal> SenderRules::Check(const std::string& machine_id,
                                          const AgentEvent& e) const {
  if (const auto* s = std::get_if<TaskStartedEvent>(&e.what)) {
    return CheckAttempt(machine_id, s->task_id, s->attempt);
  }
  if (const auto* l = std::get_if<TaskLogEvent>(&e.what)) {
    return CheckAttempt(machine_id, l->task_id, l->attempt);
  }
  if (const auto* f = std::get_if<TaskFinishedEvent>(&e.what)) {
    return CheckAttempt(machine_id, f->task_id, f->attempt);
  }
  if (const auto* u = std::get_if<UsageReport>(&e.what)) return CheckUsage(machine_id, *u);
  if (const auto* c = std::get_if<CheckpointCreatedEvent>(&e.what)) {
    return CheckCheckpoint(machine_id, *c);
  }
  // Removed checkpoints and a stopping agent speak for the machine's own store and agent.
  return std::nullopt;
}

std::optional<Refusal> SenderRules::CheckAttempt(const std::string& machine_id,
                                                 std::string_view task_id,
                                                 std::optional<uint32_t> attempt) const {
  auto info = d_.tasks->TaskForLease(task_id);
  if (!info) return Refuse("unknown_task", fmt::format("unknown task {}", task_id.substr(0, 128)));
  if (attempt && *attempt != info->attempt) {
    return Refuse("stale_attempt", fmt::format("task {} is on attempt {}, not {}", task_id,
                                               info->attempt, *attempt));
  }
  if (info->machine_id != machine_id) {
    return Refuse("not_your_task", info->machine_id.empty()
                                       ? fmt::format("task {} is placed on no machine", task_id)
                                       : fmt::format("task {} attempt {} is placed on machine {}",
                                                     task_id, info->attempt, info->machine_id));
  }
  return std::nullopt;
}

std::optional<Refusal> SenderRules::CheckUsage(const std::string& machine_id,
                                               const UsageReport& r) const {
  // The lease is the proof: it was granted only while that attempt ran on that machine, and
  // it stays until its records are in, so records that arrive after the attempt ended (or
  // after the task moved on) are still charged to it.
  const Lease* l = d_.leases->FindLease(r.lease_id);
  if (l != nullptr && HeldFor(*l, machine_id, r.task_id, r.attempt)) return std::nullopt;
  // Closed with records still to come (the agent died): its outbox resends them.
  const Lease* closed = l == nullptr ? d_.leases->FindClosedLease(r.lease_id) : nullptr;
  if (closed != nullptr && HeldFor(*closed, machine_id, r.task_id, r.attempt)) return std::nullopt;
  if (closed != nullptr) l = closed;
  if (l != nullptr && l->machine_id != machine_id) {
    return Refuse("not_your_lease",
                  fmt::format("lease {} is held by machine {}", r.lease_id, l->machine_id));
  }
  if (auto placed = CheckAttempt(machine_id, r.task_id, r.attempt)) return placed;
  if (l != nullptr) {
    return Refuse("not_your_lease", fmt::format("lease {} is for task {} attempt {}", r.lease_id,
                                                l->task_id, l->attempt));
  }
  return Refuse("no_lease", fmt::format("no lease {} for task {} attempt {}",
                                        r.lease_id.substr(0, 128), r.task_id, r.attempt));
}

std::optional<Refusal> SenderRules::CheckCheckpoint(const std::string& machine_id,
                                                    const CheckpointCreatedEvent& ev) const {
  const CheckpointReport& c = ev.checkpoint;
  if (!c.machine_id.empty() && c.machine_id != machine_id) {
    return Refuse("subject_mismatch",
                  fmt::format("checkpoint {} names machine {}", c.id, c.machine_id));
  }
  // One taken on command may not know its attempt (0): the machine must still be the task's.
  if (!c.task_id.empty()) {
    auto attempt = ev.attempt == 0 ? std::nullopt : std::optional<uint32_t>(ev.attempt);
    if (auto placed = CheckAttempt(machine_id, c.task_id, attempt)) return placed;
  }
  const int64_t latest = d_.clock->NowMs() + kMaxClockAhead.count();
  if (c.created_at_ms > latest) {
    return Refuse("future_dated",
                  fmt::format("checkpoint {} is dated {}, {} s ahead of the controller's clock; "
                              "check the machine's clock",
                              c.id, FormatRfc3339(c.created_at_ms),
                              (c.created_at_ms - d_.clock->NowMs()) / 1000));
  }
  return std::nullopt;
}

std::optional<Refusal> SenderRules::CheckLease(const std::string& machine_id,
                                               const LeaseRequest& r) const {
  if (const Lease* l = d_.leases->FindLease(r.lease_id)) {
    if (HeldFor(*l, machine_id, r.task_id, r.attempt) && l->project == r.project) {
      return std::nullopt;
    }
    return Refuse("not_your_lease",
                  fmt::format("lease {} belongs to another task attempt or machine", r.lease_id));
  }
  if (auto placed = CheckAttempt(machine_id, r.task_id, r.attempt)) return placed;
  auto info = d_.tasks->TaskForLease(r.task_id);
  if (info->project != r.project) {
    return Refuse("wrong_project", fmt::format("task {} belongs to project {}, not {}", r.task_id,
                                               info->project, r.project.substr(0, 128)));
  }
  return std::nullopt;
}

}  // namespace autovibe
