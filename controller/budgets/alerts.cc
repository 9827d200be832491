#include "controller/budgets/alerts.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace autovibe {

std::string AlertText(const BudgetAlert& a) {
  const std::string what = a.threshold >= kExhaustedThreshold
                               ? std::string("exhausted")
                               : fmt::format("used {}% of", a.threshold);
  return fmt::format("autovibe: project {} {} its {} budget ({}): {} of {}", a.project, what,
                     ToString(a.resource), ToString(a.period), HumanAmount(a.resource, a.spent),
                     HumanAmount(a.resource, a.limit));
}

void LogAlertSink::Alert(const BudgetAlert& a) {
  spdlog::warn("{}", AlertText(a));
  if (next_ != nullptr) next_->Alert(a);
}

}  // namespace autovibe
