// The arithmetic of what a lease holds back from its project's budgets.
#pragma once

#include <cstdint>
#include <string>

#include "common/budget/amounts.h"
#include "controller/model/lease.h"
#include "controller/model/usage.h"

namespace autovibe {

// What the lease still holds back from its project's budgets, per resource: while open, what
// was granted and not yet settled; once closed, what the agent spent and whose usage records
// have not arrived yet. Never negative: a figure settled past it is already spent.
Amounts Reserved(const Lease& l);

// Closed, and every usage record it announced has arrived: it holds nothing and can go.
bool FullySettled(const Lease& l);

// What a usage record spends of every budget resource: the rule the agent counts its leases
// with too (SpentBy in common/budget/usage.h).
Amounts UsageAmounts(const UsageReport& r);

// Each figure at least zero.
Amounts ClampedAtZero(Amounts a);

}  // namespace autovibe
