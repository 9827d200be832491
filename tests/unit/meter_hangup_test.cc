// Every token paid for: a tool that hangs up mid-answer still pays what the provider bills. The
// proxy reads the answer on to its final usage; when none comes (the provider cut off, or the
// drain time ran out) the call is charged its whole reservation, marked estimated. The provider
// is the fake Anthropic API (tests/fakes), which keeps a tally of the usage it reported.
#include <random>

#include "tests/fakes/fake_anthropic.h"
#include "tests/fakes/fake_llm_upstream.h"
#include "tests/unit/meter_proxy_harness.h"

namespace autovibe::meter {
namespace {

using namespace proxy_test;
using testing::FakeAnthropic;
using testing::FakeAnthropicScript;
using testing::UsageTally;

const std::string kStream =
    R"({"model":"claude-sonnet-4-5","max_tokens":4000,"stream":true,"messages":[)"
    R"({"role":"user","content":"Say something long."}]})";

// Where a tool hangs up: what it has read of the stream by then.
enum class HangUpAt { kBeforeMessageStart, kMidContent, kBeforeMessageDelta };

// The settled records, summed as the fake tallies its usage.
UsageTally Ledger(const std::vector<std::pair<uint64_t, v1::UsageRecord>>& settles) {
  UsageTally t;
  for (const auto& [id, r] : settles) {
    if (r.estimated()) {
      t.AddCut();
      continue;
    }
    t.Add({.input = r.input_tokens(),
           .output = r.output_tokens(),
           .cache_write = r.cache_write_tokens(),
           .cache_read = r.cache_read_tokens(),
           .cache_write_1h = r.cache_write_1h_tokens(),
           .web_search_requests = r.web_search_requests()});
  }
  return t;
}

TEST_CASE("hang-up: 50 streams hung up at random points are charged to the token", "[meter]") {
  FakeAnthropicScript script;
  script.side_text = std::string(600, 'a');  // about 40 text deltas
  script.pacing = {.answer_delay = 5ms, .event_delay = 1ms};
  script.cache_write_1h_tokens = 7;
  script.web_search_requests = 2;
  FakeAnthropic anthropic(script);
  REQUIRE(anthropic.Start());
  ProxyUnderTest proxy(Options(anthropic.url()));

  std::mt19937 random(17);
  int at_count[3] = {};
  for (int i = 0; i < 50; ++i) {
    auto at = static_cast<HangUpAt>(random() % 3);
    ++at_count[static_cast<int>(at)];
    Tool tool(proxy.port());
    tool.Send(Post("/v1/messages", kStream, AnthropicAuth()));
    if (at != HangUpAt::kBeforeMessageStart) {
      tool.ReadHead();
      if (at == HangUpAt::kMidContent) {
        // Somewhere among the text deltas.
        tool.ReadUntilCount("event: content_block_delta", 1 + random() % 30);
      } else {
        tool.ReadUntil("content_block_stop");
      }
    }
    tool.HangUp();
  }
  CHECK(at_count[0] > 0);
  CHECK(at_count[1] > 0);
  CHECK(at_count[2] > 0);

  proxy.SettledRecord(50);
  auto settles = proxy.ledger().settles();
  int gone = 0;
  for (const auto& [id, r] : settles) {
    // "ok" when the rest of the answer still fit in the socket's buffers before the proxy
    // could tell the tool had gone; charged the same.
    CHECK((r.status() == "client_gone" || r.status() == "ok"));
    gone += r.status() == "client_gone";
    CHECK_FALSE(r.estimated());
    CHECK(r.output_tokens() > 1);  // the final figure, not message_start's 1
    CHECK(r.cost_micros() <= proxy.ledger().reserves()[id - 1].usd_micros);
  }
  CHECK(gone >= at_count[0]);  // at least those that left before the answer began
  UsageTally served = anthropic.Tally();
  CHECK(served.calls == 50);
  CHECK(served.web_search_requests == 100);
  CHECK(Ledger(settles) == served);
}

TEST_CASE("hang-up: a JSON answer is read on after the tool leaves", "[meter]") {
  FakeAnthropicScript script;
  script.pacing = {.answer_delay = 100ms};
  FakeAnthropic anthropic(script);
  REQUIRE(anthropic.Start());
  ProxyUnderTest proxy(Options(anthropic.url()));
  {
    Tool tool(proxy.port());
    tool.Send(Post("/v1/messages",
                   R"({"model":"claude-sonnet-4-5","max_tokens":4000,"messages":[]})",
                   AnthropicAuth()));
    tool.HangUp();
  }
  v1::UsageRecord r = proxy.SettledRecord();
  CHECK(r.status() == "client_gone");
  CHECK_FALSE(r.estimated());
  CHECK(Ledger(proxy.ledger().settles()) == anthropic.Tally());
}

TEST_CASE("hang-up: a stream the provider cuts off is charged its whole reservation, estimated",
          "[meter]") {
  FakeAnthropic anthropic;
  REQUIRE(anthropic.Start());
  anthropic.SetCut(3);  // message_start, ping, content_block_start: no final usage
  ProxyUnderTest proxy(Options(anthropic.url()));
  CallPlan plan = *PlanCall(Api::kMessages, kStream, Prices());
  v1::UsageRecord cut;
  {
    Tool tool(proxy.port());
    tool.Send(Post("/v1/messages", kStream, AnthropicAuth()));
    tool.ReadHead();
    tool.ReadUntil("content_block_start");
    // Settled while the tool is still there: a hang-up first would be "client_gone".
    cut = proxy.SettledRecord();
  }
  CHECK(cut.status() == "upstream_error");
  CHECK(cut.estimated());
  CHECK(cut.cost_micros() == plan.worst.usd_micros);
  CHECK(cut.output_tokens() == 4000);

  // The same when the tool had hung up first.
  {
    Tool tool(proxy.port());
    tool.Send(Post("/v1/messages", kStream, AnthropicAuth()));
    tool.HangUp();
  }
  v1::UsageRecord gone_then_cut = proxy.SettledRecord(2);
  CHECK(gone_then_cut.status() == "client_gone");
  CHECK(gone_then_cut.estimated());
  CHECK(gone_then_cut.cost_micros() == plan.worst.usd_micros);
  UsageTally served = anthropic.Tally();
  CHECK(served.calls == 0);
  CHECK(served.cut_calls == 2);
  CHECK(Ledger(proxy.ledger().settles()) == served);
}

TEST_CASE("hang-up: reading on stops at the drain time, the call is charged its reservation",
          "[meter]") {
  // A provider that sends message_start and then nothing until released.
  testing::FakeLlmUpstream upstream([](const testing::FakeLlmRequest&) {
    return testing::FakeLlmAnswer{
        .content_type = "text/event-stream",
        .pieces = {"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{"
                   "\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":10,"
                   "\"output_tokens\":1}}}\n\n",
                   "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{"
                   "\"output_tokens\":9}}\n\n"},
        .chunked = true,
        .hold_after = 1};
  });
  REQUIRE(upstream.Start());
  ProxyOptions options = Options(upstream.url());
  options.drain_timeout = 1s;
  ProxyUnderTest proxy(options);
  auto hung_up = std::chrono::steady_clock::now();
  {
    Tool tool(proxy.port());
    tool.Send(Post("/v1/messages", kStream, AnthropicAuth()));
    tool.ReadUntil("message_start");
    tool.HangUp();
    hung_up = std::chrono::steady_clock::now();
  }
  v1::UsageRecord r = proxy.SettledRecord();
  CHECK(std::chrono::steady_clock::now() - hung_up >= 900ms);
  CHECK(r.status() == "client_gone");
  CHECK(r.estimated());
  CHECK(r.cost_micros() == PlanCall(Api::kMessages, kStream, Prices())->worst.usd_micros);
  upstream.Release();
}

}  // namespace
}  // namespace autovibe::meter
