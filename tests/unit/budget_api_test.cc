#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "controller/api/api.h"
#include "controller/api/budgets_api.h"
#include "controller/fleet/fleet.h"
#include "tests/unit/budget_test_fixture.h"

using namespace autovibe;
using namespace autovibe::testing;
namespace json = boost::json;

namespace {

constexpr const char* kToken = "secret-token-0123456789";

struct ApiFixture : BudgetFixture {
  Fleet fleet{*store, clock, FleetOptions{}};
  int commits = 0;
  BudgetsApi budgets{BudgetsApiDeps{book.get(),
                                    [](std::string_view p) { return p == "demo" || p == "other"; },
                                    [this] {
                                      ++commits;
                                      return Result<void>();
                                    }}};
  Api api{ApiDeps{&fleet, nullptr, nullptr, kToken, nullptr, nullptr, &budgets}};

  ApiFixture() { AddProject("other"); }

  HttpResponse Call(const std::string& method, const std::string& path,
                    const std::string& body = "", std::map<std::string, std::string> query = {}) {
    HttpRequest r;
    r.method = method;
    r.target = path;
    r.path = path;
    r.query = std::move(query);
    r.authorization = std::string("Bearer ") + kToken;
    r.body = body;
    return api.Handle(r);
  }
  json::value GetJson(const std::string& path, std::map<std::string, std::string> query = {}) {
    auto r = Call("GET", path, "", std::move(query));
    INFO(r.body);
    REQUIRE(r.status == 200);
    return json::parse(r.body);
  }
};

std::string ErrorCodeOf(const HttpResponse& r) {
  return std::string(json::parse(r.body).at("error").at("code").as_string());
}

}  // namespace

TEST_CASE("PUT budgets replaces the set and answers it", "[budget]") {
  ApiFixture f;
  auto r = f.Call("PUT", "/v1/projects/demo/budgets", R"({"budgets":[
      {"resource":"usd","limit":"5.00","period":"total","alert_at":[75,90],"on_exhaust":"pause"},
      {"resource":"usd","limit":2.5,"period":"day"},
      {"resource":"tokens","limit":1000000,"on_exhaust":"stop"},
      {"resource":"task_seconds","limit":3600,"period":"week","alert_at":[50]}]})");
  INFO(r.body);
  REQUIRE(r.status == 200);
  CHECK(f.commits == 1);
  auto body = json::parse(r.body);
  CHECK(body.at("project") == "demo");
  auto& list = body.at("budgets").as_array();
  REQUIRE(list.size() == 4);
  CHECK(list[0] == json::parse(R"({"resource":"usd","limit":"5.00","period":"total",
                                   "alert_at":[75,90],"on_exhaust":"pause"})"));
  CHECK(list[1].at("limit") == "2.50");
  CHECK(list[1].at("period") == "day");
  CHECK(list[2].at("resource") == "tokens");
  CHECK(list[2].at("limit") == 1000000);
  CHECK(list[2].at("on_exhaust") == "stop");
  CHECK(list[3].at("limit") == 3600);
  CHECK(f.book->Budgets("demo")[3].limit == 3'600'000);  // kept in milliseconds
  CHECK(f.GetJson("/v1/projects/demo/budgets") == body);
  // An empty list removes every budget.
  REQUIRE(f.Call("PUT", "/v1/projects/demo/budgets", R"({"budgets":[]})").status == 200);
  CHECK(f.book->Budgets("demo").empty());
}

