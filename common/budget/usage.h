// What one usage record spends of every budget resource (DESIGN.md, "Budgets"). The agent
// counts its lease's consumption with this rule and the controller settles the same records
// with it: a lease closes as settled only when the two sums agree, so there is one rule.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/budget/amounts.h"

namespace autovibe {

// The figures of one usage record that count against budgets, whatever carries it (a
// v1::UsageRecord on the agent, the controller's UsageReport). A view: the strings belong to
// the record it was made from.
struct UsageFigures {
  std::string_view kind;    // "llm" or "time"
  std::string_view status;  // "unreachable": the call never reached the provider
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t cache_write_tokens = 0;
  int64_t cache_read_tokens = 0;
  int64_t cost_micros = 0;
  int64_t task_ms = 0;
  int64_t machine_ms = 0;
};

// No figure of one record counts for more than this (a billion dollars in micro-dollars), so
// that sums over many records stay far from overflowing.
inline constexpr int64_t kMaxUsageFigure = 1'000'000'000'000'000;

// usd = the cost, tokens = all four kinds, one api call per LLM call that reached the
// provider, task and machine time. Each figure is clamped to [0, kMaxUsageFigure] before it
// counts: a negative one (a broken or hostile agent) spends nothing, an absurd one is capped.
Amounts SpentBy(const UsageFigures& u);

// The status of the record that charges a call's reservation in full because the call's own
// record never came (its agent died, or was lost, while the call was in flight).
inline constexpr std::string_view kUnsettledStatus = "unsettled";

// The figures of that record (kind "llm", status kUnsettledStatus, marked estimated): the
// reservation's cost, all its tokens as input, so that SpentBy() gives back `reserved` (one
// api call). The agent (after a restart) and the controller (when it closes the lease) make
// the same one under the same id, so the ledger keeps whichever comes first, once.
UsageFigures EstimateFor(const Amounts& reserved);

}  // namespace autovibe
