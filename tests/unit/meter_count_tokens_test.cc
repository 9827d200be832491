// The provider's token counter for a session's first call (count_tokens.h): asked only where a
// large part of the request is new to the task, its answer bounds the reservation, and the
// reservation stays above what the provider then bills.
#include <boost/json.hpp>

#include "tests/fakes/fake_anthropic.h"
#include "tests/unit/meter_proxy_harness.h"
#include "worker-agent/meter/count_tokens.h"

namespace autovibe::meter {
namespace {

using namespace proxy_test;
namespace json = boost::json;

// A messages request like a coding tool's first: a long system prompt, then `turns` messages.
std::string FirstCall(size_t system_bytes, int turns) {
  json::array messages;
  for (int i = 0; i < turns; ++i) {
    messages.push_back(json::object{{"role", i % 2 == 0 ? "user" : "assistant"},
                                    {"content", "turn " + std::to_string(i)}});
  }
  return json::serialize(json::object{{"model", "claude-opus-4-8"},
                                      {"max_tokens", 32000},
                                      {"stream", true},
                                      {"metadata", json::object{{"user_id", "u"}}},
                                      {"system", std::string(system_bytes, 's')},
                                      {"messages", messages}});
}

TEST_CASE("the count body keeps what the counter reads and drops the rest", "[meter]") {
  auto body = CountTokensBody(
      R"({"model":"m","max_tokens":5,"stream":true,"system":"s","tools":[],"messages":[],)"
      R"("thinking":{"type":"enabled","budget_tokens":1024},"metadata":{}})");
  REQUIRE(body);
  json::object o = json::parse(*body).as_object();
  CHECK(o.size() == 5);
  CHECK(o.contains("model"));
  CHECK(o.contains("thinking"));
  CHECK_FALSE(o.contains("max_tokens"));
  CHECK_FALSE(o.contains("stream"));
  CHECK_FALSE(CountTokensBody("[1]"));
  CHECK(CountedBound(1000) == 1114);
}

TEST_CASE("a session's first call is counted by the provider and reserved by the count",
          "[meter]") {
  testing::FakeAnthropic anthropic({.write_file = ""});  // text answers only
  REQUIRE(anthropic.Start());
  ProxyUnderTest proxy(Options(anthropic.url()), PriceTable::BuiltIn());

  const std::string first = FirstCall(80'000, 1);
  CHECK(
      CallOnce(proxy.port(), Post("/v1/messages?beta=true", first, AnthropicAuth())).result_int() ==
      200);
  v1::UsageRecord a = proxy.SettledRecord(1);
  auto requests = anthropic.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].answer == "count_tokens");
  CHECK(requests[0].target == "/v1/messages/count_tokens?beta=true");
  CHECK(requests[0].x_api_key == kAnthropicKey);  // the real key, as for the call
  CHECK(requests[1].answer == "side_text");
  // Reserved by the count (about a quarter of the bytes), yet above what was billed.
  ModelPrice opus = *PriceTable::BuiltIn().Find("claude-opus-4-8");
  const int64_t billed_input = a.input_tokens() + a.cache_write_tokens() + a.cache_read_tokens();
  auto asks = proxy.ledger().asks();
  REQUIRE(asks.size() == 1);
  const int64_t output_worst = PriceTable::Cost(opus, {.output = 32000});
  const int64_t input_reserved_usd = asks[0].worst.usd_micros - output_worst;
  // By bytes, each at the dearest input rate (a 1-hour cache write, $10 a million).
  const int64_t bytes_usd = int64_t(first.size()) * 10;
  CHECK(input_reserved_usd < bytes_usd / 3);
  CHECK(a.cost_micros() <= asks[0].worst.usd_micros);
  CHECK(asks[0].worst.tokens >= billed_input + 32000);
  CHECK(asks[0].worst.tokens <= CountedBound(billed_input) + 32000);

  // The next call extends it by a few bytes: its prefix is known, nothing is counted.
  const std::string next = FirstCall(80'000, 3);
  CHECK(
      CallOnce(proxy.port(), Post("/v1/messages?beta=true", next, AnthropicAuth())).result_int() ==
      200);
  proxy.SettledRecord(2);
  CHECK(anthropic.CountAnswers("count_tokens") == 1);

  // A short first call of another kind is not worth a round trip.
  CHECK(CallOnce(proxy.port(), Post("/v1/messages", FirstCall(1000, 1), AnthropicAuth()))
            .result_int() == 200);
  proxy.SettledRecord(3);
  CHECK(anthropic.CountAnswers("count_tokens") == 1);
}

TEST_CASE("a counter that fails leaves the call bounded by its bytes", "[meter]") {
  testing::FakeAnthropic anthropic({.write_file = ""});  // text answers only
  REQUIRE(anthropic.Start());
  ProxyOptions options = Options(anthropic.url());
  options.upstreams["anthropic"].url = anthropic.url() + "/nowhere";  // counts answer 404 too
  ProxyUnderTest proxy(options, PriceTable::BuiltIn());
  const std::string first = FirstCall(80'000, 1);
  auto answer = CallOnce(proxy.port(), Post("/v1/messages", first, AnthropicAuth()));
  CHECK(answer.result_int() == 404);  // the call itself went, and got the upstream's answer
  proxy.SettledRecord(1);
  auto asks = proxy.ledger().asks();
  REQUIRE(asks.size() == 1);
  CHECK(asks[0].worst.tokens >= int64_t(first.size()) + 32000);
}

}  // namespace
}  // namespace autovibe::meter
