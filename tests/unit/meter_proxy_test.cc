// The metering proxy end to end, in-process: a tool's HTTP calls go through the proxy to a
// fake provider (tests/fakes/fake_llm_upstream.h; the real ones cannot be reached from here),
// or to the built-in mock, with a fake ledger standing in for the agent's lease book.
#include <openssl/rand.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "common/core/kernel_random.h"
#include "tests/fakes/fake_llm_upstream.h"
#include "tests/unit/meter_proxy_harness.h"
#include "worker-agent/meter/sse.h"

namespace autovibe::meter {
namespace {

using namespace proxy_test;
using testing::FakeLlmAnswer;
using testing::FakeLlmRequest;
using testing::FakeLlmUpstream;

// --- Answers of the fake provider -----------------------------------------------------------

constexpr char kAnthropicJson[] =
    R"({"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",)"
    R"("content":[{"type":"text","text":"Hi"}],"stop_reason":"end_turn","stop_sequence":null,)"
    R"("usage":{"input_tokens":1200,"cache_creation_input_tokens":300,)"
    R"("cache_read_input_tokens":5000,"output_tokens":42}})";

std::vector<std::string> AnthropicEvents() {
  return {
      "event: message_start\ndata: "
      R"({"type":"message_start","message":{"id":"msg_2","type":"message","role":"assistant",)"
      R"("content":[],"model":"claude-sonnet-4-5-20250929","stop_reason":null,)"
      R"("stop_sequence":null,"usage":{"input_tokens":900,"cache_creation_input_tokens":0,)"
      R"("cache_read_input_tokens":100,"output_tokens":1}}})"
      "\n\n",
      "event: content_block_start\ndata: "
      R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"
      "\n\n",
      "event: content_block_delta\ndata: "
      R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}})"
      "\n\n",
      "event: content_block_stop\ndata: "
      R"({"type":"content_block_stop","index":0})"
      "\n\n",
      "event: message_delta\ndata: "
      R"({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},)"
      R"("usage":{"output_tokens":77}})"
      "\n\n",
      "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"};
}

FakeLlmAnswer JsonAnswer(std::string body, int status = 200) {
  return {.status = status, .pieces = {std::move(body)}};
}

FakeLlmAnswer StreamAnswer(std::vector<std::string> events, size_t hold_after = SIZE_MAX) {
  return {.content_type = "text/event-stream",
          .headers = {{"request-id", "req_123"},
                      {"anthropic-ratelimit-requests-limit", "50"},
                      {"x-internal", "secret"}},
          .pieces = std::move(events),
          .chunked = true,
          .hold_after = hold_after};
}

const std::string kMessagesBody =
    R"({"model":"claude-sonnet-4-5","max_tokens":1000,"messages":[{"role":"user","content":"Hi"}]})";
const std::string kStreamBody =
    R"({"model":"claude-sonnet-4-5","max_tokens":1000,"stream":true,"messages":[]})";

// --- Tests ----------------------------------------------------------------------------------

TEST_CASE("proxy: HEAD and GET / answer 200 and unknown routes 404", "[meter]") {
  FakeLlmUpstream upstream([](const FakeLlmRequest&) { return JsonAnswer("{}"); });
  REQUIRE(upstream.Start());
  ProxyUnderTest proxy(Options(upstream.url()));
  Tool tool(proxy.port());
  http::request<http::string_body> head{http::verb::head, "/", 11};
  tool.Send(head);
  CHECK(tool.ReadHead().result_int() == 200);
  http::request<http::string_body> get{http::verb::get, "/", 11};
  auto& root = tool.Call(get);  // the same connection: HEAD left it usable
  CHECK(root.result_int() == 200);
  CHECK(root.body() == "{}");

  auto missing = CallOnce(proxy.port(), Post("/v1/complete", "{}", AnthropicAuth()));
  CHECK(missing.result_int() == 404);
  CHECK(Json(missing.body()).at("error").at("type") == "not_found_error");
  http::request<http::string_body> get_messages{http::verb::get, "/v1/chat/completions", 11};
  auto wrong_method = CallOnce(proxy.port(), get_messages);
  CHECK(wrong_method.result_int() == 404);
  CHECK(Json(wrong_method.body()).at("error").at("code") == "unknown_url");
  CHECK(upstream.requests().empty());
}

