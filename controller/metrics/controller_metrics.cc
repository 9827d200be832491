#include "controller/metrics/controller_metrics.h"

namespace autovibe {

double MetricAmount(BudgetResource r, int64_t v) {
  switch (r) {
    case BudgetResource::kUsd:
      return static_cast<double>(v) / 1e6;
    case BudgetResource::kTaskSeconds:
    case BudgetResource::kMachineSeconds:
      return static_cast<double>(v) / 1e3;
    case BudgetResource::kTokens:
    case BudgetResource::kApiCalls:
      break;
  }
  return static_cast<double>(v);
}

void RenderControllerMetrics(const ControllerMetricsSources& s, MetricsText& out) {
  if (s.budgets != nullptr) RenderBudgetMetrics(*s.budgets, s.alerts, out);
  if (s.task_timings != nullptr) RenderTaskTimings(*s.task_timings, out);
  if (s.checkpoints != nullptr) RenderCheckpointMetrics(*s.checkpoints, out);
  if (s.machines != nullptr) RenderPoolMetrics(*s.machines, out);
  if (s.fleet != nullptr) RenderMachineMetrics(*s.fleet, out);
}

}  // namespace autovibe
