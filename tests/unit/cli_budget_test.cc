// `autovibe budget ...`, `autovibe usage` and `autovibe project stop|resume` from the command
// line to the requests sent and the printed output, against a fake controller.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>

#include "cli/budget_cmd.h"
#include "cli/table.h"
#include "cli/usage_cmd.h"
#include "tests/unit/cli_fake_controller.h"

namespace autovibe::cli {
namespace {

using namespace testing;
namespace json = boost::json;

const char* kCurrentBudgets = R"({"budgets":[
  {"resource":"usd","limit":"5.00","period":"total","alert_at":[50],"on_exhaust":"stop"},
  {"resource":"api_calls","limit":1000,"period":"day","alert_at":[75,90],"on_exhaust":"pause"}]})";

const char* kProjectUsage = R"({"project":"demo","budgets":[
  {"resource":"usd","period":"total","period_start":null,"limit":"5.00","spent":"0.42",
   "reserved":"0.08","remaining":"4.50","percent_used":10,"burn_rate_per_hour":"0.12",
   "forecast_exhausted_at":"2026-11-23T15:09:42.123Z","exhausted":false,"on_exhaust":"pause",
   "alert_at":[75,90]},
  {"resource":"tokens","period":"day","period_start":"2026-11-22T00:00:00Z","limit":100000,
   "spent":100000,"reserved":0,"remaining":0,"percent_used":100,"burn_rate_per_hour":2500.5,
   "forecast_exhausted_at":null,"exhausted":true,"on_exhaust":"stop","alert_at":[75,90]},
  {"resource":"task_seconds","period":"week","limit":36000,"spent":4500,"reserved":600,
   "remaining":30900,"percent_used":14.1666,"burn_rate_per_hour":1800,
   "forecast_exhausted_at":null,"exhausted":false,"on_exhaust":"pause","alert_at":[]}],
 "totals":{"usd":"0.42","tokens":123456,"api_calls":42,"task_seconds":4500,
           "machine_seconds":7260}})";

const std::string kProjectUsageTable =
    "RESOURCE      PERIOD  LIMIT   SPENT   RESERVED  REMAINING  USED%  BURN/H  EXHAUSTS\n"
    "usd           total   $5.00   $0.42   $0.08     $4.50      10%    $0.12   in 37h30m\n"
    "tokens        day     100000  100000  0         0          100%   2500.5  EXHAUSTED (tasks "
    "stopped)\n"
    "task_seconds  week    10h0m   1h15m   10m0s     8h35m      14.2%  30m0s   -\n"
    "totals: $0.42, 123456 tokens, 42 API calls, 1h15m task time, 2h1m machine time\n";

const char* kModelUsage = R"({"group_by":"model","rows":[
  {"key":"claude-sonnet-4-5","calls":30,"input_tokens":1000,"output_tokens":500,
   "cache_write_tokens":2000,"cache_read_tokens":40000,"tokens":43500,"usd":"0.321",
   "task_seconds":0,"machine_seconds":0},
  {"key":"gpt-4.1","calls":12,"input_tokens":800,"output_tokens":200,"cache_write_tokens":0,
   "cache_read_tokens":0,"tokens":1000,"usd":"0.099","task_seconds":59.6,"machine_seconds":0.5}]})";

json::value Parse(const std::string& text) { return json::parse(text); }

// The controller's answer to a PUT of budgets: what was sent, defaults filled in.
std::string Echo(const json::array& budgets) {
  json::array out;
  for (json::value b : budgets) {
    json::object& o = b.as_object();
    if (!o.contains("alert_at")) o["alert_at"] = json::array{75, 90};
    if (!o.contains("on_exhaust")) o["on_exhaust"] = "pause";
    out.push_back(std::move(b));
  }
  return json::serialize(json::object{{"budgets", std::move(out)}});
}

TEST_CASE("cli budget set: reads the budgets and writes them back with the change", "[cli]") {
  FakeController ctl;
  ctl.On("GET /v1/projects/demo/budgets", JsonReply(200, kCurrentBudgets));
  const json::array sent = Parse(R"([
    {"resource":"usd","limit":"7.50","period":"total","alert_at":[50],"on_exhaust":"stop"},
    {"resource":"api_calls","limit":1000,"period":"day","alert_at":[75,90],"on_exhaust":"pause"},
    {"resource":"tokens","limit":200000,"period":"total"}])")
                               .as_array();
  ctl.On("PUT /v1/projects/demo/budgets", JsonReply(200, Echo(sent)));

  Outcome o = RunCli(ctl, {"budget", "set", "demo", "--usd", "7.5", "--tokens", "200000"});
  INFO(o.err);
  CHECK(o.exit_code == 0);
  CHECK(ctl.requests() ==
        std::vector<std::string>{"GET /v1/projects/demo/budgets", "PUT /v1/projects/demo/budgets"});
  REQUIRE(ctl.bodies().size() == 2);
  // The usd budget keeps its thresholds and action; the other budget is kept as it was.
  CHECK(Parse(ctl.bodies()[1]) == json::value(json::object{{"budgets", sent}}));
  CHECK(o.out ==
        "RESOURCE   PERIOD  LIMIT   ALERT AT  ON EXHAUST\n"
        "usd        total   $7.50   50%       stop\n"
        "api_calls  day     1000    75%,90%   pause\n"
        "tokens     total   200000  75%,90%   pause\n");
}

