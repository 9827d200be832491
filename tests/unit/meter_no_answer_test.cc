// Every request the provider took is paid for, answered or not: a call whose request reached the
// upstream and got no answer (the proxy's own timeout ran out on a long call, the server closed
// the connection after taking it) may have been billed, so it is charged its whole reservation,
// marked estimated, and it is never sent a second time. Only a pooled connection the server had
// closed before the request (it fails at once) has the request go again on a new connection.
#include <atomic>

#include "tests/fakes/fake_llm_upstream.h"
#include "tests/unit/meter_proxy_harness.h"

namespace autovibe::meter {
namespace {

using namespace proxy_test;
using testing::FakeLlmAnswer;
using testing::FakeLlmRequest;
using testing::FakeLlmUpstream;

const std::string kBody =
    R"({"model":"claude-sonnet-4-5","max_tokens":2000,"messages":[{"role":"user","content":"Go"}]})";

FakeLlmAnswer Answered() {
  return {.pieces = {R"({"id":"msg_9","type":"message","model":"claude-sonnet-4-5",)"
                     R"("content":[],"usage":{"input_tokens":30,"output_tokens":5}})"}};
}

// The first request is answered (its connection is then pooled), every later one as `later`.
FakeLlmUpstream::Script FirstAnsweredThen(FakeLlmAnswer later) {
  auto seen = std::make_shared<std::atomic<int>>(0);
  return [seen, later](const FakeLlmRequest&) { return ++*seen == 1 ? Answered() : later; };
}

// The record of a call the provider took and did not answer.
void CheckChargedUnanswered(const v1::UsageRecord& r) {
  CHECK(r.status() == "no_answer");
  CHECK(r.http_status() == 0);
  CHECK(r.estimated());
  CHECK(r.cost_micros() == PlanCall(Api::kMessages, kBody, Prices())->worst.usd_micros);
  CHECK(r.output_tokens() == 2000);
}

TEST_CASE("no answer: a call past the proxy's timeout is charged its reservation, sent once",
          "[meter]") {
  // A long call: the provider is still at it when the proxy gives up.
  FakeLlmUpstream upstream(FirstAnsweredThen({.delay = std::chrono::hours(1)}));
  REQUIRE(upstream.Start());
  ProxyOptions options = Options(upstream.url());
  options.upstream_timeout = std::chrono::seconds(1);
  ProxyUnderTest proxy(options);
  Tool tool(proxy.port());
  REQUIRE(tool.Call(Post("/v1/messages", kBody, AnthropicAuth())).result_int() == 200);
  CHECK(proxy.SettledRecord(1).status() == "ok");

  // On the pooled connection, which the timeout ends: the request is not sent again.
  CHECK(tool.Call(Post("/v1/messages", kBody, AnthropicAuth())).result_int() == 502);
  CheckChargedUnanswered(proxy.SettledRecord(2));
  CHECK(upstream.requests().size() == 2);
  CHECK(upstream.connections() == 1);
}

TEST_CASE("no answer: a request the server took and hung up on is charged, not sent again",
          "[meter]") {
  FakeLlmUpstream upstream([](const FakeLlmRequest&) { return FakeLlmAnswer{.drop = true}; });
  REQUIRE(upstream.Start());
  ProxyUnderTest proxy(Options(upstream.url()));
  CHECK(CallOnce(proxy.port(), Post("/v1/messages", kBody, AnthropicAuth())).result_int() == 502);
  CheckChargedUnanswered(proxy.SettledRecord());
  CHECK(upstream.requests().size() == 1);
  CHECK(upstream.connections() == 1);
}

TEST_CASE("no answer: a pooled connection closed long after the request took it is not retried",
          "[meter]") {
  // Not a connection the server had closed while idle: that one fails at once.
  FakeLlmUpstream upstream(
      FirstAnsweredThen({.delay = std::chrono::milliseconds(1500), .drop = true}));
  REQUIRE(upstream.Start());
  ProxyUnderTest proxy(Options(upstream.url()));
  Tool tool(proxy.port());
  REQUIRE(tool.Call(Post("/v1/messages", kBody, AnthropicAuth())).result_int() == 200);
  CHECK(tool.Call(Post("/v1/messages", kBody, AnthropicAuth())).result_int() == 502);
  CheckChargedUnanswered(proxy.SettledRecord(2));
  CHECK(upstream.requests().size() == 2);
  CHECK(upstream.connections() == 1);
}

}  // namespace
}  // namespace autovibe::meter
