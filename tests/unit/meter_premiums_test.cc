// Premiums end to end: the fake providers (tests/fakes) answer with 1-hour cache writes, web
// searches, a priority tier and several choices, priced by the built-in table; what the proxy
// settles equals what the fakes tallied, to the token, and never exceeds what it reserved.
#include "tests/fakes/fake_anthropic.h"
#include "tests/fakes/fake_openai.h"
#include "tests/unit/meter_proxy_harness.h"

namespace autovibe::meter {
namespace {

using namespace proxy_test;

TEST_CASE("premiums: what the providers report is settled to the token, within the reservation",
          "[meter]") {
  testing::FakeAnthropicScript script;
  script.usage = {.input_tokens = 1200, .cache_write_tokens = 900, .cache_read_tokens = 300};
  script.cache_write_1h_tokens = 600;
  script.web_search_requests = 3;
  script.service_tier = "priority";
  testing::FakeAnthropic anthropic(script);
  REQUIRE(anthropic.Start());
  testing::FakeOpenAI openai(testing::FakeOpenAIOptions{.text = "A fairly short answer.",
                                                        .default_service_tier = "priority"});
  REQUIRE(openai.Start());
  const PriceTable& prices = PriceTable::BuiltIn();
  ProxyUnderTest proxy(Options(anthropic.url(), openai.url()), prices);

  auto search =
      CallOnce(proxy.port(),
               Post("/v1/messages",
                    R"({"model":"claude-sonnet-4-5","max_tokens":2000,"stream":true,"messages":[],)"
                    R"("tools":[{"type":"web_search_20250305","name":"web_search","max_uses":3}]})",
                    AnthropicAuth()));
  CHECK(search.result_int() == 200);
  v1::UsageRecord a = proxy.SettledRecord(1);
  CHECK(a.web_search_requests() == 3);
  CHECK(a.cache_write_1h_tokens() == 600);
  CHECK(a.service_tier() == "priority");
  ModelPrice sonnet = *prices.Find("claude-sonnet-4-5");
  // 1200 x $3 + output x $15 + 300 x $3.75 + 600 x $6 + 300 x $0.30, and 3 searches x $0.01
  CHECK(a.cost_micros() == PriceTable::Cost(sonnet, {.input = 1200,
                                                     .output = a.output_tokens(),
                                                     .cache_write = 900,
                                                     .cache_read = 300,
                                                     .cache_write_1h = 600,
                                                     .web_search_requests = 3}));
  CHECK(a.cost_micros() >= 30'000);

  auto choices = CallOnce(proxy.port(),
                          Post("/v1/chat/completions",
                               R"({"model":"gpt-5","n":3,"max_completion_tokens":500,"messages":[)"
                               R"({"role":"user","content":"hi"}],"stream":true})",
                               OpenAiAuth()));
  CHECK(choices.result_int() == 200);
  v1::UsageRecord o = proxy.SettledRecord(2);
  CHECK(o.service_tier() == "priority");
  CHECK(o.output_tokens() ==
        3 * testing::EstimateTokens(std::string("A fairly short answer.").size()));
  ModelPrice gpt5 = *prices.Find("gpt-5");
  CHECK(o.cost_micros() == PriceTable::Cost(gpt5,
                                            {.input = o.input_tokens(),
                                             .output = o.output_tokens(),
                                             .cache_read = o.cache_read_tokens()},
                                            Tier::kPriority));

  auto settles = proxy.ledger().settles();
  auto reserves = proxy.ledger().reserves();
  for (const auto& [id, r] : settles) {
    CHECK_FALSE(r.estimated());
    CHECK(r.cost_micros() <= reserves[id - 1].usd_micros);
  }
  testing::UsageTally a_tally = anthropic.Tally();
  CHECK(a.input_tokens() == a_tally.input_tokens);
  CHECK(a.output_tokens() == a_tally.output_tokens);
  CHECK(a.cache_write_tokens() == a_tally.cache_write_tokens);
  CHECK(a.cache_read_tokens() == a_tally.cache_read_tokens);
  CHECK(a.cache_write_1h_tokens() == a_tally.cache_write_1h_tokens);
  CHECK(a.web_search_requests() == a_tally.web_search_requests);
  testing::UsageTally o_tally = openai.Tally();
  CHECK(o.input_tokens() + o.cache_read_tokens() ==
        o_tally.input_tokens + o_tally.cache_read_tokens);
  CHECK(o.output_tokens() == o_tally.output_tokens);
}

}  // namespace
}  // namespace autovibe::meter