TEST_CASE("cli budget set: a period of its own is a budget of its own", "[cli]") {
  FakeController ctl;
  ctl.On("GET /v1/projects/demo/budgets", JsonReply(200, kCurrentBudgets));
  ctl.On("PUT /v1/projects/demo/budgets", JsonReply(200, R"({"budgets":[]})"));
  Outcome o = RunCli(ctl, {"budget", "set", "demo", "--usd", "0.25", "--api-calls", "50",
                           "--period", "day", "--alert-at", "90,50,90", "--on-exhaust", "pause"});
  INFO(o.err);
  CHECK(o.exit_code == 0);
  REQUIRE(ctl.bodies().size() == 2);
  CHECK(Parse(ctl.bodies()[1]) == Parse(R"({"budgets":[
    {"resource":"usd","limit":"5.00","period":"total","alert_at":[50],"on_exhaust":"stop"},
    {"resource":"api_calls","limit":50,"period":"day","alert_at":[50,90],"on_exhaust":"pause"},
    {"resource":"usd","limit":"0.25","period":"day","alert_at":[50,90],"on_exhaust":"pause"}]})"));
  CHECK(o.out == "no budgets\n");
}

TEST_CASE("cli budget set --json: the controller's answer", "[cli]") {
  FakeController ctl;
  ctl.On("GET /v1/projects/demo/budgets", JsonReply(200, R"({"budgets":[]})"));
  const std::string answer =
      R"({"budgets":[{"resource":"machine_seconds","limit":3600,"period":"week",)"
      R"("alert_at":[75,90],"on_exhaust":"pause"}]})";
  ctl.On("PUT /v1/projects/demo/budgets", JsonReply(200, answer));
  Outcome o = RunCli(
      ctl, {"budget", "set", "--json", "demo", "--machine-seconds", "3600", "--period", "week"});
  CHECK(o.exit_code == 0);
  CHECK(Parse(o.out) == Parse(answer));
  CHECK(Parse(ctl.bodies()[1]) == Parse(R"({"budgets":[
    {"resource":"machine_seconds","limit":3600,"period":"week"}]})"));
}

TEST_CASE("cli budget set: bad limits are usage errors and send nothing", "[cli]") {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"demo"}, "give at least one limit: --usd, --tokens"},
      {{"demo", "--period", "day"}, "give at least one limit"},
      {{"demo", "--usd", "0"}, "--usd: the limit must be more than 0"},
      {{"demo", "--usd", "1.1234567"}, "at most 6 decimals"},
      {{"demo", "--usd", "-5"}, "--usd: expected dollars"},
      {{"demo", "--usd", "five"}, "--usd: expected dollars"},
      {{"demo", "--tokens", "0"}, "--tokens: the limit must be at least 1, got 0"},
      {{"demo", "--task-seconds", "-3"}, "--task-seconds: the limit must be at least 1"},
      {{"demo", "--usd", "5", "--alert-at", "0,90"}, "--alert-at: expected whole percentages"},
      {{"demo", "--usd", "5", "--alert-at", "75,,90"}, "--alert-at: expected whole percentages"},
      {{"demo", "--usd", "5", "--alert-at", "101"}, "--alert-at: expected whole percentages"},
      {{"demo", "--usd", "5", "--period", "year"}, "--period"},
      {{"demo", "--usd", "5", "--on-exhaust", "kill"}, "--on-exhaust"},
      {{"--usd", "5"}, "PROJECT is required"},
  };
  for (const auto& [args, message] : cases) {
    FakeController ctl;
    std::vector<std::string> line = {"budget", "set"};
    line.insert(line.end(), args.begin(), args.end());
    Outcome o = RunCli(ctl, line);
    INFO(Join(line, " ") << "\n" << o.err);
    CHECK(o.exit_code == 2);
    CHECK_THAT(o.err, Catch::Contains(message));
    CHECK(ctl.requests().empty());
  }
}

