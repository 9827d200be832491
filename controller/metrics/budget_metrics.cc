// Spend against limits, what leases hold back, and the alerts that fired.
#include <string>

#include "controller/metrics/controller_metrics.h"

namespace autovibe {

void RenderBudgetMetrics(const BudgetBook& budgets, const AlertCounter* alerts, MetricsText& out) {
  const std::vector<ProjectGauges> projects = budgets.Gauges();
  out.Family("autovibe_project_spent_total", "counter",
             "Everything charged to the project since it began, by resource (usd in dollars, "
             "task and machine time in seconds).");
  for (const ProjectGauges& p : projects) {
    for (BudgetResource r : kAllBudgetResources) {
      out.Sample("autovibe_project_spent_total",
                 {{"project", p.project}, {"resource", ToString(r)}},
                 MetricAmount(r, p.all_time[r]));
    }
  }
  out.Family("autovibe_budget_reserved", "gauge",
             "What the project's open leases hold back from its budgets now, by resource.");
  for (const ProjectGauges& p : projects) {
    for (BudgetResource r : kAllBudgetResources) {
      out.Sample("autovibe_budget_reserved", {{"project", p.project}, {"resource", ToString(r)}},
                 MetricAmount(r, p.outstanding[r]));
    }
  }
  struct Figure {
    const char* name;
    const char* help;
    double (*value)(const BudgetGauge&);
  };
  static constexpr Figure kFigures[] = {
      {"autovibe_budget_limit", "Each budget's limit, in its resource's unit.",
       [](const BudgetGauge& b) { return MetricAmount(b.budget.resource, b.budget.limit); }},
      {"autovibe_budget_spent", "What each budget's current period has spent (settled).",
       [](const BudgetGauge& b) { return MetricAmount(b.budget.resource, b.spent); }},
      {"autovibe_budget_exhausted", "1 while the budget is used up (its tasks paused or stopped).",
       [](const BudgetGauge& b) { return b.exhausted ? 1.0 : 0.0; }},
  };
  for (const Figure& f : kFigures) {
    out.Family(f.name, "gauge", f.help);
    for (const ProjectGauges& p : projects) {
      for (const BudgetGauge& b : p.budgets) {
        out.Sample(f.name,
                   {{"project", p.project},
                    {"resource", ToString(b.budget.resource)},
                    {"period", ToString(b.budget.period)}},
                   f.value(b));
      }
    }
  }
  out.Family("autovibe_leases_outstanding", "gauge",
             "Budget leases open now (one per running task attempt that spends).");
  out.Sample("autovibe_leases_outstanding", budgets.lease_count());
  if (alerts == nullptr) return;
  out.Family("autovibe_budget_alerts_total", "counter",
             "Budget alerts fired since the controller started, by project, resource and "
             "threshold (percent; 100: exhausted).");
  for (const auto& [key, n] : alerts->counts()) {
    const auto& [project, resource, threshold] = key;
    out.Sample(
        "autovibe_budget_alerts_total",
        {{"project", project}, {"resource", resource}, {"threshold", std::to_string(threshold)}},
        n);
  }
}

}  // namespace autovibe