TEST_CASE("proxy: a call without the task's token is refused 401", "[meter]") {
  FakeLlmUpstream upstream([](const FakeLlmRequest&) { return JsonAnswer(kAnthropicJson); });
  REQUIRE(upstream.Start());
  ProxyUnderTest proxy(Options(upstream.url()));

  auto none = CallOnce(proxy.port(), Post("/v1/messages", kMessagesBody, {}));
  CHECK(none.result_int() == 401);
  auto anthropic = Json(none.body());
  CHECK(anthropic.at("type") == "error");
  CHECK(anthropic.at("error").at("type") == "authentication_error");

  auto wrong = CallOnce(proxy.port(), Post("/v1/messages", kMessagesBody, AnthropicAuth("nope")));
  CHECK(wrong.result_int() == 401);
  auto wrong_bearer = CallOnce(
      proxy.port(), Post("/v1/chat/completions", kMessagesBody, OpenAiAuth(kAnthropicKey)));
  CHECK(wrong_bearer.result_int() == 401);
  auto openai = Json(wrong_bearer.body());
  CHECK(openai.at("error").at("code") == "invalid_api_key");
  CHECK(openai.at("error").at("param").is_null());

  CHECK(upstream.requests().empty());
  CHECK(proxy.ledger().reserves().empty());
}

TEST_CASE("proxy: the real key reaches the provider and the task's token never does", "[meter]") {
  FakeLlmUpstream upstream([](const FakeLlmRequest& r) {
    if (r.target.find("chat") != std::string::npos) {
      return JsonAnswer(R"({"id":"c","object":"chat.completion","model":"gpt-4o-mini",)"
                        R"("choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5}})");
    }
    return JsonAnswer(kAnthropicJson);
  });
  REQUIRE(upstream.Start());
  ProxyUnderTest proxy(Options(upstream.url() + "/anthropic/", upstream.url() + "/openai"));

  Headers headers = AnthropicAuth();
  headers.emplace_back("anthropic-beta", "prompt-caching-2024-07-31");
  headers.emplace_back("authorization", std::string("Bearer ") + kToken);  // both: neither leaks
  headers.emplace_back("accept-encoding", "gzip");
  auto res = CallOnce(proxy.port(), Post("/v1/messages?beta=true", kMessagesBody, headers));
  CHECK(res.result_int() == 200);
  CHECK(res.body() == kAnthropicJson);
  auto chat = CallOnce(
      proxy.port(),
      Post("/v1/chat/completions", R"({"model":"gpt-4o-mini","messages":[]})", OpenAiAuth()));
  CHECK(chat.result_int() == 200);

  auto requests = upstream.requests();
  REQUIRE(requests.size() == 2);
  const FakeLlmRequest& a = requests[0];
  CHECK(a.target == "/anthropic/v1/messages?beta=true");
  CHECK(a.headers.at("x-api-key") == kAnthropicKey);
  CHECK(a.headers.count("authorization") == 0);
  CHECK(a.headers.at("anthropic-version") == "2023-06-01");
  CHECK(a.headers.at("anthropic-beta") == "prompt-caching-2024-07-31");
  CHECK(a.headers.at("accept-encoding") == "identity");
  CHECK(a.body == kMessagesBody);
  const FakeLlmRequest& o = requests[1];
  CHECK(o.target == "/openai/v1/chat/completions");
  CHECK(o.headers.at("authorization") == std::string("Bearer ") + kOpenAiKey);
  CHECK(o.headers.count("x-api-key") == 0);
  for (const auto& r : requests) {
    for (const auto& [name, value] : r.headers) CHECK(value.find(kToken) == std::string::npos);
  }

  // What was reserved is the request's worst case; what was settled is the provider's usage.
  auto reserves = proxy.ledger().reserves();
  REQUIRE(reserves.size() == 2);
  CallPlan plan = *PlanCall(Api::kMessages, kMessagesBody, Prices());
  CHECK(reserves[0] == plan.worst);
  proxy.SettledRecord(2);  // settled once the answer is written: maybe after the tool read it
  auto settles = proxy.ledger().settles();
  const v1::UsageRecord& r = settles[0].second;
  CHECK(settles[0].first == 1);
  CHECK(r.kind() == "llm");
  CHECK(r.provider() == "anthropic");
  CHECK(r.route() == "/v1/messages");
  CHECK(r.model() == "claude-sonnet-4-5-20250929");
  CHECK(r.status() == "ok");
  CHECK(r.http_status() == 200);
  CHECK(r.input_tokens() == 1200);
  CHECK(r.cache_write_tokens() == 300);
  CHECK(r.cache_read_tokens() == 5000);
  CHECK(r.output_tokens() == 42);
  CHECK(r.cost_micros() == 3600 + 1125 + 1500 + 630);  // 1200x3 + 300x3.75 + 5000x0.3 + 42x15
  CHECK_FALSE(r.estimated());
  CHECK(r.latency_us() > 0);
  CHECK(settles[1].second.provider() == "openai");
  CHECK(settles[1].second.cost_micros() == 5);  // 10 x 0.15 + 5 x 0.60 = 4.5, rounded up
}

