// Budgets, leases and spend (DESIGN.md, "Budgets: leases, not after-the-fact counting").
//
// The invariant: for every budget, spent_in_period + outstanding <= limit at every moment,
// where outstanding sums, per resource, what the project's leases still hold back (see
// Reserved() in lease.h). A lease is granted only what fits; spend arrives as usage records
// and moves from a lease's reservation into the period's spend.
//
// Leases expire (LeaseReply::ttl_ms): an agent cut off from the controller stops spending when
// its lease runs out. The controller does not release an expired lease, though: until its
// records arrive the agent may well have spent all of it before it expired, and releasing it
// would let the same money be granted twice. An open lease therefore holds its reservation
// until the agent closes it, or its machine restarts or is forgotten (its tools are dead, so
// nothing more is spent on it).
//
// Not thread-safe: the owner thread calls every method. Every change is written to the
// BudgetStore inside the caller's open transaction (WriteBatch); what must happen outside
// (pausing tasks, alerts) goes to BudgetEffects and the AlertSink, which must not call back
// into the book.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/duration.h"
#include "common/core/result.h"
#include "common/core/time.h"
#include "controller/budgets/alerts.h"
#include "controller/budgets/lease.h"
#include "controller/model/budget.h"
#include "controller/store/budget_store.h"

namespace autovibe {

// What the book needs to know about a task that asks for a lease.
struct LeaseTaskInfo {
  std::string project;
  std::string machine_id;      // where its current attempt runs (or ran)
  uint32_t attempt = 0;        // its current attempt
  bool placed = false;         // assigned or running
  int64_t max_usd_micros = 0;  // the task's own spending cap; 0: none
  bool project_stopped = false;
};

class TaskLookup {
 public:
  virtual ~TaskLookup() = default;
  virtual std::optional<LeaseTaskInfo> TaskForLease(std::string_view task_id) const = 0;
};

// What the book needs done outside itself. Called on the owner thread, during the book call
// that caused it; must not call back into the book.
class BudgetEffects {
 public:
  virtual ~BudgetEffects() = default;
  // A budget of the project ran out (once per budget until it is replenished): hold its new
  // tasks and pause (`pause`) or stop its running ones. `message` says which budget and how
  // to raise it.
  virtual void BudgetExhausted(const std::string& project, const std::string& resource,
                               const std::string& message, bool pause) = 0;
  // No budget of the project is exhausted any more (a limit was raised, a period began):
  // resume what was paused.
  virtual void BudgetReplenished(const std::string& project) = 0;
  // The task's own max_usd cannot cover what it needs: stop it.
  virtual void TaskCapReached(const std::string& task_id, const std::string& message) = 0;
};

struct BudgetBookOptions {
  // How long a lease reply lets the agent spend before it must renew (LeaseReply::ttl_ms).
  Duration lease_ttl = std::chrono::seconds(30);
  // Open leases one task may hold at once (one per attempt is the protocol; a few spare).
  int max_open_leases_per_task = 8;
};

// One budget as the usage query shows it. Figures in the resource's unit (Amounts).
struct BudgetUsage {
  Budget budget;
  int64_t period_start_ms = 0;  // 0 for total
  int64_t spent = 0;            // settled spend in the period
  int64_t reserved = 0;         // outstanding on leases
  int64_t remaining = 0;        // limit - spent - reserved, at least 0
  double percent_used = 0;      // spent / limit
  double burn_per_hour = 0;     // over the last hour (or since the period start, if later)
  std::optional<int64_t> forecast_exhausted_at_ms;  // none when nothing burns
  bool exhausted = false;
};

struct ProjectUsage {
  std::string project;
  std::vector<BudgetUsage> budgets;
  Amounts totals;  // all time
};

// A project's budgets and spend as they stand, from memory (for /metrics).
struct BudgetGauge {
  Budget budget;
  int64_t spent = 0;  // settled spend in the period
  bool exhausted = false;
};
struct ProjectGauges {
  std::string project;
  std::vector<BudgetGauge> budgets;
  Amounts all_time;     // every record ever charged to the project
  Amounts outstanding;  // what its leases hold back now
};

// A budget of a project that ran out, and what becomes of the project's tasks.
struct ExhaustedBudget {
  BudgetResource resource = BudgetResource::kUsd;
  BudgetPeriod period = BudgetPeriod::kTotal;
  bool pause = true;
  std::string reason;  // "budget usd (total) of project demo is exhausted: ..."
};

class BudgetBook {
 public:
  BudgetBook(BudgetStore& store, const Clock& clock, const TaskLookup& tasks,
             BudgetEffects& effects, AlertSink& alerts, BudgetBookOptions options = {});
  ~BudgetBook();

  // Budgets, their period spend, open leases and alert history, from the store. Fires no
  // effect: what was exhausted before the restart still is (ask Exhausted()); a budget whose
  // period ended meanwhile is replenished by the first Tick().
  Result<void> Load();

  // --- budgets
  // Replaces the project's whole set. Validates everything first (code "bad_request", nothing
  // changed). May fire BudgetExhausted (a limit now below the spend) or BudgetReplenished.
  Result<void> SetBudgets(const std::string& project, std::vector<Budget> budgets);
  std::vector<Budget> Budgets(std::string_view project) const;
  bool Exhausted(std::string_view project) const;
  // Whether every budget the project has on `resource` still has room (spend and what leases
  // hold back below the limit). True when it has none on that resource.
  bool HasRoom(std::string_view project, BudgetResource resource) const;
  // The first exhausted budget of the project, with a one-line reason.
  std::optional<ExhaustedBudget> ExhaustedBy(std::string_view project) const;

