// The ledger's usage groups and alerts as a project-scoped caller may see them: those of its
// projects only, summed over them as the ledger sums over every project.
#pragma once

#include <string>
#include <vector>

#include "controller/api/project_scope.h"
#include "controller/budgets/budget_book.h"

namespace autovibe {

// BudgetBook::UsageBy, over the caller's projects when it is limited and `q` names none.
Result<std::vector<UsageGroupRow>> ScopedUsage(BudgetBook& book, const UsageQuery& q,
                                               const ProjectScope& scope);

// BudgetBook::Alerts, newest first, over the caller's projects when it is limited and
// `project` is empty.
Result<std::vector<BudgetAlert>> ScopedAlerts(BudgetBook& book, const std::string& project,
                                              size_t limit, const ProjectScope& scope);

}  // namespace autovibe