TEST_CASE("proxy: a stream reaches the tool as the provider sends it", "[meter]") {
  FakeLlmUpstream upstream(
      [](const FakeLlmRequest&) { return StreamAnswer(AnthropicEvents(), /*hold_after=*/1); });
  REQUIRE(upstream.Start());
  ProxyUnderTest proxy(Options(upstream.url()));
  Tool tool(proxy.port());
  tool.Send(Post("/v1/messages", kStreamBody, AnthropicAuth()));
  auto& head = tool.ReadHead();
  CHECK(head.result_int() == 200);
  CHECK(head[http::field::content_type] == "text/event-stream");
  CHECK(head["request-id"] == "req_123");
  CHECK(head["anthropic-ratelimit-requests-limit"] == "50");
  CHECK(head.find("x-internal") == head.end());
  // The first event arrives while the provider still holds the rest back.
  CHECK_THAT(tool.ReadUntil("message_start"), Catch::Contains("\"input_tokens\":900"));
  CHECK(proxy.ledger().settles().empty());
  upstream.Release();
  std::string all = tool.ReadUntil("message_stop");
  std::string expected;
  for (const auto& e : AnthropicEvents()) expected += e;
  CHECK(tool.ReadAll().body() == expected);

  v1::UsageRecord r = proxy.SettledRecord();
  CHECK(r.status() == "ok");
  CHECK(r.input_tokens() == 900);
  CHECK(r.cache_read_tokens() == 100);
  CHECK(r.output_tokens() == 77);
  CHECK(r.cost_micros() == PriceTable::Cost(*Prices().Find("claude-sonnet-4-5"),
                                            {.input = 900, .output = 77, .cache_read = 100}));
}

TEST_CASE("proxy: a refused reservation is answered 429 and says not to retry", "[meter]") {
  FakeLlmUpstream upstream([](const FakeLlmRequest&) { return JsonAnswer(kAnthropicJson); });
  REQUIRE(upstream.Start());
  ProxyUnderTest proxy(Options(upstream.url()));
  proxy.ledger().Refuse(ErrorCode::kBudgetExhausted,
                        "project proj's usd budget (5.00 total) is spent");

  auto anthropic = CallOnce(proxy.port(), Post("/v1/messages", kStreamBody, AnthropicAuth()));
  CHECK(anthropic.result_int() == 429);
  CHECK(anthropic["x-should-retry"] == "false");
  auto a = Json(anthropic.body());
  CHECK(a.at("type") == "error");
  CHECK(a.at("error").at("type") == "rate_limit_error");
  CHECK(a.at("error").at("message") == "autovibe: project proj's usd budget (5.00 total) is spent");

  auto openai =
      CallOnce(proxy.port(), Post("/v1/responses", R"({"model":"gpt-4o-mini"})", OpenAiAuth()));
  CHECK(openai.result_int() == 429);
  CHECK(openai["x-should-retry"] == "false");
  auto o = Json(openai.body());
  CHECK(o.at("error").at("type") == "insufficient_quota");
  CHECK(o.at("error").at("code") == "insufficient_quota");

  proxy.ledger().Refuse(ErrorCode::kUnavailable, "the controller cannot be reached");
  auto later = CallOnce(proxy.port(), Post("/v1/messages", kMessagesBody, AnthropicAuth()));
  CHECK(later.result_int() == 503);
  CHECK(later["retry-after"] == "1");
  CHECK(Json(later.body()).at("error").at("type") == "overloaded_error");

  proxy.ledger().Refuse(ErrorCode::kNotFound, "task ended");
  CHECK(CallOnce(proxy.port(), Post("/v1/messages", kMessagesBody, AnthropicAuth())).result_int() ==
        401);

  CHECK(upstream.requests().empty());
  CHECK(proxy.ledger().reserves().size() == 4);
  CHECK(proxy.ledger().settles().empty());
}

