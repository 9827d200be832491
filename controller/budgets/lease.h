// A budget lease as the controller keeps it, and the arithmetic of what it holds back from
// its project's budgets.
#pragma once

#include <cstdint>
#include <string>

#include "autovibe/v1/budget.pb.h"
#include "common/budget/amounts.h"

namespace autovibe {

// One lease per task attempt, named by the agent. Figures are cumulative.
struct Lease {
  std::string id;
  std::string project;
  std::string task_id;
  uint32_t attempt = 0;
  std::string machine_id;
  Amounts granted;  // what the controller promised so far
  Amounts settled;  // the sum of the usage records that named this lease
  Amounts final;    // once closed: what the agent says it spent in all
  bool closed = false;
  int64_t expires_at_ms = 0;
  int64_t created_at_ms = 0;
};

// What the lease still holds back from its project's budgets, per resource: while open, what
// was granted and not yet settled; once closed, what the agent spent and whose usage records
// have not arrived yet. Never negative: a figure settled past it is already spent.
Amounts Reserved(const Lease& l);

// Closed, and every usage record it announced has arrived: it holds nothing and can go.
bool FullySettled(const Lease& l);

// What a usage record spends of every budget resource: usd = cost, tokens = all four kinds,
// one api call per LLM call that reached the provider, task and machine time. Negative
// figures (a broken agent) count as zero.
Amounts UsageAmounts(const v1::UsageRecord& r);

// Each figure at least zero.
Amounts ClampedAtZero(Amounts a);

}  // namespace autovibe
