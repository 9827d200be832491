// Budgets as stored, the usage ledger's rows and queries, and alerts: the budget book's
// records, shared by the store and the API.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/budget/amounts.h"
#include "controller/model/budget.h"

namespace autovibe {

struct StoredBudget {
  std::string project;
  Budget budget;
  // Set while the budget is exhausted: the start of the period it ran out in.
  std::optional<int64_t> exhausted_period_start_ms;
};

// What an agent reported of one LLM call or of tool and machine time (DESIGN.md, "Budgets").
struct UsageReport {
  std::string task_id;
  uint32_t attempt = 0;
  std::string project;
  std::string lease_id;
  std::string kind;      // "llm" or "time"
  std::string provider;  // "anthropic", "openai"
  std::string model;
  std::string route;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t cache_write_tokens = 0;
  int64_t cache_read_tokens = 0;
  int64_t cost_micros = 0;
  int64_t task_ms = 0;
  int64_t machine_ms = 0;
  int64_t latency_us = 0;
  int32_t http_status = 0;  // what the upstream answered (0: no answer)
  std::string status;
  bool estimated = false;  // the figures are the reservation, not the provider's usage
};

// One row of the ledger: a usage record as applied, with the project it was charged to.
struct UsageRow {
  std::string event_id;
  int64_t at_ms = 0;
  std::string project;
  std::string task_id;
  uint32_t attempt = 0;
  std::string machine_id;
  std::string lease_id;
  std::string kind;
  std::string provider;
  std::string model;
  std::string route;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t cache_write_tokens = 0;
  int64_t cache_read_tokens = 0;
  int64_t cost_micros = 0;
  int64_t task_ms = 0;
  int64_t machine_ms = 0;
  int64_t latency_us = 0;
  int32_t http_status = 0;
  std::string status;
  bool estimated = false;
  int64_t api_calls = 0;  // 1 for an LLM call that reached the provider (see UsageAmounts)
  // Set when this record replaced the estimate charged for its call before it came: when,
  // and what the estimate had cost.
  std::optional<int64_t> corrected_at_ms;
  int64_t estimate_cost_micros = 0;
};

// An alert as recorded: one per (project, resource, period, period start, threshold).
struct BudgetAlert {
  std::string project;
  BudgetResource resource = BudgetResource::kUsd;
  BudgetPeriod period = BudgetPeriod::kTotal;
  int64_t period_start_ms = 0;
  int threshold = 0;  // percent; 100: exhausted
  int64_t spent = 0;
  int64_t limit = 0;
  int64_t at_ms = 0;
};

enum class UsageGroupBy { kNone, kModel, kMachine, kTask, kDay };

struct UsageQuery {
  UsageGroupBy group_by = UsageGroupBy::kNone;
  std::string project;  // empty: every project
  int64_t since_ms = 0;
  size_t limit = 10'000;  // rows
};

struct UsageGroupRow {
  std::string key;  // model, machine id, task id, "YYYY-MM-DD"; "" for kNone
  int64_t calls = 0;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t cache_write_tokens = 0;
  int64_t cache_read_tokens = 0;
  int64_t tokens = 0;
  int64_t cost_micros = 0;
  int64_t task_ms = 0;
  int64_t machine_ms = 0;
};

}  // namespace autovibe