TEST_CASE("proxy: a reservation granted later lets the call go on", "[meter]") {
  FakeLlmUpstream upstream([](const FakeLlmRequest&) { return JsonAnswer(kAnthropicJson); });
  REQUIRE(upstream.Start());
  ProxyUnderTest proxy(Options(upstream.url()));
  proxy.ledger().HoldReservations();
  Tool tool(proxy.port());
  tool.Send(Post("/v1/messages", kMessagesBody, AnthropicAuth()));
  std::function<void()> grant;
  REQUIRE(testing::WaitUntil([&] { return bool(grant = proxy.ledger().TakeHeld()); }, 10s));
  CHECK(upstream.requests().empty());
  proxy.RunOnProxyThread(grant);
  CHECK(tool.ReadAll().result_int() == 200);
  CHECK(proxy.SettledRecord().status() == "ok");
}

TEST_CASE("proxy: bad requests are refused before anything is reserved", "[meter]") {
  FakeLlmUpstream upstream([](const FakeLlmRequest&) { return JsonAnswer(kAnthropicJson); });
  REQUIRE(upstream.Start());
  ProxyOptions options = Options(upstream.url());
  options.max_request_bytes = 4096;
  ProxyUnderTest proxy(options);

  auto unknown =
      CallOnce(proxy.port(),
               Post("/v1/messages", R"({"model":"claude-9","max_tokens":5})", AnthropicAuth()));
  CHECK(unknown.result_int() == 400);
  auto u = Json(unknown.body());
  CHECK(u.at("error").at("type") == "invalid_request_error");
  CHECK_THAT(std::string(u.at("error").at("message").as_string()),
             Catch::Contains("claude-9") && Catch::Contains("prices.toml"));

  auto bad_json = CallOnce(proxy.port(), Post("/v1/chat/completions", "{\"model\":", OpenAiAuth()));
  CHECK(bad_json.result_int() == 400);
  CHECK(Json(bad_json.body()).at("error").at("type") == "invalid_request_error");

  auto too_large =
      CallOnce(proxy.port(), Post("/v1/messages", std::string(5000, ' '), AnthropicAuth()));
  CHECK(too_large.result_int() == 413);
  CHECK(Json(too_large.body()).at("error").at("type") == "request_too_large");

  Tool raw(proxy.port());
  raw.SendRaw("POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n");
  auto& malformed = raw.ReadAll();
  CHECK(malformed.result_int() == 400);
  CHECK_THAT(std::string(Json(malformed.body()).at("error").at("message").as_string()),
             Catch::Contains("malformed HTTP"));

  CHECK(upstream.requests().empty());
  CHECK(proxy.ledger().reserves().empty());
}

TEST_CASE("proxy: the task's rate limit answers 429 with retry-after", "[meter]") {
  FakeLlmUpstream upstream([](const FakeLlmRequest&) { return JsonAnswer(kAnthropicJson); });
  REQUIRE(upstream.Start());
  ProxyOptions options = Options(upstream.url());
  options.requests_per_minute = 1;
  ProxyUnderTest proxy(options);
  CHECK(CallOnce(proxy.port(), Post("/v1/messages", kMessagesBody, AnthropicAuth())).result_int() ==
        200);
  auto limited = CallOnce(proxy.port(), Post("/v1/messages", kMessagesBody, AnthropicAuth()));
  CHECK(limited.result_int() == 429);
  int retry_after = std::atoi(std::string(limited["retry-after"]).c_str());
  CHECK(retry_after >= 1);
  CHECK(retry_after <= 60);
  CHECK(Json(limited.body()).at("error").at("type") == "rate_limit_error");
  CHECK(limited.find("x-should-retry") == limited.end());
  CHECK(upstream.requests().size() == 1);
  CHECK(proxy.ledger().reserves().size() == 1);
}

