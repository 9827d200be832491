#include "cli/budget_cmd.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <memory>

#include "cli/client.h"
#include "cli/json_output.h"
#include "cli/table.h"
#include "cli/verbs.h"
#include "common/budget/amounts.h"
#include "common/core/time.h"

namespace autovibe::cli {
namespace json = boost::json;
namespace {

CliError Usage(std::string message) { return CliError{kExitUsage, std::move(message)}; }

bool IsTime(std::string_view resource) {
  return resource == "task_seconds" || resource == "machine_seconds";
}

// "75,90" -> [75,90]: whole percentages from 1 to 100, sorted, each once.
CliResult<json::array> AlertThresholds(const std::string& text) {
  std::vector<int64_t> values;
  std::string_view rest = text;
  while (true) {
    const size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    int64_t n = 0;
    auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), n);
    if (item.empty() || ec != std::errc() || end != item.data() + item.size() || n < 1 || n > 100) {
      return Usage(
          "--alert-at: expected whole percentages from 1 to 100 separated by commas, like "
          "75,90; got \"" +
          text + "\"");
    }
    values.push_back(n);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  return json::array(values.begin(), values.end());
}

CliResult<json::value> UsdLimit(const std::string& text) {
  auto micros = ParseUsd(text);
  if (!micros) {
    return Usage("--usd: expected dollars like 5, 5.00 or 0.25 (at most 6 decimals), got \"" +
                 text + "\"");
  }
  if (*micros <= 0) return Usage("--usd: the limit must be more than 0, got \"" + text + "\"");
  return json::value(FormatUsd(*micros));
}

std::string Period(const json::object& budget) {
  const std::string period = StringField(budget, "period");
  return period.empty() ? "total" : period;
}

// 42 -> "42%", 8.44 -> "8.4%".
std::string FormatPercent(const json::value* v) {
  if (v == nullptr || !v->is_number()) return "-";
  const double pct = std::round(v->to_number<double>() * 10) / 10;
  char buf[32];
  if (pct == std::floor(pct)) {
    std::snprintf(buf, sizeof buf, "%.0f%%", pct);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f%%", pct);
  }
  return buf;
}

// "75%,90%".
std::string FormatThresholds(const json::value* v) {
  if (v == nullptr || !v->is_array()) return "-";
  std::vector<std::string> parts;
  for (const json::value& pct : v->get_array()) parts.push_back(FormatScalar(pct) + "%");
  return parts.empty() ? "-" : Join(parts);
}

std::string Outcome(const std::string& on_exhaust) {
  if (on_exhaust == "pause") return "tasks paused";
  if (on_exhaust == "stop") return "tasks stopped";
  return on_exhaust;
}

// When the budget runs out: "EXHAUSTED (tasks paused)", "in 3h12m", "-" when no forecast.
std::string Exhausts(const json::object& b, int64_t now_ms) {
  const json::value* exhausted = b.if_contains("exhausted");
  if (exhausted != nullptr && exhausted->is_bool() && exhausted->get_bool()) {
    const std::string outcome = Outcome(StringField(b, "on_exhaust"));
    return outcome.empty() ? "EXHAUSTED" : "EXHAUSTED (" + outcome + ")";
  }
  const std::string forecast = StringField(b, "forecast_exhausted_at");
  const auto at = ParseRfc3339Ms(forecast);
  if (!at) return OrDash(forecast);
  return *at <= now_ms ? "now" : "in " + FormatElapsed(*at - now_ms);
}

std::string BudgetsPath(const std::string& project) {
  return "/v1/projects/" + PathSegment(project) + "/budgets";
}

}  // namespace

