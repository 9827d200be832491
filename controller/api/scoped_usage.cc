#include "controller/api/scoped_usage.h"

#include <algorithm>
#include <map>

namespace autovibe {
namespace {

void AddUsage(UsageGroupRow& to, const UsageGroupRow& r) {
  to.calls += r.calls;
  to.input_tokens += r.input_tokens;
  to.output_tokens += r.output_tokens;
  to.cache_write_tokens += r.cache_write_tokens;
  to.cache_read_tokens += r.cache_read_tokens;
  to.tokens += r.tokens;
  to.cost_micros += r.cost_micros;
  to.task_ms += r.task_ms;
  to.machine_ms += r.machine_ms;
}

}  // namespace

Result<std::vector<UsageGroupRow>> ScopedUsage(BudgetBook& book, const UsageQuery& q,
                                               const ProjectScope& scope) {
  if (scope.Everything() || !q.project.empty()) return book.UsageBy(q);
  std::map<std::string, UsageGroupRow> by_key;
  for (const std::string& p : scope.caller().projects) {
    UsageQuery one = q;
    one.project = p;
    auto rows = book.UsageBy(one);
    if (!rows) return rows.error();
    for (const UsageGroupRow& r : *rows) {
      UsageGroupRow& to = by_key[r.key];
      to.key = r.key;
      AddUsage(to, r);
    }
  }
  std::vector<UsageGroupRow> out;
  for (auto& [key, row] : by_key) out.push_back(std::move(row));
  // The ledger's order: days in order, other groups the costliest first.
  if (q.group_by != UsageGroupBy::kDay) {
    std::stable_sort(out.begin(), out.end(),
                     [](const auto& a, const auto& b) { return a.cost_micros > b.cost_micros; });
  }
  if (out.size() > q.limit) out.resize(q.limit);
  return out;
}

Result<std::vector<BudgetAlert>> ScopedAlerts(BudgetBook& book, const std::string& project,
                                              size_t limit, const ProjectScope& scope) {
  if (scope.Everything() || !project.empty()) return book.Alerts(project, limit);
  std::vector<BudgetAlert> out;
  for (const std::string& p : scope.caller().projects) {
    auto some = book.Alerts(p, limit);
    if (!some) return some.error();
    out.insert(out.end(), some->begin(), some->end());
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.at_ms != b.at_ms ? a.at_ms > b.at_ms : a.threshold > b.threshold;
  });
  if (out.size() > limit) out.resize(limit);
  return out;
}

}  // namespace autovibe