TEST_CASE("proxy: a streamed chat completion is asked for its usage", "[meter]") {
  FakeLlmUpstream upstream([](const FakeLlmRequest&) {
    return StreamAnswer(
        {R"(data: {"id":"c1","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}],"usage":null})"
         "\n\n",
         R"(data: {"id":"c1","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":1000,"completion_tokens":100,"prompt_tokens_details":{"cached_tokens":400}}})"
         "\n\n",
         "data: [DONE]\n\n"});
  });
  REQUIRE(upstream.Start());
  ProxyUnderTest proxy(Options(upstream.url()));
  auto res = CallOnce(proxy.port(),
                      Post("/v1/chat/completions",
                           R"({"model":"gpt-4o-mini","stream":true,"messages":[]})", OpenAiAuth()));
  CHECK(res.result_int() == 200);
  CHECK_THAT(res.body(), Catch::EndsWith("data: [DONE]\n\n"));
  REQUIRE(upstream.requests().size() == 1);
  auto sent = Json(upstream.requests()[0].body);
  CHECK(sent.at("stream_options").at("include_usage") == true);
  v1::UsageRecord r = proxy.SettledRecord();
  CHECK(r.input_tokens() == 600);
  CHECK(r.cache_read_tokens() == 400);
  CHECK(r.output_tokens() == 100);
  CHECK(r.cost_micros() == 90 + 30 + 60);  // 600x0.15 + 400x0.075 + 100x0.60
}

TEST_CASE("proxy: a tool that hangs up mid-stream is settled once, with the answer's final usage",
          "[meter]") {
  FakeLlmUpstream upstream(
      [](const FakeLlmRequest&) { return StreamAnswer(AnthropicEvents(), /*hold_after=*/1); });
  REQUIRE(upstream.Start());
  ProxyUnderTest proxy(Options(upstream.url()));
  {
    Tool tool(proxy.port());
    tool.Send(Post("/v1/messages", kStreamBody, AnthropicAuth()));
    tool.ReadHead();
    tool.ReadUntil("message_start");
    tool.HangUp();
  }
  // The provider bills the whole answer: the proxy keeps its connection and reads on.
  CHECK_FALSE(testing::WaitUntil([&] { return !proxy.ledger().settles().empty(); }, 200ms));
  CHECK(upstream.hangups() == 0);
  upstream.Release();
  v1::UsageRecord r = proxy.SettledRecord();
  CHECK(r.status() == "client_gone");
  CHECK(r.input_tokens() == 900);  // what message_start said
  CHECK(r.output_tokens() == 77);  // what message_delta said, not message_start's 1
  CHECK_FALSE(r.estimated());
  // A later call still works, and the first is not settled again.
  CHECK(CallOnce(proxy.port(), Post("/v1/messages", kStreamBody, AnthropicAuth())).result_int() ==
        200);
  CHECK(proxy.SettledRecord(2).status() == "ok");
  CHECK(proxy.ledger().settles()[0].first != proxy.ledger().settles()[1].first);
}

TEST_CASE("proxy: provider errors pass through and answers without usage cost the reservation",
          "[meter]") {
  int calls = 0;
  FakeLlmUpstream upstream([&](const FakeLlmRequest&) {
    if (++calls == 1) {
      FakeLlmAnswer a = JsonAnswer(
          R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})", 529);
      a.headers.emplace_back("x-should-retry", "true");
      return a;
    }
    return JsonAnswer(R"({"id":"msg","type":"message","content":[]})");
  });
  REQUIRE(upstream.Start());
  ProxyUnderTest proxy(Options(upstream.url()));
  auto overloaded = CallOnce(proxy.port(), Post("/v1/messages", kMessagesBody, AnthropicAuth()));
  CHECK(overloaded.result_int() == 529);
  CHECK(overloaded["x-should-retry"] == "true");
  CHECK(Json(overloaded.body()).at("error").at("type") == "overloaded_error");
  v1::UsageRecord error = proxy.SettledRecord();
  CHECK(error.status() == "upstream_error");
  CHECK(error.http_status() == 529);
  CHECK(error.cost_micros() == 0);

  CHECK(CallOnce(proxy.port(), Post("/v1/messages", kMessagesBody, AnthropicAuth())).result_int() ==
        200);
  v1::UsageRecord no_usage = proxy.SettledRecord(2);
  CHECK(no_usage.status() == "no_usage");
  CHECK(no_usage.estimated());
  CHECK(no_usage.cost_micros() ==
        PlanCall(Api::kMessages, kMessagesBody, Prices())->worst.usd_micros);
  CHECK(no_usage.output_tokens() == 1000);
}

