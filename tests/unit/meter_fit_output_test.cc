// Lowering a call's output limit to fit what its budget still holds (fit_output.h): the
// limit that fits, the body the provider then gets, and the proxy doing it end to end against
// the fake provider, the reservation staying an upper bound of what is billed.
#include <boost/json.hpp>

#include "tests/fakes/fake_anthropic.h"
#include "tests/fakes/fake_openai.h"
#include "tests/unit/meter_proxy_harness.h"
#include "worker-agent/meter/fit_output.h"

namespace autovibe::meter {
namespace {

using namespace proxy_test;
namespace json = boost::json;

CallPlan Plan(Api api, const std::string& body) {
  auto plan = PlanCall(api, body, PriceTable::BuiltIn());
  REQUIRE(plan);
  return *std::move(plan);
}

int64_t Member(const std::string& body, const char* key) {
  return json::parse(body).as_object().at(key).to_number<int64_t>();
}

TEST_CASE("the output limit that fits is the largest whose worst case is held", "[meter]") {
  CallPlan plan =
      Plan(Api::kMessages, R"({"model":"claude-opus-4-8","max_tokens":64000,"messages":[]})");
  CHECK(LeastOutput(plan, 4096) == 4096);
  CHECK(LeastOutput(plan, 0) == 0);       // lowering switched off
  CHECK(LeastOutput(plan, 64'000) == 0);  // nothing to lower
  const Amounts held{.usd_micros = 500'000, .tokens = 1 << 30, .api_calls = 1};
  const int64_t output = FittingOutput(plan, 4096, held);
  REQUIRE(output > 4096);
  CHECK(WorstWithOutput(plan, output)->amounts.FitsIn(held));
  CHECK_FALSE(WorstWithOutput(plan, output + 1)->amounts.FitsIn(held));
  // $0.50 at $25 a million output tokens, less the (small) input: just under 20,000.
  CHECK(output > 19'000);
  CHECK(output < 20'000);
  // Not even the least fits: none.
  CHECK(FittingOutput(plan, 4096, Amounts{.usd_micros = 1'000, .api_calls = 1}) == 0);
}

TEST_CASE("extended thinking keeps the output limit above its budget", "[meter]") {
  CallPlan plan = Plan(Api::kMessages, R"({"model":"claude-opus-4-8","max_tokens":32000,)"
                                       R"("thinking":{"type":"enabled","budget_tokens":10000},)"
                                       R"("messages":[]})");
  CHECK(plan.thinking_budget == 10'000);
  CHECK(LeastOutput(plan, 4096) == 10'001);
  CallPlan deep = Plan(Api::kMessages, R"({"model":"claude-opus-4-8","max_tokens":32000,)"
                                       R"("thinking":{"type":"enabled","budget_tokens":31999},)"
                                       R"("messages":[]})");
  CHECK(LeastOutput(deep, 4096) == 0);
}

TEST_CASE("a lowered call's body carries its new limit, in each API's own member", "[meter]") {
  CallPlan messages = Plan(Api::kMessages, R"({"model":"claude-opus-4-8","max_tokens":64000,)"
                                           R"("messages":[{"role":"user","content":"hi"}]})");
  REQUIRE(LowerOutput(messages, 5000));
  CHECK(Member(messages.body, "max_tokens") == 5000);
  CHECK(messages.lowered_output == 5000);
  CHECK(*messages.request.max_output == 5000);
  CHECK(messages.worst == WorstWithOutput(messages, 5000)->amounts);
  CHECK(json::parse(messages.body).at("messages").as_array().size() == 1);

  CallPlan chat = Plan(Api::kChatCompletions, R"({"model":"gpt-5","messages":[]})");
  REQUIRE(LowerOutput(chat, 6000));
  CHECK(Member(chat.body, "max_completion_tokens") == 6000);
  CallPlan old_chat =
      Plan(Api::kChatCompletions, R"({"model":"gpt-5","max_tokens":90000,"messages":[]})");
  REQUIRE(LowerOutput(old_chat, 6000));
  CHECK(Member(old_chat.body, "max_tokens") == 6000);
  CHECK_FALSE(json::parse(old_chat.body).as_object().contains("max_completion_tokens"));
  CallPlan responses = Plan(Api::kResponses, R"({"model":"gpt-5","input":"hi"})");
  REQUIRE(LowerOutput(responses, 7000));
  CHECK(Member(responses.body, "max_output_tokens") == 7000);
}

// An Opus call asking for 64,000 output tokens ($1.60) while the budget has `cents` left.
http::response<http::string_body> OpusCall(ProxyUnderTest& proxy, int64_t cents) {
  proxy.ledger().HoldAtMost(
      Amounts{.usd_micros = cents * 10'000, .tokens = 1 << 30, .api_calls = 1});
  return CallOnce(proxy.port(),
                  Post("/v1/messages",
                       R"({"model":"claude-opus-4-8","max_tokens":64000,"stream":true,)"
                       R"("messages":[{"role":"user","content":"hi"}]})",
                       AnthropicAuth()));
}

TEST_CASE("a call near the end of its budget goes with a lower output limit, not refused",
          "[meter]") {
  testing::FakeAnthropic anthropic({.write_file = ""});  // text answers only
  REQUIRE(anthropic.Start());
  ProxyUnderTest proxy(Options(anthropic.url()), PriceTable::BuiltIn());
  // 40 cents left: a 64,000-token Opus answer does not fit.
  auto answer = OpusCall(proxy, 40);
  CHECK(answer.result_int() == 200);
  v1::UsageRecord r = proxy.SettledRecord(1);
  CHECK(r.status() == "ok");
  REQUIRE(anthropic.requests().size() == 1);
  const int64_t sent = Member(anthropic.requests()[0].body, "max_tokens");
  CHECK(sent >= 4096);
  CHECK(sent < 16'000);
  CHECK(r.lowered_output() == sent);
  auto asks = proxy.ledger().asks();
  REQUIRE(asks.size() == 1);
  CHECK(asks[0].least.usd_micros < asks[0].worst.usd_micros);
  CHECK(r.cost_micros() <= 400'000);

  // Not even 4,096 output tokens fit: refused as exhausted, nothing sent.
  auto refused = OpusCall(proxy, 5);
  CHECK(refused.result_int() == 429);
  CHECK(anthropic.requests().size() == 1);

  // A call the budget covers goes as the tool sent it.
  auto whole = OpusCall(proxy, 500);
  CHECK(whole.result_int() == 200);
  CHECK(proxy.SettledRecord(2).lowered_output() == 0);
  REQUIRE(anthropic.requests().size() == 2);
  CHECK(Member(anthropic.requests()[1].body, "max_tokens") == 64'000);
}

}  // namespace
}  // namespace autovibe::meter
