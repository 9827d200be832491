// Counts the budget alerts that fire, for /metrics, and passes each on. Owner-thread only.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>

#include "controller/budgets/alerts.h"

namespace autovibe {

class AlertCounter final : public AlertSink {
 public:
  // (project, resource, threshold) -> alerts.
  using Counts = std::map<std::tuple<std::string, std::string, int>, uint64_t>;

  // `next` hears every alert; it must outlive this.
  explicit AlertCounter(AlertSink& next) : next_(next) {}

  // AlertSink
  void Alert(const BudgetAlert& a) override;

  const Counts& counts() const { return counts_; }

 private:
  AlertSink& next_;
  Counts counts_;
};

}  // namespace autovibe