TEST_CASE("proxy: an unreachable provider is a 502 that costs nothing", "[meter]") {
  ProxyUnderTest proxy(Options("http://127.0.0.1:" + std::to_string(testing::FreePort())));
  auto res = CallOnce(proxy.port(), Post("/v1/chat/completions",
                                         R"({"model":"gpt-4o-mini","messages":[]})", OpenAiAuth()));
  CHECK(res.result_int() == 502);
  CHECK(Json(res.body()).at("error").at("type") == "server_error");
  v1::UsageRecord r = proxy.SettledRecord();
  CHECK(r.status() == "unreachable");
  CHECK(r.http_status() == 0);
  CHECK(r.cost_micros() == 0);
  CHECK(r.input_tokens() + r.output_tokens() == 0);
}

TEST_CASE("proxy: provider connections are kept and a stale one is replaced", "[meter]") {
  std::atomic<bool> drop_next{false};
  FakeLlmUpstream upstream([&](const FakeLlmRequest&) {
    if (drop_next.exchange(false)) return FakeLlmAnswer{.drop = true};
    return JsonAnswer(kAnthropicJson);
  });
  REQUIRE(upstream.Start());
  ProxyUnderTest proxy(Options(upstream.url()));
  Tool tool(proxy.port());
  for (int i = 0; i < 3; ++i) {
    CHECK(tool.Call(Post("/v1/messages", kMessagesBody, AnthropicAuth())).result_int() == 200);
  }
  CHECK(upstream.connections() == 1);
  // The provider drops the pooled connection on the next request, at once, as a server that
  // had closed it while idle: it goes again on a new one, once, and is charged what it used.
  drop_next = true;
  CHECK(tool.Call(Post("/v1/messages", kMessagesBody, AnthropicAuth())).result_int() == 200);
  CHECK(upstream.connections() == 2);
  CHECK(upstream.requests().size() == 5);
  v1::UsageRecord r = proxy.SettledRecord(4);
  CHECK(r.status() == "ok");
  CHECK_FALSE(r.estimated());
  CHECK(r.output_tokens() == 42);
}