void AddBudgetCommands(CLI::App& app, Invocation& inv) {
  CLI::App* budget = app.add_subcommand("budget", "A project's budgets: limits and spending");
  budget->require_subcommand(1);

  auto f = std::make_shared<BudgetFlags>();
  auto project = std::make_shared<std::string>();
  CLI::App* set = budget->add_subcommand(
      "set",
      "Set limits on a project's spending (per resource and period; the project's other "
      "budgets are kept) and print its budgets");
  set->add_option("PROJECT", *project, "Project name")->required();
  set->add_option("--usd", f->usd, "Dollar limit: 5, 5.00, 0.25")->type_name("DOLLARS");
  set->add_option("--tokens", f->tokens, "Token limit (every kind of token)")->type_name("N");
  set->add_option("--api-calls", f->api_calls, "LLM API call limit")->type_name("N");
  set->add_option("--task-seconds", f->task_seconds, "Limit on the tools' wall time")
      ->type_name("N");
  set->add_option("--machine-seconds", f->machine_seconds, "Limit on fleet machine time")
      ->type_name("N");
  set->add_option("--period", f->period, "What the limits count: total, or per day/week/month")
      ->check(CLI::IsMember({"total", "day", "week", "month"}))
      ->capture_default_str();
  set->add_option("--alert-at", f->alert_at,
                  "Alert at these percentages of a limit (default 75,90; 100 always)")
      ->type_name("PCT,...");
  set->add_option("--on-exhaust", f->on_exhaust,
                  "At the limit: pause tasks (they resume when it is raised) or stop them "
                  "(default pause)")
      ->check(CLI::IsMember({"pause", "stop"}));
  set->callback([&inv, f, project] {
    auto changes = BudgetsFromFlags(*f);
    if (!changes) throw CLI::ValidationError(changes.error().message);
    inv.command = "budget set";
    inv.action = [project, changes = std::move(*changes)](CommandContext& ctx) {
      return SetBudgets(ctx, *project, changes);
    };
  });

  AddVerbWithArgument(*budget, inv, "show",
                      "Show a project's budgets with what is spent, reserved and forecast",
                      "PROJECT", "Project name", ShowBudgets);
}

CliResult<json::array> BudgetsFromFlags(const BudgetFlags& f) {
  json::array out;
  json::array alerts;
  if (!f.alert_at.empty()) {
    auto parsed = AlertThresholds(f.alert_at);
    if (!parsed) return parsed.error();
    alerts = std::move(*parsed);
  }
  auto add = [&](std::string_view resource, json::value limit) {
    json::object b{{"resource", resource}, {"limit", std::move(limit)}, {"period", f.period}};
    if (!alerts.empty()) b["alert_at"] = alerts;
    if (!f.on_exhaust.empty()) b["on_exhaust"] = f.on_exhaust;
    out.push_back(std::move(b));
  };
  if (!f.usd.empty()) {
    auto limit = UsdLimit(f.usd);
    if (!limit) return limit.error();
    add("usd", std::move(*limit));
  }
  const std::pair<std::string_view, const std::optional<int64_t>*> counts[] = {
      {"tokens", &f.tokens},
      {"api_calls", &f.api_calls},
      {"task_seconds", &f.task_seconds},
      {"machine_seconds", &f.machine_seconds}};
  for (const auto& [resource, n] : counts) {
    if (!n->has_value()) continue;
    if (**n < 1) {
      std::string flag = "--" + std::string(resource);
      std::replace(flag.begin(), flag.end(), '_', '-');
      return Usage(flag + ": the limit must be at least 1, got " + std::to_string(**n));
    }
    add(resource, **n);
  }
  if (out.empty()) {
    return Usage(
        "give at least one limit: --usd, --tokens, --api-calls, --task-seconds or "
        "--machine-seconds");
  }
  return out;
}

json::array MergeBudgets(const json::array& current, const json::array& changes) {
  json::array merged = current;
  for (const json::value& change : changes) {
    const json::object& c = change.get_object();
    auto same = std::find_if(merged.begin(), merged.end(), [&](const json::value& b) {
      return b.is_object() &&
             StringField(b.get_object(), "resource") == StringField(c, "resource") &&
             Period(b.get_object()) == Period(c);
    });
    if (same == merged.end()) {
      merged.push_back(change);
      continue;
    }
    for (const auto& kv : c) same->as_object()[kv.key()] = kv.value();
  }
  return merged;
}

CliStatus SetBudgets(CommandContext& ctx, const std::string& project, const json::array& changes) {
  const std::string path = BudgetsPath(project);
  auto current = ctx.client.Call("GET", path);
  if (!current) return current.error();
  auto list = ExpectList(*current, "budgets", "GET " + path);
  if (!list) return list.error();
  const json::object request{{"budgets", MergeBudgets(**list, changes)}};
  auto answer = ctx.client.Call("PUT", path, json::serialize(request));
  if (!answer) return answer.error();
  // A controller that answers with no body has taken the budgets as sent.
  const json::value& shown = answer->is_null() ? json::value(request) : *answer;
  if (ctx.options.json) {
    PrintJson(ctx.out, shown);
    return {};
  }
  auto budgets = ExpectList(shown, "budgets", "PUT " + path);
  if (!budgets) return budgets.error();
  PrintBudgetTable(ctx.out, **budgets);
  return {};
}