TEST_CASE("PUT budgets with bad input answers 400 and changes nothing", "[budget]") {
  ApiFixture f;
  REQUIRE(f.Call("PUT", "/v1/projects/demo/budgets",
                 R"({"budgets":[{"resource":"usd","limit":"1.00"}]})")
              .status == 200);
  const auto before = f.book->Budgets("demo");
  for (const char* body : {
           "not json",
           "[]",
           "{}",
           R"({"budgets":{}})",
           R"({"budgets":[{"resource":"usd","limit":"1.00"}],"extra":1})",
           R"({"budgets":[{"resource":"gold","limit":"1.00"}]})",
           R"({"budgets":[{"limit":"1.00"}]})",
           R"({"budgets":[{"resource":"usd"}]})",
           R"({"budgets":[{"resource":"usd","limit":"-1"}]})",
           R"({"budgets":[{"resource":"usd","limit":-1}]})",
           R"({"budgets":[{"resource":"usd","limit":"1.0000001"}]})",
           R"({"budgets":[{"resource":"usd","limit":"lots"}]})",
           R"({"budgets":[{"resource":"usd","limit":true}]})",
           R"({"budgets":[{"resource":"tokens","limit":1.5}]})",
           R"({"budgets":[{"resource":"tokens","limit":"100"}]})",
           R"({"budgets":[{"resource":"task_seconds","limit":-5}]})",
           R"({"budgets":[{"resource":"usd","limit":"1","period":"year"}]})",
           R"({"budgets":[{"resource":"usd","limit":"1","alert_at":[0]}]})",
           R"({"budgets":[{"resource":"usd","limit":"1","alert_at":[101]}]})",
           R"({"budgets":[{"resource":"usd","limit":"1","alert_at":"75"}]})",
           R"({"budgets":[{"resource":"usd","limit":"1","on_exhaust":"explode"}]})",
           R"({"budgets":[{"resource":"usd","limit":"1","limt":"2"}]})",
           R"({"budgets":[{"resource":"usd","limit":"1"},{"resource":"usd","limit":"2"}]})",
           R"({"budgets":[{"resource":"usd","limit":"2"},7]})",
       }) {
    INFO(body);
    auto r = f.Call("PUT", "/v1/projects/demo/budgets", body);
    CHECK(r.status == 400);
    CHECK(ErrorCodeOf(r) == "bad_request");
    CHECK(f.book->Budgets("demo") == before);
  }
  CHECK(f.commits == 1);
  auto missing = f.Call("PUT", "/v1/projects/nope/budgets", R"({"budgets":[]})");
  CHECK(missing.status == 404);
  CHECK(ErrorCodeOf(missing) == "not_found");
  CHECK(f.Call("GET", "/v1/projects/nope/usage").status == 404);
  CHECK(f.Call("POST", "/v1/projects/demo/budgets", "{}").status == 405);
  CHECK(f.Call("DELETE", "/v1/projects/demo/usage").status == 405);
}

TEST_CASE("GET usage has the documented shape", "[budget]") {
  ApiFixture f;
  REQUIRE(f.Call("PUT", "/v1/projects/demo/budgets", R"({"budgets":[
      {"resource":"usd","limit":"1.00"},
      {"resource":"task_seconds","limit":60,"period":"day"}]})")
              .status == 200);
  auto idle = f.GetJson("/v1/projects/demo/usage");
  CHECK(idle.at("budgets").at(0).at("forecast_exhausted_at").is_null());
  CHECK(idle.at("budgets").at(0).at("period_start").is_null());  // total

  f.Place("t1", "m1", "demo");
  REQUIRE(f.Ask("m1", "l1", "t1", Usd(0.50), Usd(0.50)).ok);
  f.Spend("m1", "l1", "t1", Usd(0.42));
  UsageReport time;
  time.task_id = "t1";
  time.attempt = 1;
  time.lease_id = "l1";
  time.kind = "time";
  time.task_ms = 1500;
  time.machine_ms = 2250;
  REQUIRE(f.book->ApplyUsage("m1", f.clock.now, time, "time-1"));

  auto u = f.GetJson("/v1/projects/demo/usage");
  CHECK(u.at("project") == "demo");
  auto usd = u.at("budgets").at(0).as_object();
  for (const char* key : {"resource", "period", "period_start", "limit", "spent", "reserved",
                          "remaining", "percent_used", "burn_rate_per_hour",
                          "forecast_exhausted_at", "exhausted", "on_exhaust", "alert_at"}) {
    INFO(key);
    CHECK(usd.contains(key));
  }
  CHECK(usd.at("resource") == "usd");
  CHECK(usd.at("limit") == "1.00");
  CHECK(usd.at("spent") == "0.42");
  CHECK(usd.at("reserved") == "0.08");
  CHECK(usd.at("remaining") == "0.50");
  CHECK(usd.at("percent_used").to_number<double>() == Approx(42.0));
  CHECK(usd.at("burn_rate_per_hour").is_string());
  CHECK(usd.at("forecast_exhausted_at").is_string());
  CHECK(usd.at("exhausted") == false);
  CHECK(usd.at("on_exhaust") == "pause");
  auto secs = u.at("budgets").at(1).as_object();
  CHECK(secs.at("period_start") == "2026-11-30T00:00:00.000Z");
  CHECK(secs.at("limit") == 60);
  CHECK(secs.at("spent").to_number<double>() == Approx(1.5));
  auto totals = u.at("totals").as_object();
  CHECK(totals.at("usd") == "0.42");
  CHECK(totals.at("tokens") == 120);
  CHECK(totals.at("api_calls") == 1);
  CHECK(totals.at("task_seconds").to_number<double>() == Approx(1.5));
  CHECK(totals.at("machine_seconds").to_number<double>() == Approx(2.25));
}

