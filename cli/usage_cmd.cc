#include "cli/usage_cmd.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cmath>
#include <memory>
#include <optional>
#include <vector>

#include "cli/budget_cmd.h"
#include "cli/client.h"
#include "cli/json_output.h"
#include "cli/table.h"
#include "common/budget/amounts.h"
#include "common/core/duration.h"
#include "common/core/time.h"

namespace autovibe::cli {
namespace json = boost::json;
namespace {

// The token and time columns of a row: API field, header, and the resource it is counted in.
struct Column {
  std::string_view field;
  std::string_view header;
  std::string_view resource;
};
constexpr std::array<Column, 9> kColumns = {{
    {"calls", "CALLS", "api_calls"},
    {"input_tokens", "INPUT", "tokens"},
    {"output_tokens", "OUTPUT", "tokens"},
    {"cache_write_tokens", "CACHE WRITE", "tokens"},
    {"cache_read_tokens", "CACHE READ", "tokens"},
    {"tokens", "TOKENS", "tokens"},
    {"usd", "USD", "usd"},
    {"task_seconds", "TASK TIME", "task_seconds"},
    {"machine_seconds", "MACHINE TIME", "machine_seconds"},
}};

// --since as an RFC 3339 time: as given, or `now_ms` less a duration.
CliResult<std::string> SinceTime(const std::string& text, int64_t now_ms) {
  if (ParseRfc3339Ms(text, DateAlone::kMidnightUtc))
    return CliResult<std::string>(boost::system::in_place_value, text);
  auto d = ParseDuration(text);
  if (!d || d->count() <= 0) {
    return CliError{kExitUsage,
                    "--since: expected a time like 2026-11-21T00:00:00Z (or a date) or a "
                    "duration back from now like 24h or 30m, got \"" +
                        text + "\""};
  }
  // Further back than 1970 is everything.
  return FormatRfc3339(std::max<int64_t>(now_ms - d->count(), 1));
}

bool IsTime(const Column& c) {
  return c.resource == "task_seconds" || c.resource == "machine_seconds";
}

// One figure in whole units: micro-dollars, milliseconds (seconds may be fractional) or a
// count; nullopt when it cannot be read.
std::optional<int64_t> Units(const Column& c, const json::value* v) {
  if (c.resource == "usd") return UsdMicros(v);
  if (!v->is_number()) return std::nullopt;
  if (IsTime(c)) return std::llround(v->to_number<double>() * 1000);
  boost::system::error_code ec;
  const auto n = v->to_number<int64_t>(ec);
  if (ec) return std::nullopt;
  return n;
}

// Adds up one column over the rows; nullopt when a row's figure cannot be read.
std::optional<int64_t> ColumnTotal(const json::array& rows, const Column& c) {
  int64_t sum = 0;
  for (const json::value& row : rows) {
    const json::value* v = row.is_object() ? row.get_object().if_contains(c.field) : nullptr;
    if (v == nullptr || v->is_null()) continue;
    const std::optional<int64_t> n = Units(c, v);
    if (!n) return std::nullopt;
    sum += *n;
  }
  return sum;
}

std::string FormatTotal(const Column& c, const std::optional<int64_t>& sum) {
  if (!sum) return "-";
  if (IsTime(c)) return FormatElapsed(*sum);
  const json::value v = c.resource == "usd" ? json::value(FormatUsd(*sum)) : json::value(*sum);
  return FormatAmount(c.resource, &v);
}

}  // namespace

void AddUsageCommand(CLI::App& app, Invocation& inv) {
  auto f = std::make_shared<UsageFlags>();
  CLI::App* usage = app.add_subcommand(
      "usage", "Show what has been spent: tokens, dollars, calls and time, grouped if asked");
  usage->add_option("--project", f->project, "Only this project's usage")->type_name("P");
  usage->add_option("--by", f->by, "Group by model, machine, task or day")
      ->check(CLI::IsMember({"model", "machine", "task", "day"}));
  usage
      ->add_option("--since", f->since,
                   "Only since this time (2026-11-21T00:00:00Z) or this long ago (24h)")
      ->type_name("TIME|DURATION");
  usage->callback([&inv, f] {
    // Checks --since; the time it stands for is taken when the command runs.
    if (auto path = UsagePath(*f, 0); !path) throw CLI::ValidationError(path.error().message);
    inv.command = "usage";
    inv.action = [f](CommandContext& ctx) { return ShowUsage(ctx, *f); };
  });
}

CliResult<std::string> UsagePath(const UsageFlags& f, int64_t now_ms) {
  std::vector<std::string> query;
  if (!f.by.empty()) query.push_back("group_by=" + PathSegment(f.by));
  if (!f.project.empty()) query.push_back("project=" + PathSegment(f.project));
  if (!f.since.empty()) {
    auto since = SinceTime(f.since, now_ms);
    if (!since) return since.error();
    query.push_back("since=" + PathSegment(*since));
  }
  return "/v1/usage" + (query.empty() ? "" : "?" + Join(query, "&"));
}

CliStatus ShowUsage(CommandContext& ctx, const UsageFlags& f) {
  auto path = UsagePath(f, ctx.now_ms);
  if (!path) return path.error();
  auto shown = CallAndPrint(ctx, "GET", *path,
                            [&](const json::object& usage) { PrintUsageTable(ctx.out, usage); });
  if (!shown || ctx.options.json || f.project.empty() || !f.by.empty()) return shown;
  ctx.out << '\n';
  return CallAndPrint(
      ctx, "GET", "/v1/projects/" + PathSegment(f.project) + "/usage",
      [&](const json::object& usage) { PrintProjectUsage(ctx.out, usage, ctx.now_ms); });
}

void PrintUsageTable(std::ostream& out, const json::object& usage) {
  // The controller names an ungrouped answer "none" (or leaves it out).
  std::string group_by = StringField(usage, "group_by");
  if (group_by == "none") group_by.clear();
  const json::value* rows_value = usage.if_contains("rows");
  const json::array empty;
  const json::array& rows =
      rows_value != nullptr && rows_value->is_array() ? rows_value->get_array() : empty;
  if (rows.empty()) {
    out << "no usage\n";
    return;
  }
  std::vector<std::string> headers = {group_by.empty() ? "USAGE" : Upper(group_by)};
  for (const Column& c : kColumns) headers.emplace_back(c.header);
  Table table(std::move(headers));
  for (const json::value& item : rows) {
    if (!item.is_object()) continue;
    const json::object& row = item.get_object();
    std::vector<std::string> cells = {OrDash(StringField(row, "key"))};
    for (const Column& c : kColumns)
      cells.push_back(FormatAmount(c.resource, row.if_contains(c.field)));
    table.AddRow(std::move(cells));
  }
  // Grouped rows get a total; the ungrouped answer is the total already.
  if (!group_by.empty()) {
    std::vector<std::string> cells = {"total"};
    for (const Column& c : kColumns) cells.push_back(FormatTotal(c, ColumnTotal(rows, c)));
    table.AddRow(std::move(cells));
  }
  table.Print(out);
}

}  // namespace autovibe::cli