TEST_CASE("proxy: the mock answers in each provider's shape and is metered", "[meter]") {
  ProxyOptions options = Options("mock");
  options.mock = {.text = "Mocked reply here.",
                  .input_tokens = 1000,
                  .output_tokens = 200,
                  .cache_write_tokens = 0,
                  .cache_read_tokens = 3000};
  ProxyUnderTest proxy(options);

  auto events = [](const std::string& body) {
    std::vector<std::string> names;
    std::string text;
    SseSplitter splitter(1 << 20, [&](std::string_view e, std::string_view d) {
      names.emplace_back(e);
      if (d == "[DONE]") return;
      auto v = json::parse(d);
      if (e == "content_block_delta") text += v.at("delta").at("text").as_string();
      if (e == "response.output_text.delta") text += v.at("delta").as_string();
    });
    splitter.Feed(body);
    return std::pair{names, text};
  };

  auto stream = CallOnce(proxy.port(), Post("/v1/messages", kStreamBody, AnthropicAuth()));
  CHECK(stream.result_int() == 200);
  CHECK(stream[http::field::content_type] == "text/event-stream");
  auto [names, text] = events(stream.body());
  REQUIRE(names.size() >= 6);
  CHECK(names.front() == "message_start");
  CHECK(names[1] == "content_block_start");
  CHECK(std::count(names.begin(), names.end(), "content_block_delta") == 3);
  CHECK(names[names.size() - 3] == "content_block_stop");
  CHECK(names[names.size() - 2] == "message_delta");
  CHECK(names.back() == "message_stop");
  CHECK(text == "Mocked reply here.");
  v1::UsageRecord r = proxy.SettledRecord();
  CHECK(r.status() == "ok");
  CHECK(r.provider() == "anthropic");
  CHECK(r.input_tokens() == 1000);
  CHECK(r.cache_read_tokens() == 3000);
  CHECK(r.output_tokens() == 200);
  CHECK(r.cost_micros() == 3000 + 900 + 3000);  // 1000x3 + 3000x0.3 + 200x15

  auto message = CallOnce(proxy.port(), Post("/v1/messages", kMessagesBody, AnthropicAuth()));
  auto m = Json(message.body());
  CHECK(m.at("type") == "message");
  CHECK(m.at("model") == "claude-sonnet-4-5");
  CHECK(m.at("content").at(0).at("text") == "Mocked reply here.");
  CHECK(m.at("usage").at("output_tokens") == 200);

  auto chat = CallOnce(
      proxy.port(),
      Post("/v1/chat/completions", R"({"model":"gpt-4o-mini","stream":true})", OpenAiAuth()));
  CHECK_THAT(chat.body(), Catch::EndsWith("data: [DONE]\n\n"));
  v1::UsageRecord c = proxy.SettledRecord(3);
  CHECK(c.provider() == "openai");
  CHECK(c.input_tokens() == 1000);
  CHECK(c.cache_read_tokens() == 3000);
  CHECK(c.output_tokens() == 200);

  auto completion = CallOnce(
      proxy.port(), Post("/v1/chat/completions", R"({"model":"gpt-4o-mini"})", OpenAiAuth()));
  CHECK(Json(completion.body()).at("choices").at(0).at("message").at("content") ==
        "Mocked reply here.");

  auto responses =
      CallOnce(proxy.port(),
               Post("/v1/responses", R"({"model":"gpt-4o-mini","stream":true})", OpenAiAuth()));
  auto [rnames, rtext] = events(responses.body());
  CHECK(rnames.front() == "response.created");
  CHECK(rnames.back() == "response.completed");
  CHECK(rtext == "Mocked reply here.");
  CHECK(proxy.SettledRecord(5).output_tokens() == 200);

  auto response =
      CallOnce(proxy.port(), Post("/v1/responses", R"({"model":"gpt-4o-mini"})", OpenAiAuth()));
  CHECK(Json(response.body()).at("status") == "completed");
  CHECK(proxy.SettledRecord(6).status() == "ok");

  // The mock still refuses a model with no price.
  auto unpriced =
      CallOnce(proxy.port(), Post("/v1/messages", R"({"model":"mystery"})", AnthropicAuth()));
  CHECK(unpriced.result_int() == 400);
  CHECK(proxy.ledger().reserves().size() == 6);
}

// --- HTTPS ----------------------------------------------------------------------------------

// A self-signed certificate for localhost, made with the openssl command.
struct SelfSigned {
  testing::TempDir dir{"autovibe-meter-tls"};
  std::string cert = dir / "cert.pem";
  std::string key = dir / "key.pem";
  SelfSigned() {
    std::string cmd =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
        "-addext subjectAltName=DNS:localhost -keyout " +
        key + " -out " + cert + " 2>/dev/null";
    REQUIRE(std::system(cmd.c_str()) == 0);
  }
};

