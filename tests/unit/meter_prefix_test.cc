// The proxy's reservations, tight as well as safe: a task's growing conversation is reserved
// from the token counts the provider reported for its known prefix, and every call's actual
// cost stays within its reservation.
#include <boost/json/serialize.hpp>

#include "tests/fakes/fake_llm_upstream.h"
#include "tests/unit/meter_proxy_harness.h"

namespace autovibe::meter {
namespace {

using namespace proxy_test;
using testing::FakeLlmAnswer;
using testing::FakeLlmRequest;
using testing::FakeLlmUpstream;

// A provider that counts a token for every four bytes of the request, as tokenizers roughly
// do on English and code, and answers 20 output tokens.
FakeLlmAnswer CountingAnswer(const FakeLlmRequest& r) {
  const int64_t input = static_cast<int64_t>(r.body.size()) / 4;
  json::object usage{{"input_tokens", input}, {"output_tokens", 20}};
  json::object body{{"id", "msg_1"},
                    {"type", "message"},
                    {"role", "assistant"},
                    {"model", "claude-sonnet-4-5"},
                    {"content", json::array{json::object{{"type", "text"}, {"text", "ok"}}}},
                    {"stop_reason", "end_turn"},
                    {"usage", usage}};
  return {.status = 200, .pieces = {json::serialize(body)}};
}

std::string Conversation(int turns) {
  std::string system;
  for (int i = 0; i < 500; ++i) system += "Follow the repository's conventions. ";
  json::array messages;
  for (int i = 0; i < turns; ++i) {
    messages.push_back(json::object{
        {"role", i % 2 == 0 ? "user" : "assistant"},
        {"content", "turn " + std::to_string(i) + ": " + std::string(300, 'a' + i % 26)}});
  }
  return json::serialize(json::object{{"model", "claude-sonnet-4-5"},
                                      {"max_tokens", 256},
                                      {"system", system},
                                      {"messages", messages}});
}

}  // namespace

TEST_CASE("proxy: a growing conversation is reserved from its known prefix, never below it",
          "[meter]") {
  FakeLlmUpstream upstream(CountingAnswer);
  REQUIRE(upstream.Start());
  ProxyUnderTest proxy(Options(upstream.url()));
  constexpr int kCalls = 6;
  for (int call = 1; call <= kCalls; ++call) {
    auto r =
        CallOnce(proxy.port(), Post("/v1/messages", Conversation(2 * call - 1), AnthropicAuth()));
    REQUIRE(r.result_int() == 200);
    proxy.SettledRecord(call);
  }
  const auto reserves = proxy.ledger().reserves();
  const auto settles = proxy.ledger().settles();
  REQUIRE(reserves.size() == kCalls);
  REQUIRE(settles.size() == kCalls);
  for (int i = 0; i < kCalls; ++i) {
    const v1::UsageRecord& actual = settles[i].second;
    INFO("call " << i + 1);
    // Safe: never less than what the call cost.
    CHECK(actual.cost_micros() <= reserves[i].usd_micros);
    CHECK(actual.input_tokens() + actual.output_tokens() <= reserves[i].tokens);
    if (i == 0) {
      // Nothing known yet: every byte of the request may be a token.
      CHECK(reserves[i].tokens >= static_cast<int64_t>(Conversation(1).size()));
    } else {
      // Tight: the known prefix is counted as the provider counted it, so the input bound is
      // well under the request's bytes.
      const int64_t bytes = static_cast<int64_t>(Conversation(2 * (i + 1) - 1).size());
      CHECK(reserves[i].tokens - 256 < bytes / 2);
    }
  }
}

TEST_CASE("proxy: a request sent again is reserved from its own count, plus the seam", "[meter]") {
  FakeLlmUpstream upstream(CountingAnswer);
  REQUIRE(upstream.Start());
  ProxyUnderTest proxy(Options(upstream.url()));
  // The same conversation twice (a tool's retry): the second is bound by the first's count.
  const std::string body = Conversation(3);
  REQUIRE(CallOnce(proxy.port(), Post("/v1/messages", body, AnthropicAuth())).result_int() == 200);
  proxy.SettledRecord(1);
  REQUIRE(CallOnce(proxy.port(), Post("/v1/messages", body, AnthropicAuth())).result_int() == 200);
  proxy.SettledRecord(2);
  const auto reserves = proxy.ledger().reserves();
  CHECK(reserves[1].tokens < reserves[0].tokens);
  CHECK(reserves[1].tokens >= static_cast<int64_t>(body.size()) / 4 + 256);
}

}  // namespace autovibe::meter