TEST_CASE("GET /v1/usage groups and filters the ledger", "[budget]") {
  ApiFixture f;
  f.Place("t1", "m1", "demo");
  f.Place("t9", "m9", "other");
  f.Spend("m1", "l1", "t1", Usd(0.10), "opus");
  f.Spend("m1", "l1", "t1", Usd(0.30), "haiku");
  f.Spend("m9", "l9", "t9", Usd(1), "opus");
  auto all = f.GetJson("/v1/usage", {{"group_by", "model"}});
  CHECK(all.at("group_by") == "model");
  auto& rows = all.at("rows").as_array();
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].at("key") == "opus");  // most expensive first
  CHECK(rows[0].at("usd") == "1.10");
  CHECK(rows[0].at("calls") == 2);
  for (const char* key :
       {"key", "calls", "input_tokens", "output_tokens", "cache_write_tokens", "cache_read_tokens",
        "tokens", "usd", "task_seconds", "machine_seconds"}) {
    INFO(key);
    CHECK(rows[0].as_object().contains(key));
  }
  auto demo = f.GetJson("/v1/usage", {{"group_by", "model"}, {"project", "demo"}});
  CHECK(demo.at("rows").at(0).at("key") == "haiku");
  auto by_day = f.GetJson("/v1/usage", {{"group_by", "day"}, {"since", "2026-11-30T00:00:00Z"}});
  CHECK(by_day.at("rows").at(0).at("key") == "2026-11-30");
  auto later = f.GetJson("/v1/usage", {{"since", "2026-12-01T00:00:00+01:00"}});
  CHECK(later.at("group_by") == "none");
  CHECK(later.at("rows").as_array().empty());
  CHECK(f.Call("GET", "/v1/usage", "", {{"group_by", "colour"}}).status == 400);
  CHECK(f.Call("GET", "/v1/usage", "", {{"since", "yesterday"}}).status == 400);
  CHECK(f.Call("GET", "/v1/usage", "", {{"project", "nope"}}).status == 404);
  CHECK(f.Call("POST", "/v1/usage").status == 405);
}

TEST_CASE("GET /v1/alerts lists recorded alerts", "[budget]") {
  ApiFixture f;
  REQUIRE(f.SetUsd(Usd(1.00)));
  f.Place("t1", "m1", "demo");
  REQUIRE(f.Ask("m1", "l1", "t1", Usd(1.00), Usd(1.00)).ok);
  f.Spend("m1", "l1", "t1", Usd(0.80));
  auto alerts = f.GetJson("/v1/alerts", {{"project", "demo"}});
  auto& list = alerts.at("alerts").as_array();
  REQUIRE(list.size() == 1);
  CHECK(list[0].at("threshold") == 75);
  CHECK(list[0].at("spent") == "0.80");
  CHECK(list[0].at("limit") == "1.00");
  CHECK(list[0].at("resource") == "usd");
  CHECK(list[0].at("at") == "2026-11-30T12:00:00.000Z");
  CHECK(f.GetJson("/v1/alerts", {{"project", "other"}}).at("alerts").as_array().empty());
  CHECK(f.GetJson("/v1/alerts").at("alerts").as_array().size() == 1);
  CHECK(f.Call("GET", "/v1/alerts", "", {{"project", "nope"}}).status == 404);
}
