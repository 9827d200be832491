// What a finished call is charged, for each way it can end.
#include <catch2/catch.hpp>

#include "tests/support/catch_result.h"
#include "worker-agent/meter/settle.h"

namespace autovibe::meter {
namespace {

const PriceTable& Prices() {
  static const PriceTable table = *PriceTable::Parse(R"(
[models."claude-sonnet-4-5"]
input = 3.00
output = 15.00
cache_write = 3.75
cache_read = 0.30
max_output_tokens = 64000
)");
  return table;
}

CallPlan Plan(Api api, std::string body) {
  auto plan = PlanCall(api, std::move(body), Prices());
  REQUIRE(plan);
  return *std::move(plan);
}

TEST_CASE("settle: what each way a call ends is charged", "[meter]") {
  CallPlan plan = Plan(Api::kMessages, R"({"model":"claude-sonnet-4-5","max_tokens":100})");
  SeenUsage usage{.tokens = {.input = 1000, .output = 50, .cache_write = 0, .cache_read = 2000},
                  .model = "claude-sonnet-4-5-20250929",
                  .has_usage = true};
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
  CHECK(no_usage.input_tokens() == plan.input_bound);
  CHECK(no_usage.output_tokens() == 100);
  CHECK(no_usage.estimated());

  auto unreachable = MakeUsageRecord(plan, {.error = "refused"}, Prices(), 1);
  CHECK(unreachable.status() == "unreachable");
  CHECK(unreachable.cost_micros() == 0);
  CHECK(unreachable.input_tokens() + unreachable.output_tokens() == 0);
  CHECK(unreachable.http_status() == 0);

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
}

}  // namespace
}  // namespace autovibe::meter
