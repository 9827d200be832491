// What a finished call is charged, for each way it can end.
#include <catch2/catch.hpp>

#include "tests/support/catch_result.h"
#include "tests/unit/meter_test_prices.h"
#include "worker-agent/meter/settle.h"

namespace autovibe::meter {
namespace {

const PriceTable& Prices() { return TestPrices(); }

CallPlan Plan(Api api, std::string body) {
  auto plan = PlanCall(api, std::move(body), Prices());
  REQUIRE(plan);
  return *std::move(plan);
}

TEST_CASE("settle: what each way a call ends is charged", "[meter]") {
  CallPlan plan = Plan(Api::kMessages, R"({"model":"claude-sonnet-4-5","max_tokens":100})");
  SeenUsage usage{.tokens = {.input = 1000, .output = 50, .cache_write = 0, .cache_read = 2000},
                  .model = "claude-sonnet-4-5-20250929",
                  .has_usage = true,
                  .final = true};
  int64_t usage_cost = 3000 + 750 + 600;  // 1000 x $3, 50 x $15, 2000 x $0.30 per million

  auto ok =
      MakeUsageRecord(plan, {.http_status = 200, .complete = true, .usage = usage}, Prices(), 1234);
  CHECK(ok.kind() == "llm");
  CHECK(ok.provider() == "anthropic");
  CHECK(ok.route() == "/v1/messages");
  CHECK(ok.model() == "claude-sonnet-4-5-20250929");
  CHECK(ok.status() == "ok");
  CHECK(ok.http_status() == 200);
  CHECK(ok.latency_us() == 1234);
  CHECK(ok.input_tokens() == 1000);
  CHECK(ok.output_tokens() == 50);
  CHECK(ok.cache_read_tokens() == 2000);
  CHECK(ok.cost_micros() == usage_cost);
  CHECK_FALSE(ok.estimated());

  auto no_usage = MakeUsageRecord(plan, {.http_status = 200, .complete = true}, Prices(), 1);
  CHECK(no_usage.status() == "no_usage");
  CHECK(no_usage.model() == "claude-sonnet-4-5");
  CHECK(no_usage.cost_micros() == plan.worst.usd_micros);
  CHECK(no_usage.input_tokens() == plan.request.input_bound);
  CHECK(no_usage.output_tokens() == 100);
  CHECK(no_usage.estimated());

  auto unreachable = MakeUsageRecord(plan, {.error = "refused"}, Prices(), 1);
  CHECK(unreachable.status() == "unreachable");
  CHECK(unreachable.cost_micros() == 0);
  CHECK(unreachable.input_tokens() + unreachable.output_tokens() == 0);
  CHECK(unreachable.http_status() == 0);

  // The upstream took the request and gave no answer: the provider may have billed it.
  auto no_answer =
      MakeUsageRecord(plan, {.error = "no answer: timeout", .request_sent = true}, Prices(), 1);
  CHECK(no_answer.status() == "no_answer");
  CHECK(no_answer.http_status() == 0);
  CHECK(no_answer.cost_micros() == plan.worst.usd_micros);
  CHECK(no_answer.output_tokens() == 100);
  CHECK(no_answer.estimated());

  auto gone =
      MakeUsageRecord(plan, {.http_status = 200, .client_gone = true, .usage = usage}, Prices(), 1);
  CHECK(gone.status() == "client_gone");
  CHECK(gone.cost_micros() == usage_cost);
  auto gone_early = MakeUsageRecord(plan, {.client_gone = true}, Prices(), 1);
  CHECK(gone_early.status() == "client_gone");
  CHECK(gone_early.cost_micros() == plan.worst.usd_micros);
  CHECK(gone_early.estimated());

  auto error = MakeUsageRecord(plan, {.http_status = 529, .complete = true}, Prices(), 1);
  CHECK(error.status() == "upstream_error");
  CHECK(error.http_status() == 529);
  CHECK(error.cost_micros() == 0);
  auto broke_off = MakeUsageRecord(plan, {.http_status = 200, .usage = usage}, Prices(), 1);
  CHECK(broke_off.status() == "upstream_error");
  CHECK(broke_off.cost_micros() == usage_cost);

  // A stream's opening figures (message_start's one output token) are not what it cost: a
  // call that ends with them alone is charged its reservation, marked estimated.
  SeenUsage opening = usage;
  opening.tokens.output = 1;
  opening.final = false;
  for (Forwarded how : {Forwarded{.http_status = 200, .client_gone = true, .usage = opening},
                        Forwarded{.http_status = 200, .usage = opening},
                        Forwarded{.http_status = 200, .complete = true, .usage = opening}}) {
    auto r = MakeUsageRecord(plan, how, Prices(), 1);
    CHECK(r.cost_micros() == plan.worst.usd_micros);
    CHECK(r.output_tokens() == 100);
    CHECK(r.estimated());
  }
  // A tool gone before an error answer's head: the error costs nothing.
  CHECK(
      MakeUsageRecord(plan, {.http_status = 529, .client_gone = true}, Prices(), 1).cost_micros() ==
      0);
}

TEST_CASE("settle: premiums are charged as the answer reports them", "[meter]") {
  static const PriceTable prices = *PriceTable::Parse(R"(
[models."m"]
input = 3
output = 15
cache_write = 3.75
cache_write_1h = 6
cache_read = 0.3
web_search_per_1000 = 10
max_output_tokens = 1000
[models."m".long_context]
above_input_tokens = 1000
input = 6
output = 22.5
cache_write = 7.5
cache_write_1h = 12
cache_read = 0.6
[models."m".priority]
input = 4
output = 20
)");
  auto plan = PlanCall(Api::kMessages, R"({"model":"m","max_tokens":100})", prices);
  REQUIRE(plan);
  SeenUsage u{.tokens = {.input = 100,
                         .output = 10,
                         .cache_write = 300,
                         .cache_read = 0,
                         .cache_write_1h = 200,
                         .web_search_requests = 2},
              .has_usage = true,
              .final = true};
  auto r = MakeUsageRecord(*plan, {.http_status = 200, .complete = true, .usage = u}, prices, 1);
  // 100 x 3 + 10 x 15 + 100 x 3.75 + 200 x 6 + 2 searches x $0.01
  CHECK(r.cost_micros() == 300 + 150 + 375 + 1200 + 20'000);
  CHECK(r.cache_write_tokens() == 300);
  CHECK(r.cache_write_1h_tokens() == 200);
  CHECK(r.web_search_requests() == 2);
  CHECK_FALSE(r.long_context());

  u.tokens.input = 800;  // a prompt of 800 + 300 = 1100 tokens: long-context rates, all of it
  auto lc = MakeUsageRecord(*plan, {.http_status = 200, .complete = true, .usage = u}, prices, 1);
  CHECK(lc.long_context());
  CHECK(lc.cost_micros() == 4800 + 225 + 750 + 2400 + 20'000);

  u.tokens = {.input = 100, .output = 10};
  u.service_tier = "priority";
  auto pri = MakeUsageRecord(*plan, {.http_status = 200, .complete = true, .usage = u}, prices, 1);
  CHECK(pri.service_tier() == "priority");
  CHECK(pri.cost_micros() == 400 + 200);
}

}  // namespace
}  // namespace autovibe::meter
