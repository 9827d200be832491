// The worst case the proxy reserves before forwarding a call must be an upper bound on what the
// provider can bill it, premiums included: for each premium, the dearest answer the request
// allows is settled and checked against the reservation.
#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include "tests/support/catch_result.h"
#include "worker-agent/meter/request.h"
#include "worker-agent/meter/settle.h"

namespace autovibe::meter {
namespace {

const PriceTable& Prices() {
  static const PriceTable table = *PriceTable::Parse(R"(
[models."claude"]
input = 3
output = 15
cache_write = 3.75
cache_write_1h = 6
cache_read = 0.3
web_search_per_1000 = 10
max_output_tokens = 64000
[models."claude".long_context]
above_input_tokens = 2000
input = 6
output = 22.5
cache_write = 7.5
cache_write_1h = 12
cache_read = 0.6
[models."claude".priority]
input = 4
output = 20
cache_write_1h = 8
[models."gpt"]
input = 1.25
output = 10
cache_read = 0.125
max_output_tokens = 128000
[models."gpt".priority]
input = 2.5
output = 20
cache_read = 0.25
[models."gpt".flex]
input = 0.625
output = 5
cache_read = 0.0625
[models."gpt-nolimit"]
input = 1
output = 2
)");
  return table;
}

CallPlan Plan(Api api, std::string body, PricingRules rules = {}) {
  auto plan = PlanCall(api, std::move(body), Prices(), rules);
  REQUIRE(plan);
  return *std::move(plan);
}

Error Refused(Api api, std::string body) {
  auto plan = PlanCall(api, std::move(body), Prices());
  REQUIRE_FALSE(plan);
  return plan.error();
}

// What the provider bills an answer that reports `usage`, through the proxy's settlement.
v1::UsageRecord Settled(const CallPlan& plan, SeenUsage usage) {
  usage.has_usage = usage.final = true;
  return MakeUsageRecord(plan, {.http_status = 200, .complete = true, .usage = usage}, Prices(), 1);
}

// Checks that the answer costs no more than was reserved, and no more tokens.
void CheckBounded(const CallPlan& plan, const SeenUsage& usage) {
  v1::UsageRecord r = Settled(plan, usage);
  INFO("actual " << r.cost_micros() << " reserved " << plan.worst.usd_micros);
  CHECK(r.cost_micros() > 0);
  CHECK(r.cost_micros() <= plan.worst.usd_micros);
  CHECK(r.input_tokens() + r.output_tokens() + r.cache_write_tokens() + r.cache_read_tokens() <=
        plan.worst.tokens);
}

int64_t Bytes(const CallPlan& plan) { return plan.request.input_bound; }

const std::string kMessages =
    R"({"model":"claude","max_tokens":100,"messages":[{"role":"user","content":"hi there"}])";

TEST_CASE("worst case: a prompt written to the 1-hour cache", "[meter]") {
  CallPlan plan = Plan(Api::kMessages, kMessages + "}");
  // Every prompt token (at most one a byte) a 1-hour cache write, the dearest way to read it.
  CheckBounded(
      plan, {.tokens = {.output = 100, .cache_write = Bytes(plan), .cache_write_1h = Bytes(plan)}});
  CheckBounded(plan, {.tokens = {.input = Bytes(plan), .output = 100}});
}

TEST_CASE("worst case: web searches and what their results add", "[meter]") {
  std::string tools =
      R"(,"tools":[{"type":"web_search_20250305","name":"web_search","max_uses":3}]})";
  CallPlan plan = Plan(Api::kMessages, kMessages + tools);
  CHECK(plan.request.web_searches == 3);
  CHECK(plan.request.server_tools);
  CHECK(plan.worst_tokens.web_search_requests == 3);
  // The dearest answer: every search made, and every iteration of the server's loop reading the
  // whole conversation so far (the request, the results, what was written) as 1-hour writes.
  int64_t prompt = kServerLoopIterations * (Bytes(plan) + 3 * kWebSearchResultTokens + 100);
  CheckBounded(plan, {.tokens = {.output = 100,
                                 .cache_write = prompt,
                                 .cache_write_1h = prompt,
                                 .web_search_requests = 3}});
  // Without the searches' fee it would not be: they are reserved too.
  CHECK(plan.worst.usd_micros >
        PlanCall(Api::kMessages, kMessages + "}", Prices())->worst.usd_micros + 3 * 10'000);

  // A web search tool without max_uses is sent with the default, which bounds it.
  CallPlan unlimited =
      Plan(Api::kMessages, kMessages + R"(,"tools":[{"type":"web_search_20250305","name":"w"}]})");
  CHECK(unlimited.request.web_searches == kDefaultWebSearchUses);
  CHECK(boost::json::parse(unlimited.body).at("tools").at(0).at("max_uses") ==
        kDefaultWebSearchUses);
  CHECK(Refused(Api::kMessages,
                kMessages + R"(,"tools":[{"type":"web_search_20250305","max_uses":0}]})")
            .code == ErrorCode::kBadRequest);
  // Client tools cost nothing on the provider's side and are not touched.
  std::string client = kMessages + R"(,"tools":[{"name":"Write","input_schema":{"max_uses":1}}]})";
  CHECK_FALSE(Plan(Api::kMessages, client).request.server_tools);
  CHECK(Plan(Api::kMessages, client).body == client);
}

TEST_CASE("worst case: a prompt past the long-context threshold", "[meter]") {
  // A request of about 3,000 bytes may be a prompt of 3,000 tokens: past the 2,000 threshold,
  // so all of it at the long-context rates.
  std::string body =
      R"({"model":"claude","max_tokens":100,"messages":[{"role":"user","content":")" +
      std::string(3000, 'x') + R"("}]})";
  CallPlan plan = Plan(Api::kMessages, body);
  CheckBounded(
      plan, {.tokens = {.output = 100, .cache_write = Bytes(plan), .cache_write_1h = Bytes(plan)}});
  v1::UsageRecord r = Settled(plan, {.tokens = {.input = Bytes(plan), .output = 100}});
  CHECK(r.long_context());
  CHECK(r.cost_micros() == PriceTable::Cost(Rates{.input = 6'000'000, .output = 22'500'000}, 0,
                                            {.input = Bytes(plan), .output = 100}));
  // A short one stays under it.
  CHECK_FALSE(
      Settled(Plan(Api::kMessages, kMessages + "}"), {.tokens = {.input = 50}}).long_context());
}

