#include "controller/budgets/lease.h"

#include "common/budget/usage.h"

namespace autovibe {

Amounts ClampedAtZero(Amounts a) { return Amounts::Max(a, Amounts{}); }

Amounts Reserved(const Lease& l) {
  return ClampedAtZero((l.closed ? l.final : l.granted) - l.settled);
}

bool FullySettled(const Lease& l) { return l.closed && l.final.FitsIn(l.settled); }

Amounts UsageAmounts(const UsageReport& r) {
  return SpentBy({.kind = r.kind,
                  .status = r.status,
                  .input_tokens = r.input_tokens,
                  .output_tokens = r.output_tokens,
                  .cache_write_tokens = r.cache_write_tokens,
                  .cache_read_tokens = r.cache_read_tokens,
                  .cost_micros = r.cost_micros,
                  .task_ms = r.task_ms,
                  .machine_ms = r.machine_ms});
}

}  // namespace autovibe