TEST_CASE("cli budget set: errors of the controller end it before anything is written", "[cli]") {
  FakeController ctl;
  Outcome o = RunCli(ctl, {"budget", "set", "nope", "--usd", "5"});
  CHECK(o.exit_code == 4);
  CHECK(ctl.requests() == std::vector<std::string>{"GET /v1/projects/nope/budgets"});

  ctl.On("GET /v1/projects/demo/budgets", JsonReply(200, kCurrentBudgets));
  ctl.On("PUT /v1/projects/demo/budgets",
         ApiError(400, "bad_request", "limit below what is spent"));
  o = RunCli(ctl, {"budget", "set", "demo", "--usd", "0.01"});
  CHECK(o.exit_code == 1);
  CHECK(o.out.empty());
  CHECK(o.err == "autovibe: 400 bad_request: limit below what is spent\n");

  ctl.On("GET /v1/projects/odd/budgets", JsonReply(200, R"({"limits":[]})"));
  o = RunCli(ctl, {"budget", "set", "odd", "--usd", "1"});
  CHECK(o.exit_code == 1);
  CHECK_THAT(o.err, Catch::Contains("no \"budgets\" list"));
}

TEST_CASE("cli budget show: spent reserved and forecast per budget with totals", "[cli]") {
  FakeController ctl;
  ctl.On("GET /v1/projects/demo/usage", JsonReply(200, kProjectUsage));
  Outcome o = RunCli(ctl, {"budget", "show", "demo"});
  INFO(o.err);
  CHECK(o.exit_code == 0);
  CHECK(o.out == kProjectUsageTable);

  o = RunCli(ctl, {"budget", "show", "demo", "--json"});
  CHECK(Parse(o.out) == Parse(kProjectUsage));
}

TEST_CASE("cli budget show: a project without budgets still shows its totals", "[cli]") {
  FakeController ctl;
  ctl.On("GET /v1/projects/a%20b/usage",
         JsonReply(200, R"({"project":"a b","budgets":[],"totals":{"usd":"0.000123",
           "tokens":5,"api_calls":1,"task_seconds":59,"machine_seconds":61}})"));
  Outcome o = RunCli(ctl, {"budget", "show", "a b"});
  CHECK(o.exit_code == 0);
  CHECK(o.out ==
        "no budgets\n"
        "totals: $0.000123, 5 tokens, 1 API calls, 59s task time, 1m1s machine time\n");
}

TEST_CASE("cli budget: amounts as people read them", "[cli]") {
  const json::value usd = "0.42", negative = "-1.5", number = 2.5, seconds = 3720, tokens = 1200;
  CHECK(FormatAmount("usd", &usd) == "$0.42");
  CHECK(FormatAmount("usd", &negative) == "-$1.50");
  CHECK(FormatAmount("usd", &number) == "$2.50");
  CHECK(FormatAmount("task_seconds", &seconds) == "1h2m");
  CHECK(FormatAmount("tokens", &tokens) == "1200");
  CHECK(FormatAmount("tokens", nullptr) == "-");
}

TEST_CASE("cli usage: one total row when not grouped", "[cli]") {
  FakeController ctl;
  ctl.On("GET /v1/usage", JsonReply(200, R"({"group_by":"none","rows":[{"key":"total","calls":3,
    "input_tokens":10,"output_tokens":20,"cache_write_tokens":0,"cache_read_tokens":0,
    "tokens":30,"usd":"0.01","task_seconds":90,"machine_seconds":3600}]})"));
  Outcome o = RunCli(ctl, {"usage"});
  INFO(o.err);
  CHECK(o.exit_code == 0);
  CHECK(o.out ==
        "USAGE  CALLS  INPUT  OUTPUT  CACHE WRITE  CACHE READ  TOKENS  USD    TASK TIME  "
        "MACHINE TIME\n"
        "total  3      10     20      0            0           30      $0.01  1m30s      "
        "1h0m\n");
}

TEST_CASE("cli usage --by: grouped rows and their total", "[cli]") {
  FakeController ctl;
  const std::string path =
      "GET /v1/usage?group_by=model&project=demo&since=2026-11-21T01%3A39%3A42.123Z";
  ctl.On(path, JsonReply(200, kModelUsage));
  Outcome o = RunCli(ctl, {"usage", "--by", "model", "--project", "demo", "--since", "24h"});
  INFO(o.err);
  CHECK(o.exit_code == 0);
  CHECK(ctl.requests() == std::vector<std::string>{path});
  CHECK(o.out ==
        "MODEL              CALLS  INPUT  OUTPUT  CACHE WRITE  CACHE READ  TOKENS  USD     "
        "TASK TIME  MACHINE TIME\n"
        "claude-sonnet-4-5  30     1000   500     2000         40000       43500   $0.321  "
        "0s         0s\n"
        "gpt-4.1            12     800    200     0            0           1000    $0.099  "
        "59s        0s\n"
        "total              42     1800   700     2000         40000       44500   $0.42   "
        "59s        0s\n");

  o = RunCli(ctl, {"--json", "usage", "--by", "model", "--project", "demo", "--since", "24h"});
  CHECK(Parse(o.out) == Parse(kModelUsage));
}

