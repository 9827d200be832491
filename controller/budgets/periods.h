// Budget periods on the UTC calendar: where the period holding a moment starts and ends.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "controller/model/budget.h"

namespace autovibe {

inline constexpr int64_t kForever = std::numeric_limits<int64_t>::max();

// The start (Unix ms) of the period holding `at_ms`: 0 for total, 00:00 UTC of the day, Monday
// 00:00 UTC of the week, the 1st 00:00 UTC of the month.
int64_t PeriodStartMs(BudgetPeriod p, int64_t at_ms);
// The start of the next period after the one starting at `start_ms`; kForever for total.
int64_t PeriodEndMs(BudgetPeriod p, int64_t start_ms);

// "2026-11-30" (UTC).
std::string UtcDate(int64_t unix_ms);

}  // namespace autovibe
