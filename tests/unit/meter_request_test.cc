// Reading a tool's request before it is forwarded (model, stream, output limit, worst case),
// and the per-task rate limits.
#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include "tests/support/catch_result.h"
#include "tests/unit/meter_test_prices.h"
#include "worker-agent/meter/rate_limit.h"
#include "worker-agent/meter/request.h"

namespace autovibe::meter {
namespace {

using namespace std::chrono_literals;

const PriceTable& Prices() { return TestPrices(); }

CallPlan Plan(Api api, std::string body) {
  auto plan = PlanCall(api, std::move(body), Prices());
  REQUIRE(plan);
  return *std::move(plan);
}

Error PlanError(Api api, std::string body) {
  auto plan = PlanCall(api, std::move(body), Prices());
  REQUIRE_FALSE(plan);
  return plan.error();
}

TEST_CASE("request: the worst case of an Anthropic call", "[meter]") {
  std::string body = R"({"model":"claude-sonnet-4-5-20250929","max_tokens":1000,"stream":true,)"
                     R"("messages":[{"role":"user","content":"Hello, \"model\": \"x\""}]})";
  CallPlan plan = Plan(Api::kMessages, body);
  CHECK(plan.model == "claude-sonnet-4-5-20250929");
  CHECK(plan.stream);
  CHECK(plan.worst_tokens.output == 1000);
  CHECK(plan.request.input_bound == static_cast<int64_t>(body.size()));
  // Every body byte a token at the cache-write price ($3.75), 1000 output tokens at $15.
  int64_t usd =
      (static_cast<int64_t>(body.size()) * 3'750'000 + int64_t{1000} * 15'000'000 + 999'999) /
      1'000'000;
  CHECK(plan.worst == Amounts{.usd_micros = usd,
                              .tokens = static_cast<int64_t>(body.size()) + 1000,
                              .api_calls = 1});
  CHECK(plan.body == body);  // forwarded untouched
}

TEST_CASE("request: without an output limit the model's maximum is reserved", "[meter]") {
  CallPlan plan = Plan(Api::kMessages, R"({"model":"claude-sonnet-4-5","messages":[]})");
  CHECK_FALSE(plan.stream);
  CHECK(plan.worst_tokens.output == 64000);
  CHECK(plan.worst.tokens == plan.request.input_bound + 64000);
  CHECK(plan.worst.usd_micros > 64000 * 15);

  CHECK(Plan(Api::kChatCompletions, R"({"model":"gpt-4o-mini","max_tokens":50})")
            .worst_tokens.output == 50);
  CHECK(Plan(Api::kChatCompletions,
             R"({"model":"gpt-4o-mini","max_tokens":50,"max_completion_tokens":70})")
            .worst_tokens.output == 70);
  CHECK(Plan(Api::kResponses, R"({"model":"gpt-4o-mini","max_output_tokens":80})")
            .worst_tokens.output == 80);
  // Another API's limit is not this one's.
  CHECK(Plan(Api::kResponses, R"({"model":"gpt-4o-mini","max_tokens":80})").worst_tokens.output ==
        16384);
  // Nested members of the same names do not count.
  CHECK(Plan(Api::kMessages, R"({"metadata":{"model":"gpt-4o-mini","max_tokens":5,"stream":true},)"
                             R"("model":"claude-sonnet-4-5"})")
            .worst_tokens.output == 64000);
}

TEST_CASE("request: bad bodies are refused before anything is reserved", "[meter]") {
  for (const char* body :
       {"", "not json", "[]", "{\"model\":\"claude-sonnet-4-5\"", "{} {}", "{\"messages\":[]}",
        "{\"model\":42}", "{\"model\":\"\"}", "{\"model\":[\"claude-sonnet-4-5\"]}",
        "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":0}",
        "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":-3}",
        "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":\"100\"}",
        "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1.5}"}) {
    INFO(body);
    CHECK(PlanError(Api::kMessages, body).code == ErrorCode::kBadRequest);
  }
  Error unknown = PlanError(Api::kMessages, R"({"model":"claude-unknown-9","messages":[]})");
  CHECK(unknown.code == ErrorCode::kUnknownModel);
  CHECK_THAT(unknown.message,
             Catch::Contains("claude-unknown-9") && Catch::Contains("no price in prices.toml"));
}

