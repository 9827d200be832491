// Durable budget state: budgets, usage records (the ledger), leases and alerts. Not
// thread-safe: the owner thread calls it. Writes join the caller's open transaction
// (Store::Begin / WriteBatch), so a lease and the event that caused it commit together.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/budget/amounts.h"
#include "common/core/result.h"
#include "controller/budgets/budget.h"
#include "controller/budgets/lease.h"

namespace autovibe {

struct StoredBudget {
  std::string project;
  Budget budget;
  // Set while the budget is exhausted: the start of the period it ran out in.
  std::optional<int64_t> exhausted_period_start_ms;
};

// One row of the ledger: a usage record as applied, with the project it was charged to.
struct UsageRow {
  std::string event_id;
  int64_t at_ms = 0;
  std::string project;
  std::string task_id;
  uint32_t attempt = 0;
  std::string machine_id;
  std::string lease_id;
  std::string kind;
  std::string provider;
  std::string model;
  std::string route;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t cache_write_tokens = 0;
  int64_t cache_read_tokens = 0;
  int64_t cost_micros = 0;
  int64_t task_ms = 0;
  int64_t machine_ms = 0;
  int64_t latency_us = 0;
  int32_t http_status = 0;
  std::string status;
  bool estimated = false;
  int64_t api_calls = 0;  // 1 for an LLM call that reached the provider (see UsageAmounts)
};

// An alert as recorded: one per (project, resource, period, period start, threshold).
struct BudgetAlert {
  std::string project;
  BudgetResource resource = BudgetResource::kUsd;
  BudgetPeriod period = BudgetPeriod::kTotal;
  int64_t period_start_ms = 0;
  int threshold = 0;  // percent; 100: exhausted
  int64_t spent = 0;
  int64_t limit = 0;
  int64_t at_ms = 0;
};

enum class UsageGroupBy { kNone, kModel, kMachine, kTask, kDay };

struct UsageQuery {
  UsageGroupBy group_by = UsageGroupBy::kNone;
  std::string project;  // empty: every project
  int64_t since_ms = 0;
  size_t limit = 10'000;  // rows
};

struct UsageGroupRow {
  std::string key;  // model, machine id, task id, "YYYY-MM-DD"; "" for kNone
  int64_t calls = 0;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t cache_write_tokens = 0;
  int64_t cache_read_tokens = 0;
  int64_t tokens = 0;
  int64_t cost_micros = 0;
  int64_t task_ms = 0;
  int64_t machine_ms = 0;
};

class BudgetStore {
 public:
  virtual ~BudgetStore() = default;

  virtual Result<std::vector<StoredBudget>> LoadBudgets() = 0;
  // Replaces every budget of `project` with `budgets` (all of that project).
  virtual Result<void> SaveBudgets(std::string_view project,
                                   const std::vector<StoredBudget>& budgets) = 0;

  // Inserts the record unless one with its event id exists; true when inserted.
  virtual Result<bool> InsertUsage(const UsageRow& row) = 0;
  // What the project's records at or after `since_ms` spent of every resource.
  virtual Result<Amounts> SumUsage(std::string_view project, int64_t since_ms) = 0;
  // Every project's spend of all time.
  virtual Result<std::vector<std::pair<std::string, Amounts>>> SumUsageByProject() = 0;
  // What the task's records cost, in micro-dollars.
  virtual Result<int64_t> TaskCostMicros(std::string_view task_id) = 0;
  virtual Result<std::vector<UsageGroupRow>> GroupUsage(const UsageQuery& q) = 0;

  virtual Result<std::vector<Lease>> LoadLeases() = 0;
  // Inserts or replaces the lease with this id.
  virtual Result<void> SaveLease(const Lease& l) = 0;
  virtual Result<void> DeleteLease(std::string_view id) = 0;

  // Inserts the alert unless one with its key exists; true when inserted.
  virtual Result<bool> InsertAlert(const BudgetAlert& a) = 0;
  // The thresholds already alerted for this budget and period.
  virtual Result<std::vector<int>> AlertedThresholds(std::string_view project,
                                                     BudgetResource resource, BudgetPeriod period,
                                                     int64_t period_start_ms) = 0;
  // Newest first; `project` empty: every project.
  virtual Result<std::vector<BudgetAlert>> LoadAlerts(std::string_view project, size_t limit) = 0;
};

}  // namespace autovibe