TEST_CASE("cli usage --since: a time is sent as given and anything else refused", "[cli]") {
  FakeController ctl;
  ctl.On("GET /v1/usage?group_by=day&since=2026-11-01T00%3A00%3A00Z",
         JsonReply(200, R"({"group_by":"day","rows":[]})"));
  Outcome o = RunCli(ctl, {"usage", "--by", "day", "--since", "2026-11-01T00:00:00Z"});
  CHECK(o.exit_code == 0);
  CHECK(o.out == "no usage\n");

  for (const std::string bad : {"yesterday", "24", "0s"}) {
    o = RunCli(ctl, {"usage", "--since", bad});
    CHECK(o.exit_code == 2);
    CHECK_THAT(o.err, Catch::Contains("--since: expected a time"));
  }
  o = RunCli(ctl, {"usage", "--by", "week"});
  CHECK(o.exit_code == 2);
  CHECK(ctl.requests().size() == 1);
}

TEST_CASE("cli usage --project: the project's budgets follow its usage", "[cli]") {
  FakeController ctl;
  ctl.On("GET /v1/usage?project=demo", JsonReply(200, R"({"rows":[]})"));
  ctl.On("GET /v1/projects/demo/usage", JsonReply(200, kProjectUsage));
  Outcome o = RunCli(ctl, {"usage", "--project", "demo"});
  CHECK(o.exit_code == 0);
  CHECK(o.out == "no usage\n\n" + kProjectUsageTable);

  // With --json only the usage answer, so the output stays one JSON document.
  o = RunCli(ctl, {"usage", "--project", "demo", "--json"});
  CHECK(Parse(o.out) == Parse(R"({"rows":[]})"));
}

TEST_CASE("cli project stop: posts the stop and says what it did", "[cli]") {
  FakeController ctl;
  const std::string answer = R"({"name":"demo","stopped":true,"paused_tasks":3,"held_tasks":1})";
  ctl.On("POST /v1/projects/demo/stop", JsonReply(200, answer));
  Outcome o = RunCli(ctl, {"project", "stop", "demo"});
  CHECK(o.exit_code == 0);
  CHECK(o.out == "stopped project demo: 3 running tasks paused, 1 queued task held\n");
  CHECK(ctl.requests() == std::vector<std::string>{"POST /v1/projects/demo/stop"});

  o = RunCli(ctl, {"project", "stop", "demo", "--json"});
  CHECK(Parse(o.out) == Parse(answer));
}

TEST_CASE("cli project resume: posts the resume and says what it did", "[cli]") {
  FakeController ctl;
  ctl.On("POST /v1/projects/demo/resume",
         JsonReply(200, R"({"name":"demo","stopped":false,"resumed_tasks":4})"));
  Outcome o = RunCli(ctl, {"project", "resume", "demo"});
  CHECK(o.exit_code == 0);
  CHECK(o.out == "resumed project demo: 4 tasks resumed\n");

  // Counts the controller does not give are left out.
  ctl.On("POST /v1/projects/x%2Fy/resume", JsonReply(200, R"({"name":"x/y","stopped":false})"));
  o = RunCli(ctl, {"project", "resume", "x/y"});
  CHECK(o.out == "resumed project x/y\n");

  ctl.On("POST /v1/projects/demo/stop", ApiError(409, "conflict", "project demo is stopped"));
  o = RunCli(ctl, {"project", "stop", "demo"});
  CHECK(o.exit_code == 1);
  CHECK(o.err == "autovibe: 409 conflict: project demo is stopped\n");
  o = RunCli(ctl, {"project", "stop", "ghost"});
  CHECK(o.exit_code == 4);
}

TEST_CASE("cli budget: merging keeps unknown fields and replaces by resource and period", "[cli]") {
  const json::array current = Parse(R"([
    {"resource":"usd","limit":"5.00","period":"day","hard":true},
    {"resource":"usd","limit":"9.00"}])")
                                  .as_array();
  const json::array changes = Parse(R"([{"resource":"usd","limit":"6.00","period":"day"},
                {"resource":"usd","limit":"1.00","period":"total","on_exhaust":"stop"}])")
                                  .as_array();
  CHECK(json::value(MergeBudgets(current, changes)) == Parse(R"([
    {"resource":"usd","limit":"6.00","period":"day","hard":true},
    {"resource":"usd","limit":"1.00","period":"total","on_exhaust":"stop"}])"));
}

}  // namespace
}  // namespace autovibe::cli
