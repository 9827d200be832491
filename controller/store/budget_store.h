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
#include "controller/model/budget.h"
#include "controller/model/lease.h"
#include "controller/model/usage.h"

namespace autovibe {

class BudgetStore {
 public:
  virtual ~BudgetStore() = default;

  virtual Result<std::vector<StoredBudget>> LoadBudgets() = 0;
  // Replaces every budget of `project` with `budgets` (all of that project).
  virtual Result<void> SaveBudgets(std::string_view project,
                                   const std::vector<StoredBudget>& budgets) = 0;

  // Inserts the record unless one with its event id exists; true when inserted.
  virtual Result<bool> InsertUsage(const UsageRow& row) = 0;
  // Replaces the estimated record with `row`'s event id by `row` (keeping the estimate's time
  // and project, marking it corrected at `now_ms`); returns the estimate as it was, nullopt
  // when no estimated record has that id.
  virtual Result<std::optional<UsageRow>> ReplaceEstimate(const UsageRow& row, int64_t now_ms) = 0;
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
