#include "controller/budgets/lease.h"

#include <algorithm>

namespace autovibe {
namespace {

constexpr int64_t kMaxUsageFigure = 1'000'000'000'000'000;

}  // namespace

Amounts ClampedAtZero(Amounts a) { return Amounts::Max(a, Amounts{}); }

Amounts Reserved(const Lease& l) {
  return ClampedAtZero((l.closed ? l.final : l.granted) - l.settled);
}

bool FullySettled(const Lease& l) { return l.closed && l.final.FitsIn(l.settled); }

Amounts UsageAmounts(const UsageReport& r) {
  // Capped too, so that no sum of figures overflows.
  auto pos = [](int64_t v) { return std::clamp<int64_t>(v, 0, kMaxUsageFigure); };
  Amounts a;
  a.usd_micros = pos(r.cost_micros);
  a.tokens = pos(r.input_tokens) + pos(r.output_tokens) + pos(r.cache_write_tokens) +
             pos(r.cache_read_tokens);
  a.api_calls = r.kind == "llm" && r.status != "unreachable" ? 1 : 0;
  a.task_ms = pos(r.task_ms);
  a.machine_ms = pos(r.machine_ms);
  return a;
}

}  // namespace autovibe