TEST_CASE("proxy: an https provider must show a certificate the proxy trusts", "[meter]") {
  SelfSigned tls;
  FakeLlmUpstream upstream([](const FakeLlmRequest&) { return JsonAnswer(kAnthropicJson); });
  REQUIRE(upstream.Start(tls.cert, tls.key));

  {
    ProxyUnderTest untrusting(Options(upstream.url()));
    auto refused =
        CallOnce(untrusting.port(), Post("/v1/messages", kMessagesBody, AnthropicAuth()));
    CHECK(refused.result_int() == 502);
    CHECK_THAT(std::string(Json(refused.body()).at("error").at("message").as_string()),
               Catch::Contains("certificate"));
    CHECK(untrusting.SettledRecord().status() == "unreachable");
    CHECK(upstream.requests().empty());
  }
  ProxyOptions options = Options(upstream.url());
  options.upstreams["anthropic"].ca_file = tls.cert;
  ProxyUnderTest trusting(options);
  Tool tool(trusting.port());
  for (int i = 0; i < 2; ++i) {
    auto ok = tool.Call(Post("/v1/messages?beta=true", kMessagesBody, AnthropicAuth()));
    CHECK(ok.result_int() == 200);
    CHECK(ok.body() == kAnthropicJson);
  }
  CHECK(trusting.SettledRecord(2).output_tokens() == 42);
  CHECK(upstream.requests().at(0).headers.at("host") ==
        "localhost:" + std::to_string(upstream.port()));
  CHECK(upstream.requests().size() == 2);

  ProxyOptions missing = Options(upstream.url());
  missing.upstreams["anthropic"].ca_file = tls.dir / "absent.pem";
  FakeLedger ledger;
  asio::io_context ioc;
  auto bad = StartMeteringProxy(ioc, missing, ledger, Prices());
  REQUIRE_FALSE(bad);
  CHECK_THAT(bad.error().message, Catch::Contains("absent.pem"));
}

TEST_CASE("proxy: https works with OpenSSL's randomness from the kernel, as in the agent",
          "[meter]") {
  // The shipped agent makes this change at start (worker-agent/main.cc); from here on it holds
  // for the rest of this test process too, which is as harmless there.
  REQUIRE(UseKernelRandomInOpenSsl());
  unsigned char a[32] = {}, b[32] = {};
  REQUIRE(RAND_bytes(a, sizeof a) == 1);
  REQUIRE(RAND_bytes(b, sizeof b) == 1);
  CHECK(std::memcmp(a, b, sizeof a) != 0);

  SelfSigned tls;
  FakeLlmUpstream upstream([](const FakeLlmRequest&) { return JsonAnswer(kAnthropicJson); });
  REQUIRE(upstream.Start(tls.cert, tls.key));
  ProxyOptions options = Options(upstream.url());
  options.upstreams["anthropic"].ca_file = tls.cert;
  ProxyUnderTest proxy(options);
  auto ok = CallOnce(proxy.port(), Post("/v1/messages", kMessagesBody, AnthropicAuth()));
  CHECK(ok.result_int() == 200);
  CHECK(ok.body() == kAnthropicJson);
}

TEST_CASE("proxy: malformed settings are refused at start", "[meter]") {
  FakeLedger ledger;
  asio::io_context ioc;
  for (const char* url :
       {"ftp://x", "http://", "http://h:99999", "http://h/p?q=1", "localhost:80"}) {
    INFO(url);
    auto r = StartMeteringProxy(ioc, Options(url), ledger, Prices());
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kBadConfig);
  }
  ProxyOptions unknown;
  unknown.upstreams["gemini"] = {.url = "mock"};
  CHECK_FALSE(StartMeteringProxy(ioc, unknown, ledger, Prices()));
  auto ok = StartMeteringProxy(ioc, Options("https://api.anthropic.com"), ledger, Prices());
  REQUIRE(ok);
  CHECK((*ok)->url() == "http://127.0.0.1:" + std::to_string((*ok)->port()));
}

TEST_CASE("proxy: a listen address it cannot bind is refused at start in the proxy's words",
          "[meter]") {
  FakeLedger ledger;
  asio::io_context ioc;
  ProxyOptions named = Options("mock");
  named.host = "localhost";
  auto bad = StartMeteringProxy(ioc, named, ledger, Prices());
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == ErrorCode::kBadConfig);
  CHECK(bad.error().message == "bad proxy listen address localhost");

  auto first = StartMeteringProxy(ioc, Options("mock"), ledger, Prices());
  REQUIRE(first);
  ProxyOptions taken = Options("mock");
  taken.port = (*first)->port();
  auto second = StartMeteringProxy(ioc, taken, ledger, Prices());
  REQUIRE_FALSE(second);
  CHECK(second.error().code == ErrorCode::kUnavailable);
  CHECK_THAT(second.error().message,
             Catch::StartsWith(
                 "metering proxy cannot listen on 127.0.0.1:" + std::to_string(taken.port) + ": "));
}

}  // namespace
}  // namespace autovibe::meter