CliStatus ShowBudgets(CommandContext& ctx, const std::string& project) {
  return CallAndPrint(
      ctx, "GET", "/v1/projects/" + PathSegment(project) + "/usage",
      [&](const json::object& usage) { PrintProjectUsage(ctx.out, usage, ctx.now_ms); });
}

void PrintBudgetTable(std::ostream& out, const json::array& budgets) {
  Table table({"RESOURCE", "PERIOD", "LIMIT", "ALERT AT", "ON EXHAUST"});
  for (const json::value& item : budgets) {
    if (!item.is_object()) continue;
    const json::object& b = item.get_object();
    const std::string resource = StringField(b, "resource");
    table.AddRow({OrDash(resource), Period(b), FormatAmount(resource, b.if_contains("limit")),
                  FormatThresholds(b.if_contains("alert_at")),
                  OrDash(StringField(b, "on_exhaust"))});
  }
  if (table.rows() == 0) {
    out << "no budgets\n";
    return;
  }
  table.Print(out);
}

void PrintProjectUsage(std::ostream& out, const json::object& usage, int64_t now_ms) {
  Table table({"RESOURCE", "PERIOD", "LIMIT", "SPENT", "RESERVED", "REMAINING", "USED%", "BURN/H",
               "EXHAUSTS"});
  const json::value* budgets = usage.if_contains("budgets");
  if (budgets != nullptr && budgets->is_array()) {
    for (const json::value& item : budgets->get_array()) {
      if (!item.is_object()) continue;
      const json::object& b = item.get_object();
      const std::string r = StringField(b, "resource");
      table.AddRow({OrDash(r), Period(b), FormatAmount(r, b.if_contains("limit")),
                    FormatAmount(r, b.if_contains("spent")),
                    FormatAmount(r, b.if_contains("reserved")),
                    FormatAmount(r, b.if_contains("remaining")),
                    FormatPercent(b.if_contains("percent_used")),
                    FormatAmount(r, b.if_contains("burn_rate_per_hour")), Exhausts(b, now_ms)});
    }
  }
  if (table.rows() == 0) {
    out << "no budgets\n";
  } else {
    table.Print(out);
  }
  const json::object& t = ObjectField(usage, "totals");
  if (t.empty()) return;
  out << "totals: " << FormatAmount("usd", t.if_contains("usd")) << ", "
      << FormatAmount("tokens", t.if_contains("tokens")) << " tokens, "
      << FormatAmount("api_calls", t.if_contains("api_calls")) << " API calls, "
      << FormatAmount("task_seconds", t.if_contains("task_seconds")) << " task time, "
      << FormatAmount("machine_seconds", t.if_contains("machine_seconds")) << " machine time\n";
}

std::string FormatAmount(std::string_view resource, const json::value* amount) {
  if (amount == nullptr || amount->is_null()) return "-";
  if (resource == "usd") {
    const auto micros = UsdMicros(amount);
    if (!micros) return FormatScalar(*amount);
    const std::string dollars = FormatUsd(*micros);
    return dollars.starts_with('-') ? "-$" + dollars.substr(1) : "$" + dollars;
  }
  if (IsTime(resource) && amount->is_number()) {
    return FormatElapsed(std::llround(amount->to_number<double>() * 1000));
  }
  return FormatScalar(*amount);
}

std::optional<int64_t> UsdMicros(const json::value* amount) {
  if (amount == nullptr) return std::nullopt;
  if (amount->is_number()) return std::llround(amount->to_number<double>() * 1e6);
  if (!amount->is_string()) return std::nullopt;
  std::string_view text = amount->get_string();
  const bool negative = text.starts_with('-');
  if (negative) text.remove_prefix(1);
  auto micros = ParseUsd(text);
  if (!micros) return std::nullopt;
  return negative ? -*micros : *micros;
}

}  // namespace autovibe::cli