TEST_CASE("worst case: priority and flex tiers", "[meter]") {
  // Anthropic: "auto" (or nothing) may be served at priority; "standard_only" may not.
  CallPlan anthropic = Plan(Api::kMessages, kMessages + "}");
  SeenUsage priority{.tokens = {.output = 100,
                                .cache_write = Bytes(anthropic),
                                .cache_write_1h = Bytes(anthropic)},
                     .service_tier = "priority"};
  CheckBounded(anthropic, priority);
  CallPlan standard_only = Plan(Api::kMessages, kMessages + R"(,"service_tier":"standard_only"})");
  CHECK(standard_only.worst.usd_micros < anthropic.worst.usd_micros);

  // OpenAI: each tier asked for is reserved at its rates; "auto" (or nothing) at the dearer of
  // default and priority, which the project's settings may choose.
  const std::string chat = R"({"model":"gpt","max_completion_tokens":1000,"messages":[])";
  int64_t reserved[4];
  int i = 0;
  for (std::string tier : {"", "auto", "priority", "default", "flex"}) {
    INFO("service_tier " << tier);
    CallPlan plan = Plan(Api::kChatCompletions,
                         chat + (tier.empty() ? "" : R"(,"service_tier":")" + tier + "\"") + "}");
    std::string served = tier.empty() || tier == "auto" ? "priority" : tier;
    CheckBounded(plan, {.tokens = {.input = Bytes(plan), .output = 1000}, .service_tier = served});
    if (i < 4) reserved[i++] = plan.worst.usd_micros;
  }
  // Unset and "auto" are reserved at priority's rates; "default" at its own, cheaper ones.
  CHECK(reserved[3] < reserved[0]);
  CHECK(reserved[3] < reserved[1]);
  CHECK(reserved[3] < reserved[2]);
}

