#include "common/budget/usage.h"

#include <algorithm>

namespace autovibe {

Amounts SpentBy(const UsageFigures& u) {
  auto counted = [](int64_t v) { return std::clamp<int64_t>(v, 0, kMaxUsageFigure); };
  Amounts a;
  a.usd_micros = counted(u.cost_micros);
  a.tokens = counted(u.input_tokens) + counted(u.output_tokens) + counted(u.cache_write_tokens) +
             counted(u.cache_read_tokens);
  // An unreachable upstream never had the request: the provider counted none. One that took it
  // and gave no answer ("no_answer") may have billed it: it counts.
  a.api_calls = u.kind == "llm" && u.status != "unreachable" ? 1 : 0;
  a.task_ms = counted(u.task_ms);
  a.machine_ms = counted(u.machine_ms);
  return a;
}

UsageFigures EstimateFor(const Amounts& reserved) {
  return UsageFigures{.kind = "llm",
                      .status = kUnsettledStatus,
                      .input_tokens = std::max<int64_t>(0, reserved.tokens),
                      .cost_micros = std::max<int64_t>(0, reserved.usd_micros)};
}

}  // namespace autovibe