TEST_CASE("request: content the provider fetches or keeps cannot be bounded and is refused",
          "[meter]") {
  const std::pair<Api, std::string> refused[] = {
      // Anthropic: an image or document from a URL or the Files API, also in a tool result.
      {Api::kMessages,
       R"({"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":[)"
       R"({"type":"document","source":{"type":"url","url":"https://x/300p.pdf"}}]}]})"},
      {Api::kMessages,
       R"({"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":[)"
       R"({"type":"image","source":{"type":"file","file_id":"file_1"}}]}]})"},
      {Api::kMessages,
       R"({"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":[)"
       R"({"type":"tool_result","tool_use_id":"t","content":[{"type":"image","source":)"
       R"({"url":"https://x/a.png","type":"url"}}]}]}]})"},
      // OpenAI chat: an image by http URL, a stored file.
      {Api::kChatCompletions,
       R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":[{"type":"image_url",)"
       R"("image_url":{"url":"https://x/a.png","detail":"high"}}]}]})"},
      {Api::kChatCompletions,
       R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":[{"type":"file",)"
       R"("file":{"file_id":"file-1"}}]}]})"},
      // OpenAI responses: stored context, prompts, items, files and fetched images.
      {Api::kResponses, R"({"model":"gpt-4o-mini","previous_response_id":"resp_1","input":"hi"})"},
      {Api::kResponses, R"({"model":"gpt-4o-mini","conversation":{"id":"conv_1"},"input":"hi"})"},
      {Api::kResponses, R"({"model":"gpt-4o-mini","prompt":{"id":"pmpt_1"}})"},
      {Api::kResponses,
       R"({"model":"gpt-4o-mini","input":[{"type":"item_reference","id":"msg_1"}]})"},
      {Api::kResponses,
       R"({"model":"gpt-4o-mini","input":[{"role":"user","content":[{"type":"input_file",)"
       R"("file_url":"https://x/a.pdf"}]}]})"},
      {Api::kResponses,
       R"({"model":"gpt-4o-mini","input":[{"role":"user","content":[{"type":"input_image",)"
       R"("image_url":"https://x/a.png"}]}]})"},
  };
  for (const auto& [api, body] : refused) {
    INFO(body);
    Error e = PlanError(api, body);
    CHECK(e.code == ErrorCode::kBadRequest);
    CHECK_THAT(e.message, Catch::Contains("cannot be bounded"));
  }
  // Inline content is in the bytes; a tool's own input or schema naming a url or a file_id is
  // not content the provider fetches.
  const std::pair<Api, std::string> bounded[] = {
      {Api::kMessages,
       R"({"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":[)"
       R"({"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBO"}},)"
       R"({"type":"document","source":{"type":"text","media_type":"text/plain","data":"x"}},)"
       R"({"type":"search_result","source":"https://x/","title":"t","content":[]}]},)"
       R"({"role":"assistant","content":[{"type":"tool_use","id":"t","name":"fetch","input":)"
       R"({"source":{"type":"url"},"file_id":"f","url":"https://x/"}}]}],)"
       R"("tools":[{"name":"fetch","input_schema":{"type":"object","properties":)"
       R"({"file_id":{"type":"string"},"image_url":{"type":"string"}}}}]})"},
      {Api::kChatCompletions,
       R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":[{"type":"image_url",)"
       R"("image_url":{"url":"data:image/png;base64,iVBO"}}]}]})"},
      {Api::kResponses, R"({"model":"gpt-4o-mini","previous_response_id":null,"input":[)"
                        R"({"role":"user","content":[{"type":"input_image","image_url":)"
                        R"("data:image/png;base64,iVBO"},{"type":"input_file",)"
                        R"("file_data":"data:application/pdf;base64,JVBE"}]}]})"},
  };
  for (const auto& [api, body] : bounded) {
    INFO(body);
    CHECK(PlanCall(api, body, Prices()));
  }
}

TEST_CASE("request: a streamed chat completion is made to report its usage", "[meter]") {
  auto include_usage = [](const std::string& body) {
    auto v = boost::json::parse(body);
    return v.at("stream_options").at("include_usage").as_bool();
  };
  CallPlan added =
      Plan(Api::kChatCompletions, R"( {"model":"gpt-4o-mini","stream":true,"temperature":0.7})");
  CHECK(include_usage(added.body));
  CHECK(boost::json::parse(added.body).at("temperature").as_double() == 0.7);

  CallPlan turned_on = Plan(
      Api::kChatCompletions,
      R"({"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":false,"x":1}})");
  CHECK(include_usage(turned_on.body));
  CHECK(boost::json::parse(turned_on.body).at("stream_options").at("x").as_int64() == 1);

  std::string asked =
      R"({"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true}})";
  CHECK(Plan(Api::kChatCompletions, asked).body == asked);
  std::string not_streamed = R"({"model":"gpt-4o-mini","stream":false})";
  CHECK(Plan(Api::kChatCompletions, not_streamed).body == not_streamed);
  std::string responses = R"({"model":"gpt-4o-mini","stream":true})";
  CHECK(Plan(Api::kResponses, responses).body == responses);
}

TEST_CASE("rate limit: requests per minute over a sliding window", "[meter]") {
  RateLimiter limiter(2, 0);
  auto t0 = RateLimiter::Clock::time_point{} + 1000s;
  CHECK(limiter.Admit("t1", 10, t0).ticket);
  CHECK(limiter.Admit("t1", 10, t0 + 10s).ticket);
  auto refused = limiter.Admit("t1", 10, t0 + 20s);
  CHECK_FALSE(refused.ticket);
  CHECK(refused.retry_after == 40s);
  CHECK(limiter.Admit("t2", 10, t0 + 20s).ticket);  // per task
  CHECK(limiter.Admit("t1", 10, t0 + 60s).ticket);  // the first has left the window
  CHECK_FALSE(limiter.Admit("t1", 10, t0 + 61s).ticket);
}

TEST_CASE("rate limit: tokens per minute count the worst case until settled", "[meter]") {
  RateLimiter limiter(0, 1000);
  auto t0 = RateLimiter::Clock::time_point{} + 1000s;
  auto first = limiter.Admit("t", 800, t0);
  REQUIRE(first.ticket);
  auto refused = limiter.Admit("t", 300, t0 + 1s);
  CHECK_FALSE(refused.ticket);
  CHECK(refused.retry_after == 59s);
  limiter.Correct(*first.ticket, 100);  // it used far less
  CHECK(limiter.Admit("t", 300, t0 + 2s).ticket);
  // One call above the limit goes through an empty window, not never.
  RateLimiter small(0, 10);
  CHECK(small.Admit("t", 50, t0).ticket);
  CHECK_FALSE(small.Admit("t", 1, t0 + 1s).ticket);
}

}  // namespace
}  // namespace autovibe::meter
