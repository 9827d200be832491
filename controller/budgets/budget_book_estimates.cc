// Calls whose records never came: a lease that closes without them (its agent restarted or is
// gone, or closed it with calls in flight) charges each in full as an estimated record, under
// the id the call's own record would carry; that record, if it comes after all (from a
// restarted agent's outbox), replaces the estimate. Replace, never add: each call is charged
// once, and the ledger keeps which records were estimated and corrected.
#include <spdlog/spdlog.h>

#include "common/budget/usage.h"
#include "controller/budgets/budget_book.h"

namespace autovibe {
namespace {

Amounts RowAmounts(const UsageRow& r) {
  Amounts a;
  a.usd_micros = r.cost_micros;
  a.tokens = r.input_tokens + r.output_tokens + r.cache_write_tokens + r.cache_read_tokens;
  a.api_calls = r.api_calls;
  a.task_ms = r.task_ms;
  a.machine_ms = r.machine_ms;
  return a;
}

UsageReport EstimateReport(const Lease& l, const Amounts& reserved) {
  const UsageFigures f = EstimateFor(reserved);
  UsageReport r;
  r.task_id = l.task_id;
  r.attempt = l.attempt;
  r.project = l.project;
  r.lease_id = l.id;
  r.kind = std::string(f.kind);
  r.status = std::string(f.status);
  r.input_tokens = f.input_tokens;
  r.cost_micros = f.cost_micros;
  r.estimated = true;
  return r;
}

}  // namespace

Amounts BudgetBook::ChargeUnsettled(Lease& l, const std::vector<Reservation>& held) {
  const int64_t now = clock_.NowMs();
  const Amounts settled_before = l.settled;
  int charged = 0;
  for (const Reservation& r : held) {
    // Never past what the lease was granted: an honest agent's calls in flight always fit.
    const Amounts room = ClampedAtZero(l.granted - l.settled);
    if (!r.amounts.FitsIn(room)) {
      spdlog::warn("lease {}: call {} holds more than the lease has left; not charged", l.id, r.id);
      continue;
    }
    const Amounts before = l.settled;
    if (auto a = ApplyUsage(l.machine_id, now, EstimateReport(l, r.amounts), r.id); !a) {
      spdlog::error("lease {}: estimate of call {} not charged: {}", l.id, r.id, a.error().message);
      continue;
    }
    if (!(l.settled == before)) ++charged;  // not when the call's record was there already
  }
  if (charged > 0) {
    spdlog::info("lease {} of task {} closed with {} calls unsettled: charged in full, estimated",
                 l.id, l.task_id, charged);
    RememberClosed(l);  // their own records replace the estimates when they come
  }
  return l.settled - settled_before;
}

Result<void> BudgetBook::CorrectEstimate(const UsageRow& row) {
  auto old = store_.ReplaceEstimate(row, clock_.NowMs());
  if (!old) return old.error();
  if (!*old) return {};  // a redelivery of a record applied before
  const Amounts delta = RowAmounts(row) - RowAmounts(**old);
  const std::string& project = (*old)->project;
  ProjectState& p = Project(project);
  p.all_time += delta;
  for (BudgetState& b : p.budgets) {
    // The record stays where the estimate was charged, in that estimate's period.
    if ((*old)->at_ms >= b.period_start_ms) b.spent += delta[b.budget.resource];
  }
  if (auto t = task_spend_.find(row.task_id); t != task_spend_.end()) {
    t->second.spent_usd += delta.usd_micros;
  }
  spdlog::info("usage record {} of task {} replaced its estimate: cost {} -> {} micro-dollars",
               row.event_id, row.task_id, (*old)->cost_micros, row.cost_micros);
  CheckThresholds(project, p);
  return {};
}

}  // namespace autovibe
