#include "controller/model/budget.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <set>
#include <utility>

namespace autovibe {
namespace {

constexpr std::array<std::pair<BudgetPeriod, std::string_view>, 4> kPeriods = {{
    {BudgetPeriod::kTotal, "total"},
    {BudgetPeriod::kDay, "day"},
    {BudgetPeriod::kWeek, "week"},
    {BudgetPeriod::kMonth, "month"},
}};

bool IsSeconds(BudgetResource r) {
  return r == BudgetResource::kTaskSeconds || r == BudgetResource::kMachineSeconds;
}

std::string Seconds(int64_t ms) {
  std::string s = fmt::format("{}.{:03}", ms / 1000, std::abs(ms % 1000));
  if (ms < 0 && ms > -1000) s.insert(0, "-");
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

}  // namespace

std::string_view ToString(BudgetPeriod p) {
  for (const auto& [period, name] : kPeriods) {
    if (period == p) return name;
  }
  return "?";
}

std::optional<BudgetPeriod> ParseBudgetPeriod(std::string_view text) {
  for (const auto& [period, name] : kPeriods) {
    if (name == text) return period;
  }
  return std::nullopt;
}

std::string_view OnExhaust(const Budget& b) { return b.pause ? "pause" : "stop"; }

Result<void> ValidateBudgets(const std::vector<Budget>& budgets) {
  std::set<std::pair<BudgetResource, BudgetPeriod>> seen;
  for (const Budget& b : budgets) {
    if (b.limit < 0 || b.limit > kMaxBudgetLimit) {
      return MakeError(ErrorCode::kBadRequest, BudgetName(b) +
                                                   ": the limit must be between 0 and " +
                                                   PlainAmount(b.resource, kMaxBudgetLimit));
    }
    for (int t : b.alert_at) {
      if (t < 1 || t > kExhaustedThreshold) {
        return MakeError(ErrorCode::kBadRequest, BudgetName(b) +
                                                     ": alert thresholds are percentages " +
                                                     "from 1 to 100, got " + std::to_string(t));
      }
    }
    if (!seen.insert({b.resource, b.period}).second) {
      return MakeError(ErrorCode::kBadRequest, BudgetName(b) + " is given twice");
    }
  }
  return {};
}

std::string PlainAmount(BudgetResource r, int64_t v) {
  if (r == BudgetResource::kUsd) return FormatUsd(v);
  if (IsSeconds(r)) return Seconds(v);
  return std::to_string(v);
}

std::string HumanAmount(BudgetResource r, int64_t v) {
  switch (r) {
    case BudgetResource::kUsd:
      return "$" + FormatUsd(v);
    case BudgetResource::kTokens:
      return std::to_string(v) + " tokens";
    case BudgetResource::kApiCalls:
      return std::to_string(v) + " api calls";
    case BudgetResource::kTaskSeconds:
      return Seconds(v) + " task seconds";
    case BudgetResource::kMachineSeconds:
      return Seconds(v) + " machine seconds";
  }
  return std::to_string(v);
}

std::string BudgetName(const Budget& b) {
  return fmt::format("budget {} ({})", ToString(b.resource), ToString(b.period));
}

}  // namespace autovibe
