// The controller's figures on GET /metrics beyond the API's own: spend and limits, leases,
// alerts, task timings, checkpoints, pools, spawns and each machine's resources, each read from
// the part that owns it. Owner-thread only, like those parts.
//
// Units are Prometheus' base units: dollars for usd, seconds for task and machine time, bytes.
#pragma once

#include "common/budget/amounts.h"
#include "common/core/metrics_text.h"
#include "controller/budgets/budget_book.h"
#include "controller/checkpoints/checkpoint_service.h"
#include "controller/fleet/fleet.h"
#include "controller/machines/machine_manager.h"
#include "controller/metrics/alert_counter.h"
#include "controller/metrics/task_timings.h"

namespace autovibe {

// Where the figures come from; a null source leaves its families out.
struct ControllerMetricsSources {
  const Fleet* fleet = nullptr;
  const BudgetBook* budgets = nullptr;
  const AlertCounter* alerts = nullptr;
  const TaskTimings* task_timings = nullptr;
  const CheckpointService* checkpoints = nullptr;
  const MachineManager* machines = nullptr;
};

void RenderControllerMetrics(const ControllerMetricsSources& s, MetricsText& out);

// The parts of it (budget_metrics.cc, fleet_metrics.cc, work_metrics.cc).
void RenderBudgetMetrics(const BudgetBook& budgets, const AlertCounter* alerts, MetricsText& out);
void RenderMachineMetrics(const Fleet& fleet, MetricsText& out);
void RenderPoolMetrics(const MachineManager& machines, MetricsText& out);
void RenderTaskTimings(const TaskTimings& timings, MetricsText& out);
void RenderCheckpointMetrics(const CheckpointService& checkpoints, MetricsText& out);

// A budget figure in its resource's base unit: micro-dollars as dollars, milliseconds as
// seconds; tokens and calls as they are.
double MetricAmount(BudgetResource r, int64_t v);

}  // namespace autovibe
