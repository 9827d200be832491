// `autovibe budget ...`: a project's budgets (DESIGN.md, "Budgets"): setting limits, and
// showing what has been spent against them.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "cli/command.h"

namespace CLI {
class App;
}

namespace autovibe::cli {

// Adds the `budget` noun and its verbs to `app`; parsing one of them fills `inv`.
void AddBudgetCommands(CLI::App& app, Invocation& inv);

// The flags of `budget set`, as typed.
struct BudgetFlags {
  std::string usd;  // "5", "5.00", "0.25"
  std::optional<int64_t> tokens;
  std::optional<int64_t> api_calls;
  std::optional<int64_t> task_seconds;
  std::optional<int64_t> machine_seconds;
  std::string period = "total";
  std::string alert_at;    // "75,90"; empty: keep (or the controller's default)
  std::string on_exhaust;  // "pause" or "stop"; empty: keep (or the controller's default)
};

// The budgets the flags set: one entry per resource given, with the flags' period and, when
// given, alert thresholds and action. A usage error (exit 2) says what is wrong: no limit, a
// limit that is not positive, dollars with more than six decimals, thresholds outside 1..100.
CliResult<boost::json::array> BudgetsFromFlags(const BudgetFlags& flags);

// `current` (the project's budgets) with `changes` applied: an entry of the same resource and
// period is replaced, keeping its alert thresholds and action unless the change names them;
// others are added. Every other budget is kept as it was.
boost::json::array MergeBudgets(const boost::json::array& current,
                                const boost::json::array& changes);

// The verbs, runnable on any context. `set` reads the project's budgets, merges `changes` in
// (the API replaces the whole set) and writes them back.
CliStatus SetBudgets(CommandContext& ctx, const std::string& project,
                     const boost::json::array& changes);
CliStatus ShowBudgets(CommandContext& ctx, const std::string& project);

// Human output. The budgets of PUT /v1/projects/{name}/budgets; the usage report of GET
// /v1/projects/{name}/usage (budgets with what is spent, then a totals line).
void PrintBudgetTable(std::ostream& out, const boost::json::array& budgets);
void PrintProjectUsage(std::ostream& out, const boost::json::object& usage, int64_t now_ms);

// An amount of `resource` as people read it: usd "0.42" -> "$0.42", task_seconds 3720 ->
// "1h2m", tokens 1200 -> "1200". Missing or null: "-".
std::string FormatAmount(std::string_view resource, const boost::json::value* amount);
// Dollars, as the API writes them ("0.42", or a number), in micro-dollars; nullopt when
// missing or unreadable.
std::optional<int64_t> UsdMicros(const boost::json::value* amount);

}  // namespace autovibe::cli
