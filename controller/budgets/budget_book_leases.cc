// Leases and spend: what a lease may hold, what a usage record settles.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>

#include "controller/budgets/budget_book.h"

namespace autovibe {
namespace {

constexpr size_t kMaxLeaseId = 128;
// No lease figure goes past this (a billion dollars in micro-dollars), so that sums over
// thousands of leases cannot overflow whatever an agent asks for.
constexpr int64_t kMaxLeaseFigure = 1'000'000'000'000'000;

Amounts Capped(Amounts a) {
  for (BudgetResource r : kAllBudgetResources) a[r] = std::clamp<int64_t>(a[r], 0, kMaxLeaseFigure);
  return a;
}

std::vector<Reservation> Held(std::vector<Reservation> held) {
  for (Reservation& r : held) r.amounts = Capped(r.amounts);
  return held;
}

UsageRow RowOf(const std::string& event_id, int64_t at_ms, const std::string& machine_id,
               const std::string& project, const UsageReport& r, const Amounts& a) {
  UsageRow u;
  u.event_id = event_id;
  u.at_ms = at_ms;
  u.project = project;
  u.task_id = r.task_id;
  u.attempt = r.attempt;
  u.machine_id = machine_id;
  u.lease_id = r.lease_id;
  u.kind = r.kind;
  u.provider = r.provider;
  u.model = r.model;
  u.route = r.route;
  u.input_tokens = std::max<int64_t>(0, r.input_tokens);
  u.output_tokens = std::max<int64_t>(0, r.output_tokens);
  u.cache_write_tokens = std::max<int64_t>(0, r.cache_write_tokens);
  u.cache_read_tokens = std::max<int64_t>(0, r.cache_read_tokens);
  u.cost_micros = a.usd_micros;
  u.task_ms = a.task_ms;
  u.machine_ms = a.machine_ms;
  u.latency_us = r.latency_us;
  u.http_status = r.http_status;
  u.status = r.status;
  u.estimated = r.estimated;
  u.api_calls = a.api_calls;
  return u;
}

}  // namespace

Result<BudgetBook::TaskSpend*> BudgetBook::Task(const std::string& task_id) {
  auto it = task_spend_.find(task_id);
  if (it != task_spend_.end()) return &it->second;
  auto cost = store_.TaskCostMicros(task_id);
  if (!cost) return cost.error();
  TaskSpend t;
  t.spent_usd = *cost;
  return &task_spend_.emplace(task_id, t).first->second;
}

Lease& BudgetBook::NewLease(const std::string& machine_id, const LeaseRequest& req,
                            TaskSpend& task) {
  Lease fresh;
  fresh.id = req.lease_id;
  fresh.project = req.project;
  fresh.task_id = req.task_id;
  fresh.attempt = req.attempt;
  fresh.machine_id = machine_id;
  fresh.created_at_ms = clock_.NowMs();
  ++task.leases;
  ++task.open_leases;
  return leases_.emplace(fresh.id, std::move(fresh)).first->second;
}

Result<void> BudgetBook::Account(Lease& l, const Amounts& before) {
  const Amounts delta = Reserved(l) - before;
  Project(l.project).outstanding += delta;
  auto t = task_spend_.find(l.task_id);
  if (t != task_spend_.end()) t->second.reserved_usd += delta.usd_micros;
  if (!FullySettled(l)) return store_.SaveLease(l);
  if (t != task_spend_.end() && --t->second.leases <= 0) task_spend_.erase(t);
  const std::string id = l.id;  // `l` goes with the erase
  leases_.erase(id);
  return store_.DeleteLease(id);
}

void BudgetBook::Deny(LeaseReply& reply, const std::string& resource, const std::string& message,
                      bool pause, bool exhausted) {
  reply.ok = false;
  reply.exhausted = exhausted;
  reply.denied_resource = resource;
  reply.message = message;
  reply.on_exhaust = pause ? "pause" : "stop";
}

LeaseReply BudgetBook::Grant(const std::string& machine_id, const LeaseRequest& req) {
  LeaseReply reply;
  reply.lease_id = req.lease_id;
  auto refuse = [&reply](std::string error) {
    reply.error = std::move(error);
    return reply;
  };
  if (req.lease_id.empty() || req.lease_id.size() > kMaxLeaseId) {
    return refuse("lease_id must be 1 to 128 characters");
  }
  if (req.task_id.empty()) return refuse("task_id is required");
  auto found = leases_.find(req.lease_id);
  Lease* l = found == leases_.end() ? nullptr : &found->second;
  if (l != nullptr && (l->machine_id != machine_id || l->task_id != req.task_id ||
                       l->attempt != req.attempt || l->project != req.project)) {
    return refuse("lease " + req.lease_id + " belongs to another task attempt");
  }
  if (req.close) return Close(machine_id, req, l);
  auto info = tasks_.TaskForLease(req.task_id);
  if (!info) return refuse("unknown task " + req.task_id);
  if (info->project != req.project) {
    return refuse(fmt::format("task {} belongs to project {}, not {}", req.task_id, info->project,
                              req.project));
  }
  const bool this_attempt = info->machine_id == machine_id && info->attempt == req.attempt;
  if (!info->placed && this_attempt) {
    // Held because a budget ran out (the pause is on its way): say so, so the call that asked
    // gets the budget's 429 and the tool can show it.
    if (auto e = ExhaustedBy(info->project)) {
      Deny(reply, std::string(ToString(e->resource)), e->reason, e->pause, true);
      return reply;
    }
  }
  if (!info->placed || !this_attempt) {
    return refuse(fmt::format("task {} attempt {} is not running on machine {}", req.task_id,
                              req.attempt, machine_id));
  }
  if (l != nullptr && l->closed) return refuse("lease " + req.lease_id + " is closed");
  auto task = Task(req.task_id);
  if (!task) return refuse("the controller cannot read its ledger: " + task.error().message);
  const int64_t now = clock_.NowMs();
  if (l == nullptr) {
    if ((*task)->open_leases >= options_.max_open_leases_per_task) {
      return refuse("task " + req.task_id + " holds too many open leases");
    }
    l = &NewLease(machine_id, req, **task);
  }
  l->held = Held(req.held);
  // Past expiry the agent stops spending, but what it spent before may still be on its way:
  // an expired lease keeps its reservation until it is closed (or its machine restarts).
  l->expires_at_ms = now + options_.lease_ttl.count();
  reply.ttl_ms = static_cast<uint32_t>(options_.lease_ttl.count());
  const Amounts before = Reserved(*l);
  const Amounts need_total = Capped(req.need_total), want_total = Capped(req.want_total);
  Amounts need, want;
  for (BudgetResource r : kAllBudgetResources) {
    need[r] = std::max<int64_t>(0, need_total[r] - l->granted[r]);
    want[r] = std::max(need[r], want_total[r] - l->granted[r]);
  }
  if (info->project_stopped) {
    Deny(reply, "project stopped",
         fmt::format("project {} is stopped; resume it with: autovibe project resume {}",
                     l->project, l->project),
         true, false);
  } else if (Amounts add; Fit(*l, *info, need, want, add, reply)) {
    l->granted += add;
    reply.ok = true;
  }
  reply.granted_total = l->granted;
  if (auto r = Account(*l, before); !r) {
    spdlog::error("lease {} not saved: {}", req.lease_id, r.error().message);
  }
  return reply;
}

bool BudgetBook::Fit(const Lease& l, const LeaseTaskInfo& info, const Amounts& need, Amounts want,
                     Amounts& add, LeaseReply& reply) {
  TaskSpend& task = task_spend_.at(l.task_id);
  if (info.max_usd_micros > 0 && want.usd_micros > 0) {
    const int64_t room = info.max_usd_micros - task.spent_usd - task.reserved_usd;
    if (need.usd_micros > room) {
      const std::string message =
          fmt::format("task {} reached its own cap (max_usd {}): spent {} + reserved {}", l.task_id,
                      HumanAmount(BudgetResource::kUsd, info.max_usd_micros),
                      HumanAmount(BudgetResource::kUsd, task.spent_usd),
                      HumanAmount(BudgetResource::kUsd, task.reserved_usd));
      Deny(reply, "task max_usd", message, false, true);
      if (!task.cap_reported) {
        task.cap_reported = true;
        spdlog::warn("{}", message);
        effects_.TaskCapReached(l.task_id, message);
      }
      return false;
    }
    want.usd_micros = std::max(need.usd_micros, std::min(want.usd_micros, room));
  }
  ProjectState& p = Project(l.project);
  const Amounts own = Reserved(l);
  std::vector<BudgetState*> short_of;  // budgets the need does not fit in
  for (BudgetResource r : kAllBudgetResources) {
    if (want[r] == 0) continue;
    int64_t room = std::numeric_limits<int64_t>::max();
    for (BudgetState& b : p.budgets) {
      if (b.budget.resource != r) continue;
      const int64_t free = b.budget.limit - b.spent - p.outstanding[r];
      room = std::min(room, free);
      if (need[r] > free) short_of.push_back(&b);
    }
    add[r] = std::max<int64_t>(0, std::min(want[r], room));
  }
  if (short_of.empty()) return true;
  for (BudgetState* b : short_of) {
    const BudgetResource r = b->budget.resource;
    // Denied; exhausted only if the need could not fit even if every other lease gave back
    // all it holds. Otherwise other running tasks hold the room for now: this task waits, the
    // project goes on. (Counting the others' reservations as spent instead would call a
    // budget with money left exhausted, and would miss the common case of one task whose
    // own reservation is spent but not yet settled.)
    if (!b->exhausted && b->budget.limit - b->spent - own[r] < need[r]) {
      MarkExhausted(l.project, p, *b,
                    NoRoomMessage(l.project, *b, p.outstanding[r], true, need[r]));
    }
  }
  const BudgetState& first = *short_of.front();
  const BudgetResource r = first.budget.resource;
  Deny(reply, std::string(ToString(r)),
       NoRoomMessage(l.project, first, p.outstanding[r], first.exhausted, need[r]),
       first.budget.pause, first.exhausted);
  return false;
}

LeaseReply BudgetBook::Close(const std::string& machine_id, const LeaseRequest& req, Lease* l) {
  LeaseReply reply;
  reply.lease_id = req.lease_id;
  if (l == nullptr) {
    // A close for a lease never granted: records may still be on their way, so it is kept
    // (holding what it says it spent) until they arrive.
    auto info = tasks_.TaskForLease(req.task_id);
    if (!info || info->project != req.project || info->machine_id != machine_id ||
        info->attempt != req.attempt) {
      reply.error = "unknown task " + req.task_id + " on machine " + machine_id;
      return reply;
    }
    auto task = Task(req.task_id);
    if (!task) {
      reply.error = "the controller cannot read its ledger: " + task.error().message;
      return reply;
    }
    l = &NewLease(machine_id, req, **task);
  }
  // Calls the agent closes the lease with still in flight are charged in full (estimates).
  const Amounts estimated = l->closed ? Amounts{} : ChargeUnsettled(*l, Held(req.held));
  const Amounts before = Reserved(*l);
  const Amounts consumed = Capped(req.consumed) + estimated;
  if (!l->closed) {
    l->closed = true;
    l->final = consumed;
    if (auto t = task_spend_.find(l->task_id); t != task_spend_.end()) --t->second.open_leases;
  } else {
    l->final = Amounts::Max(l->final, consumed);  // cumulative: a retry changes nothing
  }
  reply.ok = true;
  reply.granted_total = l->granted;
  if (auto r = Account(*l, before); !r) {
    spdlog::error("lease {} not saved: {}", req.lease_id, r.error().message);
  }
  return reply;
}

Result<void> BudgetBook::ApplyUsage(const std::string& machine_id, int64_t at_ms,
                                    const UsageReport& r, const std::string& event_id) {
  if (event_id.empty())
    return MakeError(ErrorCode::kBadRequest, "a usage record needs an event id");
  // Only under a lease the sending machine holds for the record's task attempt, and charged
  // to the lease's project: never to a task or project the record merely names (the events
  // intake refuses, and counts, a record with no such lease before it gets here).
  auto found = leases_.find(r.lease_id);
  Lease* l = found != leases_.end() && HeldFor(found->second, machine_id, r.task_id, r.attempt)
                 ? &found->second
                 : nullptr;
  // A lease closed before all its records came (its agent died, its calls were charged as
  // estimates): the records its outbox resends still count, replacing those estimates.
  const Lease* closed = l == nullptr ? FindClosedLease(r.lease_id) : nullptr;
  if (closed != nullptr && !HeldFor(*closed, machine_id, r.task_id, r.attempt)) closed = nullptr;
  if (l == nullptr && closed == nullptr) {
    spdlog::warn("usage record {} from machine {} names no lease of its own; not charged", event_id,
                 machine_id);
    return {};
  }
  const std::string project = l != nullptr ? l->project : closed->project;
  const Amounts a = UsageAmounts(r);
  const UsageRow row = RowOf(event_id, at_ms, machine_id, project, r, a);
  auto fresh = store_.InsertUsage(row);
  if (!fresh) return fresh.error();
  // A record whose id is taken: a redelivery, or the call's own record replacing the estimate
  // its lease's close charged (budget_book_estimates.cc).
  if (!*fresh) return r.estimated ? Result<void>{} : CorrectEstimate(row);
  ProjectState& p = Project(project);
  p.all_time += a;
  for (BudgetState& b : p.budgets) {
    if (at_ms >= b.period_start_ms) b.spent += a[b.budget.resource];
  }
  if (auto t = task_spend_.find(r.task_id); t != task_spend_.end()) {
    t->second.spent_usd += a.usd_micros;
  }
  if (l != nullptr) {
    const Amounts before = Reserved(*l);
    l->settled += a;
    if (auto s = Account(*l, before); !s) return s;
  }
  CheckThresholds(project, p);
  return {};
}

void BudgetBook::MachineRestarted(const std::string& machine_id) {
  CloseLeasesOf(machine_id, false);
}

void BudgetBook::MachineForgotten(const std::string& machine_id) {
  CloseLeasesOf(machine_id, true);
}

void BudgetBook::CloseLeasesOf(const std::string& machine_id, bool forget) {
  std::vector<std::string> ids;
  for (const auto& [id, l] : leases_) {
    if (l.machine_id == machine_id && (forget || !l.closed)) ids.push_back(id);
  }
  for (const std::string& id : ids) {
    Lease& l = leases_.at(id);
    // Its calls in flight at the agent's last word are charged in full (estimates), their own
    // records replacing them if they come (a restarted agent sends what its outbox holds).
    if (!l.closed) ChargeUnsettled(l, l.held);
    const Amounts before = Reserved(l);
    if (!l.closed) {
      l.closed = true;
      if (auto t = task_spend_.find(l.task_id); t != task_spend_.end()) --t->second.open_leases;
    }
    // A restarted agent still sends what its outbox holds; those records count as spend.
    l.final = l.settled;
    RememberClosed(l);
    if (auto r = Account(l, before); !r) {
      spdlog::error("lease {} not saved: {}", id, r.error().message);
    }
  }
  if (!ids.empty()) {
    spdlog::info("closed {} leases of machine {} ({})", ids.size(), machine_id,
                 forget ? "forgotten" : "agent restarted");
  }
}

void BudgetBook::RememberClosed(Lease l) {
  const std::string id = l.id;
  if (!closed_leases_.emplace(id, std::move(l)).second) return;
  closed_order_.push_back(id);
  while (closed_order_.size() > kClosedLeasesKept) {
    closed_leases_.erase(closed_order_.front());
    closed_order_.pop_front();
  }
}

const Lease* BudgetBook::FindClosedLease(std::string_view id) const {
  auto it = closed_leases_.find(id);
  return it == closed_leases_.end() ? nullptr : &it->second;
}

}  // namespace autovibe
