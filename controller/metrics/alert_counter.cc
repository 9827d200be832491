#include "controller/metrics/alert_counter.h"

namespace autovibe {

void AlertCounter::Alert(const BudgetAlert& a) {
  ++counts_[{a.project, std::string(ToString(a.resource)), a.threshold}];
  next_.Alert(a);
}

}  // namespace autovibe
