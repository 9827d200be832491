// A project's budget (DESIGN.md, "Budgets"): a limit on one resource over a period, with
// alert thresholds and what happens to the project's tasks when it is used up.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/budget/amounts.h"
#include "common/core/result.h"

namespace autovibe {

// UTC calendar periods; a week starts on Monday 00:00 UTC.
enum class BudgetPeriod { kTotal, kDay, kWeek, kMonth };

std::string_view ToString(BudgetPeriod p);
std::optional<BudgetPeriod> ParseBudgetPeriod(std::string_view text);

inline constexpr int kExhaustedThreshold = 100;

struct Budget {
  BudgetResource resource = BudgetResource::kUsd;
  BudgetPeriod period = BudgetPeriod::kTotal;
  // In the resource's integer unit (Amounts): micro-dollars, tokens, calls, milliseconds.
  int64_t limit = 0;
  // Percentages (1..100) that raise an alert; 100 (exhausted) is always added.
  std::vector<int> alert_at = {75, 90};
  bool pause = true;  // on exhaustion: pause the project's tasks (false: stop them)

  friend bool operator==(const Budget&, const Budget&) = default;
};

// "pause" or "stop".
std::string_view OnExhaust(const Budget& b);

// The largest limit accepted, in any unit: 9 billion dollars in micro-dollars.
inline constexpr int64_t kMaxBudgetLimit = 9'000'000'000'000'000;

// Checks a project's whole set: limits in 0..kMaxBudgetLimit, thresholds in 1..100, at most
// one budget per (resource, period). Code "bad_request".
Result<void> ValidateBudgets(const std::vector<Budget>& budgets);

// A figure of `r` for people: "$0.75", "1200 tokens", "3 api calls", "12.5 task seconds".
std::string HumanAmount(BudgetResource r, int64_t v);
// A figure of `r` as plain text: "0.75", "1200", "3", "12.5" (seconds, ms precision).
std::string PlainAmount(BudgetResource r, int64_t v);
// "budget usd (day)".
std::string BudgetName(const Budget& b);

}  // namespace autovibe