TEST_CASE("worst case: n choices are n answers", "[meter]") {
  CallPlan plan =
      Plan(Api::kChatCompletions, R"({"model":"gpt","max_tokens":50,"n":4,"messages":[]})");
  CHECK(plan.request.choices == 4);
  CHECK(plan.worst_tokens.output == 200);
  CheckBounded(plan, {.tokens = {.input = Bytes(plan), .output = 200}, .service_tier = "priority"});
  CallPlan one = Plan(Api::kChatCompletions, R"({"model":"gpt","max_tokens":50,"messages":[]})");
  CHECK(plan.worst.usd_micros > one.worst.usd_micros);
  for (const char* bad :
       {R"({"model":"gpt","n":0})", R"({"model":"gpt","n":"2"})", R"({"model":"gpt","n":1.5})"}) {
    INFO(bad);
    CHECK(Refused(Api::kChatCompletions, bad).code == ErrorCode::kBadRequest);
  }
}

TEST_CASE("worst case: a request that cannot be bounded is refused, saying why", "[meter]") {
  // No output limit in the request, and none known for the model.
  Error no_limit = Refused(Api::kChatCompletions, R"({"model":"gpt-nolimit","messages":[]})");
  CHECK(no_limit.code == ErrorCode::kBadRequest);
  CHECK_THAT(no_limit.message, Catch::Contains("cannot be bounded") &&
                                   Catch::Contains("max_output_tokens") &&
                                   Catch::Contains("gpt-nolimit"));
  CHECK(Plan(Api::kChatCompletions, R"({"model":"gpt-nolimit","max_tokens":10})")
            .worst_tokens.output == 10);
  // Tools billed by what the usage does not show.
  for (std::string tools : {R"([{"type":"code_execution_20250825","name":"code_execution"}])",
                            R"([{"type":"web_fetch_20250910","name":"web_fetch","max_uses":2}])"}) {
    INFO(tools);
    Error e = Refused(Api::kMessages, kMessages + R"(,"tools":)" + tools + "}");
    CHECK_THAT(e.message, Catch::Contains("cannot be bounded"));
  }
  CHECK_THAT(
      Refused(Api::kMessages, kMessages + R"(,"mcp_servers":[{"url":"https://x"}]})").message,
      Catch::Contains("MCP"));
  CHECK_THAT(Refused(Api::kResponses,
                     R"({"model":"gpt","max_output_tokens":5,"tools":[{"type":"web_search"}]})")
                 .message,
             Catch::Contains("web_search"));
  // A web fetch with both limits is bounded by them.
  CallPlan fetch = Plan(
      Api::kMessages,
      kMessages +
          R"(,"tools":[{"type":"web_fetch_20250910","max_uses":2,"max_content_tokens":5000}]})");
  CHECK(fetch.request.fetched_tokens == 10'000);
  int64_t prompt = kServerLoopIterations * (Bytes(fetch) + 10'000 + 100);
  CheckBounded(fetch, {.tokens = {.output = 100, .cache_write = prompt, .cache_write_1h = prompt}});
}

TEST_CASE("worst case: an unpriced model is refused unless allowed, then billed at the highest",
          "[meter]") {
  const std::string body = R"({"model":"claude-99","max_tokens":100,"messages":[]})";
  Error e = Refused(Api::kMessages, body);
  CHECK(e.code == ErrorCode::kUnknownModel);
  CHECK_THAT(e.message, Catch::Contains("claude-99"));

  CallPlan plan = Plan(Api::kMessages, body, {.allow_unpriced = true});
  CHECK(plan.unpriced);
  CHECK(plan.price.standard.output == 22'500'000);  // the long-context output rate of "claude"
  SeenUsage usage{.tokens = {.input = 10, .output = 100}, .model = "claude"};
  v1::UsageRecord r = Settled(plan, usage);
  CHECK(r.unpriced());
  // Billed at the highest rates even though the answer names a priced model.
  CHECK(r.cost_micros() == PriceTable::Cost(Prices().Highest(), {.input = 10, .output = 100}));
  CheckBounded(plan, usage);
  // Without an output limit an unpriced model cannot be bounded.
  CHECK(PlanCall(Api::kChatCompletions, R"({"model":"x-1","messages":[]})", Prices(),
                 {.allow_unpriced = true})
            .error()
            .code == ErrorCode::kBadRequest);
}

}  // namespace
}  // namespace autovibe::meter
