#include "controller/api/budget_json.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <cmath>

#include "common/core/time.h"

namespace autovibe {
namespace {

namespace json = boost::json;

constexpr int64_t kMsPerSecond = 1000;

bool IsSeconds(BudgetResource r) {
  return r == BudgetResource::kTaskSeconds || r == BudgetResource::kMachineSeconds;
}

// Whole seconds print as integers; anything else as a number with millisecond precision.
json::value SecondsJson(double ms) {
  const double rounded = std::round(ms);
  if (std::fmod(rounded, kMsPerSecond) == 0) {
    return static_cast<int64_t>(rounded) / kMsPerSecond;
  }
  return rounded / kMsPerSecond;
}

json::value RateJson(BudgetResource r, double per_hour) {
  if (r == BudgetResource::kUsd) return json::value(FormatUsd(std::llround(per_hour)));
  if (IsSeconds(r)) return SecondsJson(per_hour);
  return std::llround(per_hour);
}

json::value TimeOrNull(std::optional<int64_t> ms) {
  if (!ms || *ms <= 0) return nullptr;
  return json::value(FormatRfc3339(*ms));
}

Error Bad(const std::string& message) { return MakeError(ErrorCode::kBadRequest, message); }

// A JSON number that is a whole number, as int64.
std::optional<int64_t> WholeNumber(const json::value& v) {
  if (v.is_int64()) return v.as_int64();
  if (v.is_uint64() && v.as_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    return static_cast<int64_t>(v.as_uint64());
  }
  if (v.is_double()) {
    const double d = v.as_double();
    if (std::trunc(d) == d && std::fabs(d) < 9e18) return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

Result<int64_t> LimitFromJson(BudgetResource r, const json::value& v) {
  const std::string what = "the limit of the " + std::string(ToString(r)) + " budget";
  if (r == BudgetResource::kUsd) {
    if (v.is_string()) return ParseUsd(std::string_view(v.as_string()));
    if (v.is_int64() || v.is_uint64()) return ParseUsd(json::serialize(v));
    if (v.is_double()) return ParseUsd(fmt::format("{}", v.as_double()));
    return Bad(what + " must be an amount of dollars such as \"5.00\"");
  }
  auto n = WholeNumber(v);
  if (!n || *n < 0) return Bad(what + " must be a whole number at least 0");
  if (!IsSeconds(r)) return *n;
  if (*n > kMaxBudgetLimit / kMsPerSecond) return Bad(what + " is too large");
  return *n * kMsPerSecond;
}

Result<Budget> BudgetFromJson(const json::value& v) {
  if (!v.is_object()) return Bad("every budget must be a JSON object");
  const json::object& o = v.as_object();
  for (const auto& [key, _] : o) {
    if (key != "resource" && key != "limit" && key != "period" && key != "alert_at" &&
        key != "on_exhaust") {
      return Bad("unknown budget field \"" + std::string(key).substr(0, 40) +
                 "\" (resource, limit, period, alert_at, on_exhaust)");
    }
  }
  Budget b;
  const json::value* resource = o.if_contains("resource");
  if (resource == nullptr || !resource->is_string()) {
    return Bad("\"resource\" is required: usd, tokens, api_calls, task_seconds, machine_seconds");
  }
  auto r = ParseBudgetResource(std::string_view(resource->as_string()));
  if (!r) {
    return Bad("unknown resource \"" + std::string(resource->as_string()).substr(0, 40) +
               "\" (usd, tokens, api_calls, task_seconds, machine_seconds)");
  }
  b.resource = *r;
  const json::value* limit = o.if_contains("limit");
  if (limit == nullptr) return Bad("\"limit\" is required");
  auto l = LimitFromJson(b.resource, *limit);
  if (!l) return l.error();
  b.limit = *l;
  if (const json::value* period = o.if_contains("period")) {
    auto p = period->is_string() ? ParseBudgetPeriod(std::string_view(period->as_string()))
                                 : std::nullopt;
    if (!p) return Bad("\"period\" must be one of total, day, week, month");
    b.period = *p;
  }
  if (const json::value* alert_at = o.if_contains("alert_at")) {
    if (!alert_at->is_array()) return Bad("\"alert_at\" must be a list of percentages");
    b.alert_at.clear();
    for (const json::value& t : alert_at->as_array()) {
      auto n = WholeNumber(t);
      if (!n || *n < 1 || *n > kExhaustedThreshold) {
        return Bad("\"alert_at\" percentages must be whole numbers from 1 to 100");
      }
      b.alert_at.push_back(static_cast<int>(*n));
    }
  }
  if (const json::value* on = o.if_contains("on_exhaust")) {
    if (!on->is_string() || (on->as_string() != "pause" && on->as_string() != "stop")) {
      return Bad("\"on_exhaust\" must be pause or stop");
    }
    b.pause = on->as_string() == "pause";
  }
  return b;
}

}  // namespace

json::value AmountJson(BudgetResource r, int64_t v) {
  if (r == BudgetResource::kUsd) return json::value(FormatUsd(v));
  if (IsSeconds(r)) return SecondsJson(static_cast<double>(v));
  return v;
}

json::object BudgetToJson(const Budget& b) {
  json::array alert_at;
  for (int t : b.alert_at) alert_at.emplace_back(t);
  return {{"resource", ToString(b.resource)},
          {"limit", AmountJson(b.resource, b.limit)},
          {"period", ToString(b.period)},
          {"alert_at", std::move(alert_at)},
          {"on_exhaust", OnExhaust(b)}};
}

json::object BudgetsToJson(std::string_view project, const std::vector<Budget>& budgets) {
  json::array list;
  for (const Budget& b : budgets) list.push_back(BudgetToJson(b));
  return {{"project", project}, {"budgets", std::move(list)}};
}

Result<std::vector<Budget>> BudgetsFromJson(const json::object& body) {
  for (const auto& [key, _] : body) {
    if (key != "budgets") return Bad("unknown field \"" + std::string(key).substr(0, 40) + "\"");
  }
  const json::value* list = body.if_contains("budgets");
  if (list == nullptr || !list->is_array()) {
    return Bad("\"budgets\" (a list, empty to remove every budget) is required");
  }
  std::vector<Budget> out;
  for (const json::value& v : list->as_array()) {
    auto b = BudgetFromJson(v);
    if (!b) return b.error();
    out.push_back(std::move(*b));
  }
  if (auto r = ValidateBudgets(out); !r) return r.error();
  return out;
}

json::object UsageToJson(const ProjectUsage& u) {
  json::array budgets;
  for (const BudgetUsage& b : u.budgets) {
    const BudgetResource r = b.budget.resource;
    json::object o = BudgetToJson(b.budget);
    o["period_start"] = TimeOrNull(b.period_start_ms);
    o["spent"] = AmountJson(r, b.spent);
    o["reserved"] = AmountJson(r, b.reserved);
    o["remaining"] = AmountJson(r, b.remaining);
    o["percent_used"] = std::round(b.percent_used * 10) / 10;
    o["burn_rate_per_hour"] = RateJson(r, b.burn_per_hour);
    o["forecast_exhausted_at"] = TimeOrNull(b.forecast_exhausted_at_ms);
    o["exhausted"] = b.exhausted;
    budgets.push_back(std::move(o));
  }
  json::object totals;
  for (BudgetResource r : kAllBudgetResources) totals[ToString(r)] = AmountJson(r, u.totals[r]);
  return {{"project", u.project}, {"budgets", std::move(budgets)}, {"totals", std::move(totals)}};
}

json::object UsageRowToJson(const UsageGroupRow& r) {
  return {{"key", r.key},
          {"calls", r.calls},
          {"input_tokens", r.input_tokens},
          {"output_tokens", r.output_tokens},
          {"cache_write_tokens", r.cache_write_tokens},
          {"cache_read_tokens", r.cache_read_tokens},
          {"tokens", r.tokens},
          {"usd", FormatUsd(r.cost_micros)},
          {"task_seconds", SecondsJson(static_cast<double>(r.task_ms))},
          {"machine_seconds", SecondsJson(static_cast<double>(r.machine_ms))}};
}

json::object AlertToJson(const BudgetAlert& a) {
  return {{"project", a.project},
          {"resource", ToString(a.resource)},
          {"period", ToString(a.period)},
          {"period_start", TimeOrNull(a.period_start_ms)},
          {"threshold", a.threshold},
          {"spent", AmountJson(a.resource, a.spent)},
          {"limit", AmountJson(a.resource, a.limit)},
          {"at", FormatRfc3339(a.at_ms)},
          {"text", AlertText(a)}};
}

std::optional<UsageGroupBy> ParseUsageGroupBy(std::string_view text) {
  for (UsageGroupBy g : {UsageGroupBy::kNone, UsageGroupBy::kModel, UsageGroupBy::kMachine,
                         UsageGroupBy::kTask, UsageGroupBy::kDay}) {
    if (ToString(g) == text) return g;
  }
  return std::nullopt;
}

std::string_view ToString(UsageGroupBy g) {
  switch (g) {
    case UsageGroupBy::kNone:
      return "none";
    case UsageGroupBy::kModel:
      return "model";
    case UsageGroupBy::kMachine:
      return "machine";
    case UsageGroupBy::kTask:
      return "task";
    case UsageGroupBy::kDay:
      return "day";
  }
  return "none";
}

}  // namespace autovibe
