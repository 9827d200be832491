// Quantities of the budget resources (DESIGN.md, "Budgets"), and money as integer
// micro-dollars: never a float past parsing a user's "5.00".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/core/result.h"

namespace autovibe {

enum class BudgetResource { kUsd, kTokens, kApiCalls, kTaskSeconds, kMachineSeconds };

inline constexpr BudgetResource kAllBudgetResources[] = {
    BudgetResource::kUsd, BudgetResource::kTokens, BudgetResource::kApiCalls,
    BudgetResource::kTaskSeconds, BudgetResource::kMachineSeconds};

// "usd", "tokens", "api_calls", "task_seconds", "machine_seconds".
std::string_view ToString(BudgetResource r);
std::optional<BudgetResource> ParseBudgetResource(std::string_view text);

// One figure per resource, in integer units: micro-dollars, tokens, calls, milliseconds.
struct Amounts {
  int64_t usd_micros = 0;
  int64_t tokens = 0;
  int64_t api_calls = 0;
  int64_t task_ms = 0;
  int64_t machine_ms = 0;

  int64_t& operator[](BudgetResource r);
  int64_t operator[](BudgetResource r) const;
  Amounts& operator+=(const Amounts& o);
  Amounts& operator-=(const Amounts& o);
  friend Amounts operator+(Amounts a, const Amounts& b) { return a += b; }
  friend Amounts operator-(Amounts a, const Amounts& b) { return a -= b; }
  friend bool operator==(const Amounts&, const Amounts&) = default;
  // Every figure of this is <= the same figure of `o`.
  bool FitsIn(const Amounts& o) const;
  // Each figure the larger of the two.
  static Amounts Max(const Amounts& a, const Amounts& b);
  // Each figure the smaller of the two.
  static Amounts Min(const Amounts& a, const Amounts& b);
  bool IsZero() const { return *this == Amounts{}; }
};

// "5", "5.00", "0.000123" (at most 6 decimals, no sign, no exponent) -> micro-dollars.
// Fails with "bad_request" on anything else or on more than 9,000,000,000 dollars.
Result<int64_t> ParseUsd(std::string_view text);
// Micro-dollars as dollars with at least two and at most six decimals: 5000000 -> "5.00",
// 1234 -> "0.001234", -1500000 -> "-1.50".
std::string FormatUsd(int64_t micros);

}  // namespace autovibe