  // --- leases (av.lease.<m>); `machine_id` is the one the subject names
  LeaseReply Grant(const std::string& machine_id, const LeaseRequest& req);
  // The machine's agent restarted: its tools are dead, so its open leases close with what
  // was settled so far (records still in its outbox count as spend when they come).
  void MachineRestarted(const std::string& machine_id);
  // The machine is gone for good: every lease it held is settled as it stands.
  void MachineForgotten(const std::string& machine_id);

  // --- spend (a UsageRecord agent event, already deduplicated by event id). `at_ms` places
  // it in a period: pass the controller's clock, so a late record is never charged to a
  // period that has closed. The insert is idempotent too. A record is charged only under a
  // lease `machine_id` holds for its task attempt, to that lease's project; any other is
  // dropped (and logged), charged to nobody.
  Result<void> ApplyUsage(const std::string& machine_id, int64_t at_ms, const UsageReport& r,
                          const std::string& event_id);

  // Once a second: periods that ended start afresh (spend recomputed, alerts re-armed).
  void Tick();

  // --- queries
  Result<ProjectUsage> Usage(const std::string& project);
  Result<std::vector<UsageGroupRow>> UsageBy(const UsageQuery& q);
  // Newest first; `project` empty: every project.
  Result<std::vector<BudgetAlert>> Alerts(std::string_view project, size_t limit = 1000);

  Amounts Outstanding(std::string_view project) const;
  // Every project the book knows (one with spend or budgets), by name. No store read.
  std::vector<ProjectGauges> Gauges() const;
  const Lease* FindLease(std::string_view id) const;
  // A lease closed lately with records still to come (the newest kClosedLeasesKept, in
  // memory): its agent restarted or its machine went, or it was closed with calls in flight
  // (charged as estimates). Their records still count under it. A lease closed with all its
  // records in is not kept: nothing more may be charged under it.
  const Lease* FindClosedLease(std::string_view id) const;
  size_t lease_count() const { return leases_.size(); }
  static constexpr size_t kClosedLeasesKept = 20'000;

 private:
  struct BudgetState {
    Budget budget;
    int64_t period_start_ms = 0;
    int64_t period_end_ms = 0;
    int64_t spent = 0;  // settled spend in the period
    bool exhausted = false;
    std::vector<int> alerted;  // thresholds alerted in this period
  };
  struct ProjectState {
    std::vector<BudgetState> budgets;
    Amounts outstanding;  // sum of Reserved() over the project's leases
    Amounts all_time;     // every record ever charged to the project
  };
  // Kept while the task has a lease, for its max_usd cap.
  struct TaskSpend {
    int64_t spent_usd = 0;     // its records so far
    int64_t reserved_usd = 0;  // held by its leases
    int leases = 0;            // open or unsettled
    int open_leases = 0;
    bool cap_reported = false;
  };

  static bool AnyExhausted(const ProjectState& p);
  ProjectState& Project(const std::string& name);
  const ProjectState* FindProject(std::string_view name) const;
  // Loads the task's spend so far when the book first sees it.
  Result<TaskSpend*> Task(const std::string& task_id);
  Result<BudgetState> StartPeriod(const std::string& project, const Budget& b, int64_t start_ms);
  Result<void> SaveBudgets(const std::string& project, const ProjectState& p);
  // An open lease with nothing granted yet, counted for its task.
  Lease& NewLease(const std::string& machine_id, const LeaseRequest& req, TaskSpend& task);
  // After a lease changed from reserving `before`: moves the difference into the project's
  // outstanding and the task's reservation, then saves the lease or drops it when settled.
  Result<void> Account(Lease& l, const Amounts& before);
  void RememberClosed(Lease l);
  // Whether the lease can grow by `need` within the task's cap and the project's budgets;
  // sets `add` (between need and want) or fills in the denial.
  bool Fit(const Lease& l, const LeaseTaskInfo& info, const Amounts& need, Amounts want,
           Amounts& add, LeaseReply& reply);
  LeaseReply Close(const std::string& machine_id, const LeaseRequest& req, Lease* l);
  // `exhausted`: the budget really is used up (the task pauses or stops); else it is only held
  // by other running calls for now.
  void Deny(LeaseReply& reply, const std::string& resource, const std::string& message, bool pause,
            bool exhausted);
  // Alerts for thresholds the period's spend crossed; marks budgets spent to their limit.
  void CheckThresholds(const std::string& project, ProjectState& p);
  void MarkExhausted(const std::string& project, ProjectState& p, BudgetState& b,
                     const std::string& message);
  void RecordAlert(const std::string& project, BudgetState& b, int threshold);
  // `need`: what the refused request asked for beyond its lease (0: not a request).
  std::string NoRoomMessage(const std::string& project, const BudgetState& b, int64_t reserved,
                            bool exhausted, int64_t need = 0) const;
  void CloseLeasesOf(const std::string& machine_id, bool forget);
  // Charges each reservation in `held` whose call has no record yet in full, as an estimated
  // record under its id, while the open lease `l` still has it granted
  // (budget_book_estimates.cc). Returns what it charged.
  Amounts ChargeUnsettled(Lease& l, const std::vector<Reservation>& held);
  // `row` (a call's own record) replaces the estimate charged under its id, if there is one:
  // the difference is charged, so the call counts once, at its real figures.
  Result<void> CorrectEstimate(const UsageRow& row);

  BudgetStore& store_;
  const Clock& clock_;
  const TaskLookup& tasks_;
  BudgetEffects& effects_;
  AlertSink& alerts_;
  BudgetBookOptions options_;
  std::map<std::string, ProjectState, std::less<>> projects_;
  std::map<std::string, Lease, std::less<>> leases_;
  std::map<std::string, Lease, std::less<>> closed_leases_;
  std::deque<std::string> closed_order_;  // oldest first
  std::map<std::string, TaskSpend, std::less<>> task_spend_;
};

}  // namespace autovibe
