#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "common/core/time.h"
#include "controller/budgets/alerts.h"
#include "controller/budgets/lease.h"
#include "controller/budgets/periods.h"
#include "controller/config.h"
#include "controller/notify/payload.h"
#include "tests/unit/budget_test_fixture.h"

using namespace autovibe;
using namespace autovibe::testing;

namespace {

int64_t At(const char* rfc3339) {
  auto ms = ParseRfc3339Ms(rfc3339, DateAlone::kMidnightUtc);
  REQUIRE(ms);
  return *ms;
}

}  // namespace

TEST_CASE("budget periods follow the UTC calendar and weeks start on Monday", "[budget]") {
  const int64_t wed = At("2026-12-02T17:45:12.345Z");
  CHECK(PeriodStartMs(BudgetPeriod::kTotal, wed) == 0);
  CHECK(PeriodEndMs(BudgetPeriod::kTotal, 0) == kForever);
  CHECK(PeriodStartMs(BudgetPeriod::kDay, wed) == At("2026-12-02T00:00:00Z"));
  CHECK(PeriodEndMs(BudgetPeriod::kDay, At("2026-12-02T00:00:00Z")) == At("2026-12-03"));
  CHECK(PeriodStartMs(BudgetPeriod::kWeek, wed) == At("2026-11-30T00:00:00Z"));
  CHECK(PeriodStartMs(BudgetPeriod::kWeek, At("2026-12-06T23:59:59.999Z")) == At("2026-11-30"));
  CHECK(PeriodStartMs(BudgetPeriod::kWeek, At("2026-12-07T00:00:00Z")) == At("2026-12-07"));
  CHECK(PeriodEndMs(BudgetPeriod::kWeek, At("2026-11-30")) == At("2026-12-07"));
  CHECK(PeriodStartMs(BudgetPeriod::kMonth, wed) == At("2026-12-01"));
  CHECK(PeriodEndMs(BudgetPeriod::kMonth, At("2026-12-01")) == At("2027-01-01"));
  CHECK(PeriodEndMs(BudgetPeriod::kMonth, At("2028-02-01")) == At("2028-03-01"));
  CHECK(UtcDate(wed) == "2026-12-02");
}

TEST_CASE("RFC 3339 times parse with offsets and fractions", "[budget]") {
  CHECK(ParseRfc3339Ms("2026-11-30T12:00:00Z") == kMonday1200);
  CHECK(ParseRfc3339Ms("2026-11-30T13:30:00+01:30") == kMonday1200);
  CHECK(ParseRfc3339Ms("2026-11-30T12:00:00.250Z") == kMonday1200 + 250);
  CHECK(ParseRfc3339Ms("2026-11-30", DateAlone::kMidnightUtc) == kMonday1200 - 12 * 3'600'000);
  CHECK_FALSE(ParseRfc3339Ms("2026-11-30"));
  for (const char* bad :
       {"", "yesterday", "2026-11-31", "2026-11-30T25:00:00Z", "2026-11-30T12:00:00",
        "2026-11-30T12:00:00Zjunk", "2026-11-30T12:00Z", "2026-11-30T12:00:00.Z"}) {
    INFO(bad);
    CHECK_FALSE(ParseRfc3339Ms(bad));
  }
}

TEST_CASE("usage records count toward every resource", "[budget]") {
  UsageReport r = BudgetFixture::Llm("l", "t", 1234);
  r.cache_write_tokens = 5;
  r.cache_read_tokens = 7;
  Amounts a = UsageAmounts(r);
  CHECK(a.usd_micros == 1234);
  CHECK(a.tokens == 132);
  CHECK(a.api_calls == 1);
  r.status = "unreachable";
  CHECK(UsageAmounts(r).api_calls == 0);
  r.status = "upstream_error";
  CHECK(UsageAmounts(r).api_calls == 1);
  UsageReport time;
  time.kind = "time";
  time.task_ms = 10;
  time.machine_ms = -5;
  CHECK(UsageAmounts(time) == Amounts{0, 0, 0, 10, 0});
}

TEST_CASE("amounts read well in messages and alerts", "[budget]") {
  CHECK(HumanAmount(BudgetResource::kUsd, 750'000) == "$0.75");
  CHECK(HumanAmount(BudgetResource::kTokens, 1200) == "1200 tokens");
  CHECK(HumanAmount(BudgetResource::kTaskSeconds, 12'500) == "12.5 task seconds");
  CHECK(PlainAmount(BudgetResource::kMachineSeconds, 60'000) == "60");
  CHECK(PlainAmount(BudgetResource::kMachineSeconds, 1) == "0.001");
  BudgetAlert a{"demo",    BudgetResource::kUsd, BudgetPeriod::kTotal, 0, 75, 750'000,
                1'000'000, kMonday1200};
  auto j =
      boost::json::parse(DeliveryBody(WebhookFormat::kJson, BudgetAlertNotification(a), "dl-1"));
  CHECK(j == boost::json::parse(R"({"id": "dl-1", "kind": "budget_alert", "project": "demo",
    "object": {"type": "budget", "id": "demo/usd/total"}, "time": "2026-11-30T12:00:00.000Z",
    "text": "autovibe: project demo used 75% of its usd budget (total): $0.75 of $1.00",
    "details": {"resource": "usd", "period": "total", "threshold": 75,
                "spent": "0.75", "limit": "1.00"}})"));
  a.threshold = 100;
  a.spent = 1'000'000;
  CHECK(AlertText(a) == "autovibe: project demo exhausted its usd budget (total): $1.00 of $1.00");
}

TEST_CASE("controller budget settings are read and checked", "[budget]") {
  ControllerConfig c;
  CHECK(c.lease_ttl == std::chrono::seconds(30));
  CHECK(c.alert_webhook.empty());
  REQUIRE(LoadControllerConfigToml("lease_ttl = \"10s\"\nalert_webhook = \"http://hooks:9/x\"", c));
  CHECK(c.lease_ttl == std::chrono::seconds(10));
  CHECK(c.alert_webhook == "http://hooks:9/x");
  CHECK(ValidateControllerConfig(c));
  c.alert_webhook = "https://hooks.slack.com/services/T/B/X";
  CHECK(ValidateControllerConfig(c));
  for (const char* bad : {"ftp://x/y", "not a url", "http://"}) {
    INFO(bad);
    c.alert_webhook = bad;
    CHECK_FALSE(ValidateControllerConfig(c));
  }
  c.alert_webhook.clear();
  c.lease_ttl = std::chrono::milliseconds(500);
  CHECK_FALSE(ValidateControllerConfig(c));
  CHECK_FALSE(LoadControllerConfigToml("lease_ttl = 30", c));
}
