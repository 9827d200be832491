// JSON shapes of budgets, usage and alerts in the HTTP API (DESIGN.md, "Controller HTTP
// API"). Dollars are decimal strings ("0.42"), seconds are numbers with millisecond
// precision, tokens and calls are integers.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/result.h"
#include "controller/budgets/budget_book.h"

namespace autovibe {

// A figure of `r` in its API form.
boost::json::value AmountJson(BudgetResource r, int64_t v);

boost::json::object BudgetToJson(const Budget& b);
boost::json::object BudgetsToJson(std::string_view project, const std::vector<Budget>& budgets);
// {"budgets":[{"resource","limit","period","alert_at","on_exhaust"}]}: the usd limit as a
// decimal string or number, the others as whole tokens, calls or seconds. Code "bad_request".
Result<std::vector<Budget>> BudgetsFromJson(const boost::json::object& body);

boost::json::object UsageToJson(const ProjectUsage& u);
boost::json::object UsageRowToJson(const UsageGroupRow& r);
boost::json::object AlertToJson(const BudgetAlert& a);

// "model", "machine", "task", "day", "none".
std::optional<UsageGroupBy> ParseUsageGroupBy(std::string_view text);
std::string_view ToString(UsageGroupBy g);

}  // namespace autovibe
