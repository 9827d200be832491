// The fake LLM providers answer as the real APIs do where a client can tell (JSON and SSE
// shapes, usage figures, errors), and their tally is the sum of what they reported.
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "common/http/client.h"
#include "common/http/sse_client.h"
#include "tests/fakes/fake_anthropic.h"
#include "tests/fakes/fake_openai.h"
#include "tests/support/catch_result.h"

namespace autovibe::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

using Headers = std::vector<std::pair<std::string, std::string>>;

HttpReply Send(const std::string& url, const std::string& method, const std::string& body,
               Headers headers = {}, const std::string& bearer = "") {
  auto reply = SendHttp(
      {.method = method, .url = url, .bearer_token = bearer, .body = body, .headers = headers});
  REQUIRE(reply);
  return *reply;
}

json::object Object(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  INFO(text);
  REQUIRE(!ec);
  REQUIRE(v.is_object());
  return v.get_object();
}

std::vector<SseEvent> Events(const std::string& body) {
  std::vector<SseEvent> events;
  SseParser parser;
  parser.Feed(body, [&](const SseEvent& e) {
    events.push_back(e);
    return true;
  });
  return events;
}

int64_t Int(const json::value& v) { return v.to_number<int64_t>(); }

const json::object& At(const json::object& o, std::string_view key) {
  INFO("field " << key << " of " << json::serialize(o));
  REQUIRE(o.contains(key));
  REQUIRE(o.at(key).is_object());
  return o.at(key).get_object();
}

UsageTally SumOf(const std::vector<TokenUsage>& usages) {
  UsageTally sum;
  for (const TokenUsage& u : usages) sum.Add(u);
  return sum;
}

UsageTally TallyOverHttp(const std::string& url) {
  const HttpReply reply = Send(url + "/__tally", "GET", "");
  REQUIRE(reply.status == 200);
  const json::object o = Object(reply.body);
  return {Int(o.at("calls")), Int(o.at("input_tokens")), Int(o.at("output_tokens")),
          Int(o.at("cache_write_tokens")), Int(o.at("cache_read_tokens"))};
}

// Anthropic

const std::string kAsk =
    R"({"model":"claude-haiku-4-5","max_tokens":100,"messages":[{"role":"user","content":"hi"}])";

TokenUsage AnthropicUsageOf(const json::object& usage) {
  return {.input = Int(usage.at("input_tokens")),
          .output = Int(usage.at("output_tokens")),
          .cache_write = Int(usage.at("cache_creation_input_tokens")),
          .cache_read = Int(usage.at("cache_read_input_tokens"))};
}

struct AnthropicStream {
  std::vector<std::string> names;
  std::string text;
  TokenUsage start_usage;  // message_start's
  int64_t final_output = -1;
  std::string stop_reason;
};

AnthropicStream ReadAnthropicStream(const std::string& body) {
  AnthropicStream s;
  for (const SseEvent& e : Events(body)) {
    s.names.push_back(e.event);
    const json::object data = Object(e.data);
    CHECK(data.at("type").get_string() == e.event);
    if (e.event == "message_start") {
      s.start_usage = AnthropicUsageOf(At(At(data, "message"), "usage"));
    } else if (e.event == "content_block_delta") {
      s.text += std::string(At(data, "delta").at("text").get_string());
    } else if (e.event == "message_delta") {
      s.final_output = Int(At(data, "usage").at("output_tokens"));
      s.stop_reason = std::string(At(data, "delta").at("stop_reason").get_string());
    }
  }
  return s;
}

TEST_CASE("FakeAnthropic: a JSON answer carries the full usage it tallies", "[fakes]") {
  FakeAnthropic fake;
  REQUIRE(fake.Start());
  const HttpReply reply = Send(fake.url() + "/v1/messages", "POST", kAsk + "}");
  REQUIRE(reply.status == 200);
  const json::object m = Object(reply.body);
  CHECK(m.at("type") == "message");
  CHECK(m.at("stop_reason") == "end_turn");
  const TokenUsage usage = AnthropicUsageOf(At(m, "usage"));
  // The input is what the token counter says of the same request (its model, system, tools
  // and messages; not max_tokens), as with the real API: about four bytes a token.
  const HttpReply count = Send(fake.url() + "/v1/messages/count_tokens", "POST", kAsk + "}");
  REQUIRE(count.status == 200);
  CHECK(usage.input == Int(Object(count.body).at("input_tokens")));
  CHECK(usage.input > static_cast<int64_t>(kAsk.size() / 6));
  CHECK(usage.input < static_cast<int64_t>(kAsk.size() / 4));
  CHECK(usage.output >= 1);

  const auto requests = fake.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].usage == usage);
  CHECK(fake.Tally() == SumOf({usage}));
}

TEST_CASE("FakeAnthropic: a stream reports input at the start and output at the end", "[fakes]") {
  FakeAnthropic fake({.side_text = "a longer answer than sixteen bytes",
                      .usage = {.input_tokens = 40,
                                .output_tokens = 7,
                                .cache_write_tokens = 300,
                                .cache_read_tokens = 2000}});
  REQUIRE(fake.Start());
  const HttpReply reply =
      Send(fake.url() + "/v1/messages?beta=true", "POST", kAsk + R"(,"stream":true})");
  REQUIRE(reply.status == 200);
  CHECK(reply.content_type == "text/event-stream");
  const AnthropicStream s = ReadAnthropicStream(reply.body);
  CHECK(s.names.front() == "message_start");
  CHECK(s.names.back() == "message_stop");
  CHECK(s.text == "a longer answer than sixteen bytes");
  CHECK(s.start_usage ==
        TokenUsage{.input = 40, .output = 1, .cache_write = 300, .cache_read = 2000});
  CHECK(s.final_output == 7);
  CHECK(fake.Tally() == UsageTally{1, 40, 7, 300, 2000});
  CHECK(TallyOverHttp(fake.url()) == fake.Tally());
}

TEST_CASE("FakeAnthropic: the tally sums every answered call and only those", "[fakes]") {
  FakeAnthropic fake;
  REQUIRE(fake.Start());
  const std::string bigger = R"({"model":"m","max_tokens":100,"messages":[{"role":"user",)"
                             R"("content":[{"type":"text","text":"a much longer question",)"
                             R"("cache_control":{"type":"ephemeral"}}]}]})";
  CHECK(Send(fake.url() + "/v1/messages", "POST", kAsk + "}").status == 200);
  CHECK(Send(fake.url() + "/v1/messages", "POST", kAsk + R"(,"stream":true})").status == 200);
  CHECK(Send(fake.url() + "/v1/messages", "POST", bigger).status == 200);
  CHECK(Send(fake.url() + "/v1/messages/count_tokens", "POST", kAsk + "}").status == 200);
  CHECK(Send(fake.url() + "/v1/messages", "POST", "{not json").status == 400);

  std::vector<TokenUsage> reported;
  for (const auto& r : fake.requests()) {
    if (r.answer == "side_text") reported.push_back(r.usage);
  }
  REQUIRE(reported.size() == 3);
  CHECK(reported[0] != reported[2]);   // derived from the request: different calls differ
  CHECK(reported[2].cache_write > 0);  // a request with cache breakpoints writes the cache
  CHECK(fake.Tally() == SumOf(reported));
  CHECK(TallyOverHttp(fake.url()) == SumOf(reported));
  CHECK(fake.requests().size() == 5);  // reading the tally is not a request
}

TEST_CASE("FakeAnthropic: max_tokens caps the output and is required", "[fakes]") {
  FakeAnthropic fake({.usage = {.output_tokens = 500}});
  REQUIRE(fake.Start());
  const std::string small = R"({"model":"m","max_tokens":20,"messages":[]})";
  const json::object m = Object(Send(fake.url() + "/v1/messages", "POST", small).body);
  CHECK(Int(At(m, "usage").at("output_tokens")) == 20);
  CHECK(m.at("stop_reason") == "max_tokens");

  const HttpReply missing =
      Send(fake.url() + "/v1/messages", "POST", R"({"model":"m","messages":[]})");
  CHECK(missing.status == 400);
  const json::object e = Object(missing.body);
  CHECK(e.at("type") == "error");
  CHECK(At(e, "error").at("type") == "invalid_request_error");
  CHECK(At(e, "error").at("message") == "max_tokens: Field required");
  CHECK(fake.Tally().calls == 1);
}

TEST_CASE("FakeAnthropic: records the key that reached it and refuses another", "[fakes]") {
  FakeAnthropic fake({.api_key = "sk-real"});
  REQUIRE(fake.Start());
  const std::string url = fake.url() + "/v1/messages";
  CHECK(Send(url, "POST", kAsk + "}", {{"x-api-key", "sk-real"}}).status == 200);
  CHECK(Send(url, "POST", kAsk + "}", {}, "sk-real").status == 200);
  const HttpReply wrong = Send(url, "POST", kAsk + "}", {{"x-api-key", "task-token"}});
  CHECK(wrong.status == 401);
  CHECK(At(Object(wrong.body), "error").at("type") == "authentication_error");
  const HttpReply none = Send(url, "POST", kAsk + "}");
  CHECK(none.status == 401);
  CHECK(At(Object(none.body), "error").at("message") == "x-api-key header is required");

  const auto requests = fake.requests();
  REQUIRE(requests.size() == 4);
  CHECK(requests[0].x_api_key == "sk-real");
  CHECK(requests[1].authorization == "Bearer sk-real");
  CHECK(requests[2].x_api_key == "task-token");
  CHECK(requests[2].answer == "error");
  CHECK(fake.Tally().calls == 2);
}

TEST_CASE("FakeAnthropic: a slow model streams its events over time", "[fakes]") {
  FakeAnthropic fake({.pacing = {.answer_delay = 50ms, .event_delay = 10ms}});
  REQUIRE(fake.Start());
  std::vector<std::string> names;
  const auto start = std::chrono::steady_clock::now();
  auto reply = StreamEvents(
      {.method = "POST", .url = fake.url() + "/v1/messages", .body = kAsk + R"(,"stream":true})"},
      [&](const SseEvent& e) {
        names.push_back(e.event);
        return true;
      });
  const auto took = std::chrono::steady_clock::now() - start;
  REQUIRE(reply);
  CHECK(reply->is_stream());
  REQUIRE(names.size() >= 6);
  CHECK(names.back() == "message_stop");
  // The first event after answer_delay, every later one event_delay after the one before.
  CHECK(took >= 50ms + static_cast<int64_t>(names.size() - 1) * 10ms);

  const auto plain_start = std::chrono::steady_clock::now();
  const HttpReply plain = Send(fake.url() + "/v1/messages", "POST", kAsk + "}");
  CHECK(std::chrono::steady_clock::now() - plain_start >= 50ms);
  CHECK(Object(plain.body).at("type") == "message");
  CHECK(fake.Tally().calls == 2);
}

TEST_CASE("FakeAnthropic: a slow stream is chunked and keeps the connection, and is timed",
          "[fakes]") {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  namespace http = beast::http;
  FakeAnthropic fake({.pacing = {.answer_delay = 20ms, .event_delay = 5ms}});
  REQUIRE(fake.Start());
  fake.SetSideText("A longer answer that takes several deltas to stream out.");
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), fake.port()));
  beast::flat_buffer buffer;
  auto call = [&](const std::string& id, unsigned version) {
    http::request<http::string_body> req{http::verb::post, "/v1/messages", version};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::content_type, "application/json");
    req.body() = kAsk + R"(,"stream":true,"metadata":{"user_id":")" + id + R"("}})";
    req.keep_alive(version >= 11);
    req.prepare_payload();
    http::write(stream, req);
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    return res;
  };
  // Two answers over one connection, as over the real API.
  for (const std::string id : {"call-1", "call-2"}) {
    auto res = call(id, 11);
    CHECK(res.result_int() == 200);
    CHECK(res.chunked());
    CHECK(res.keep_alive());
    const AnthropicStream s = ReadAnthropicStream(res.body());
    CHECK(s.text == "A longer answer that takes several deltas to stream out.");
    CHECK(s.names.back() == "message_stop");
  }
  const std::vector<AnswerTiming> timings = fake.TakeTimings();
  REQUIRE(timings.size() == 2);
  CHECK(timings[0].user_id == "call-1");
  CHECK(timings[1].user_id == "call-2");
  for (const AnswerTiming& t : timings) CHECK(t.answered - t.received >= 20ms + 5 * 5ms);
  CHECK(fake.TakeTimings().empty());
  // HTTP/1.0 has no chunks: the answer ends with the connection.
  auto old = call("call-3", 10);
  CHECK(old.result_int() == 200);
  CHECK_FALSE(old.chunked());
  CHECK_FALSE(old.keep_alive());
  CHECK(ReadAnthropicStream(old.body()).names.back() == "message_stop");
}

// OpenAI

const std::string kChat = R"({"model":"gpt-4.1-mini","messages":[{"role":"user","content":"hi"}])";
const std::string kRespond = R"({"model":"gpt-4.1-mini","input":"hi")";

TokenUsage ChatUsageOf(const json::object& usage) {
  const int64_t prompt = Int(usage.at("prompt_tokens"));
  const int64_t cached = Int(At(usage, "prompt_tokens_details").at("cached_tokens"));
  const int64_t completion = Int(usage.at("completion_tokens"));
  CHECK(Int(usage.at("total_tokens")) == prompt + completion);
  return {.input = prompt - cached, .output = completion, .cache_read = cached};
}

TokenUsage ResponseUsageOf(const json::object& usage) {
  const int64_t input = Int(usage.at("input_tokens"));
  const int64_t cached = Int(At(usage, "input_tokens_details").at("cached_tokens"));
  const int64_t output = Int(usage.at("output_tokens"));
  CHECK(Int(usage.at("total_tokens")) == input + output);
  return {.input = input - cached, .output = output, .cache_read = cached};
}

const std::string kBearerKey = "sk-test";

HttpReply OpenAIPost(const FakeOpenAI& fake, const std::string& path, const std::string& body) {
  return Send(fake.url() + path, "POST", body, {}, kBearerKey);
}

TEST_CASE("FakeOpenAI: a chat completion carries its usage", "[fakes]") {
  FakeOpenAI fake({.text = "Hello there."});
  REQUIRE(fake.Start());
  const HttpReply reply = OpenAIPost(fake, "/v1/chat/completions", kChat + "}");
  REQUIRE(reply.status == 200);
  const json::object c = Object(reply.body);
  CHECK(c.at("object") == "chat.completion");
  CHECK(c.at("model") == "gpt-4.1-mini");
  const json::object& choice = c.at("choices").get_array().at(0).get_object();
  CHECK(At(choice, "message").at("content") == "Hello there.");
  CHECK(At(choice, "message").at("role") == "assistant");
  CHECK(choice.at("finish_reason") == "stop");
  const TokenUsage usage = ChatUsageOf(At(c, "usage"));
  CHECK(usage.input == static_cast<int64_t>((kChat.size() + 1) / 4));
  CHECK(usage.output == 3);
  CHECK(usage.cache_read == 0);
  CHECK(fake.Tally() == SumOf({usage}));
  CHECK(fake.requests().at(0).authorization == "Bearer sk-test");
}

TEST_CASE("FakeOpenAI: a chat stream ends in DONE and has usage only when asked", "[fakes]") {
  FakeOpenAI fake({.text = "a reply longer than one delta", .usage = {.output_tokens = 9}});
  REQUIRE(fake.Start());
  for (const bool include_usage : {false, true}) {
    const std::string body = kChat + R"(,"stream":true,"stream_options":{"include_usage":)" +
                             (include_usage ? "true" : "false") + "}}";
    const HttpReply reply = OpenAIPost(fake, "/v1/chat/completions", body);
    REQUIRE(reply.status == 200);
    CHECK_THAT(reply.content_type, Catch::StartsWith("text/event-stream"));
    const std::vector<SseEvent> events = Events(reply.body);
    REQUIRE(events.size() >= 4);
    CHECK(events.back().data == "[DONE]");
    std::string text;
    std::string finish;
    std::optional<TokenUsage> usage;
    for (size_t i = 0; i + 1 < events.size(); ++i) {
      CHECK(events[i].event == "message");
      const json::object chunk = Object(events[i].data);
      CHECK(chunk.at("object") == "chat.completion.chunk");
      CHECK(chunk.contains("usage") == include_usage);
      const json::array& choices = chunk.at("choices").get_array();
      if (choices.empty()) {
        CHECK(i + 2 == events.size());  // the usage chunk comes last, before [DONE]
        usage = ChatUsageOf(At(chunk, "usage"));
        continue;
      }
      if (include_usage) CHECK(chunk.at("usage").is_null());
      const json::object& delta = At(choices[0].get_object(), "delta");
      if (const auto* piece = delta.if_contains("content")) text += piece->get_string();
      if (const auto& f = choices[0].get_object().at("finish_reason"); f.is_string()) {
        finish = f.get_string();
      }
    }
    CHECK(text == "a reply longer than one delta");
    CHECK(finish == "stop");
    CHECK(usage.has_value() == include_usage);
    if (usage) {
      CHECK(usage->output == 9);
      CHECK(*usage == fake.requests().back().usage);
    }
  }
  CHECK(fake.Tally().calls == 2);
  CHECK(fake.Tally().output_tokens == 18);
}

TEST_CASE("FakeOpenAI: a response object carries its usage", "[fakes]") {
  FakeOpenAI fake({.text = "Done."});
  REQUIRE(fake.Start());
  const HttpReply reply = OpenAIPost(fake, "/v1/responses", kRespond + "}");
  REQUIRE(reply.status == 200);
  const json::object r = Object(reply.body);
  CHECK(r.at("object") == "response");
  CHECK(r.at("status") == "completed");
  const json::object& item = r.at("output").get_array().at(0).get_object();
  CHECK(item.at("type") == "message");
  CHECK(item.at("content").get_array().at(0).get_object().at("text") == "Done.");
  const TokenUsage usage = ResponseUsageOf(At(r, "usage"));
  CHECK(usage == fake.requests().at(0).usage);
  CHECK(fake.Tally() == SumOf({usage}));
}

TEST_CASE("FakeOpenAI: a response stream ends in response.completed with the usage", "[fakes]") {
  FakeOpenAI fake({.text = "streamed words of a response", .usage = {.input_tokens = 12}});
  REQUIRE(fake.Start());
  const HttpReply reply = OpenAIPost(fake, "/v1/responses", kRespond + R"(,"stream":true})");
  REQUIRE(reply.status == 200);
  const std::vector<SseEvent> events = Events(reply.body);
  REQUIRE(events.size() >= 4);
  CHECK(events.front().event == "response.created");
  CHECK(events.back().event == "response.completed");
  std::string text;
  int64_t sequence = 0;
  for (const SseEvent& e : events) {
    const json::object data = Object(e.data);
    CHECK(data.at("type") == json::value(e.event));
    CHECK(Int(data.at("sequence_number")) == sequence++);
    if (e.event == "response.output_text.delta") text += data.at("delta").get_string();
  }
  CHECK(text == "streamed words of a response");
  const json::object done = At(Object(events.back().data), "response");
  CHECK(done.at("status") == "completed");
  const TokenUsage usage = ResponseUsageOf(At(done, "usage"));
  CHECK(usage.input == 12);
  CHECK(At(Object(events.front().data), "response").at("usage").is_null());
  CHECK(fake.Tally() == SumOf({usage}));
  CHECK(TallyOverHttp(fake.url()) == fake.Tally());
}

TEST_CASE("FakeOpenAI: a long follow-up prompt is partly cached and the tally adds up", "[fakes]") {
  FakeOpenAI fake;
  REQUIRE(fake.Start());
  const std::string filler(8000, 'x');
  const std::string follow_up = R"({"model":"gpt-4.1","messages":[{"role":"user","content":")" +
                                filler + R"("},{"role":"assistant","content":"ok"},)" +
                                R"({"role":"user","content":"more"}]})";
  const json::object c = Object(OpenAIPost(fake, "/v1/chat/completions", follow_up).body);
  const TokenUsage cached = ChatUsageOf(At(c, "usage"));
  CHECK(cached.cache_read > 0);
  CHECK(cached.cache_read % 128 == 0);
  CHECK(cached.input + cached.cache_read == static_cast<int64_t>(follow_up.size() / 4));

  const json::object r = Object(OpenAIPost(fake, "/v1/responses", kRespond + "}").body);
  const TokenUsage plain = ResponseUsageOf(At(r, "usage"));
  CHECK(plain.cache_read == 0);
  CHECK(fake.Tally() == SumOf({cached, plain}));
  CHECK(TallyOverHttp(fake.url()) == SumOf({cached, plain}));
}

TEST_CASE("FakeOpenAI: the request's max tokens cut the answer", "[fakes]") {
  FakeOpenAI fake({.usage = {.output_tokens = 100}});
  REQUIRE(fake.Start());
  const json::object c =
      Object(OpenAIPost(fake, "/v1/chat/completions", kChat + R"(,"max_tokens":16})").body);
  CHECK(c.at("choices").get_array().at(0).get_object().at("finish_reason") == "length");
  CHECK(Int(At(c, "usage").at("completion_tokens")) == 16);

  const HttpReply streamed =
      OpenAIPost(fake, "/v1/responses", kRespond + R"(,"max_output_tokens":32,"stream":true})");
  const std::vector<SseEvent> events = Events(streamed.body);
  REQUIRE(!events.empty());
  CHECK(events.back().event == "response.incomplete");
  const json::object r = At(Object(events.back().data), "response");
  CHECK(r.at("status") == "incomplete");
  CHECK(At(r, "incomplete_details").at("reason") == "max_output_tokens");
  CHECK(Int(At(r, "usage").at("output_tokens")) == 32);
  CHECK(fake.Tally().output_tokens == 48);
}

void CheckOpenAIError(const HttpReply& reply, int status, const std::string& code_or_null) {
  INFO(reply.body);
  CHECK(reply.status == status);
  const json::object e = At(Object(reply.body), "error");
  CHECK(e.at("message").is_string());
  CHECK(e.at("type") == "invalid_request_error");
  CHECK(e.contains("param"));
  if (code_or_null.empty()) {
    CHECK(e.at("code").is_null());
  } else {
    CHECK(e.at("code") == json::value(code_or_null));
  }
}

TEST_CASE("FakeOpenAI: errors are shaped like OpenAI's and are not tallied", "[fakes]") {
  FakeOpenAI fake({.api_key = "sk-test"});
  REQUIRE(fake.Start());
  const std::string chat = fake.url() + "/v1/chat/completions";
  CheckOpenAIError(Send(chat, "POST", kChat + "}"), 401, "");
  CheckOpenAIError(Send(chat, "POST", kChat + "}", {{"x-api-key", "sk-test"}}), 401, "");
  CheckOpenAIError(Send(chat, "POST", kChat + "}", {}, "sk-other-key"), 401, "invalid_api_key");
  CheckOpenAIError(OpenAIPost(fake, "/v1/chat/completions", "{not json"), 400, "");
  const HttpReply no_model = OpenAIPost(fake, "/v1/chat/completions", R"({"messages":[]})");
  CheckOpenAIError(no_model, 400, "missing_required_parameter");
  CHECK(At(Object(no_model.body), "error").at("param") == "model");
  CheckOpenAIError(OpenAIPost(fake, "/v1/chat/completions", R"({"model":"m","messages":[]})"), 400,
                   "empty_array");
  CheckOpenAIError(OpenAIPost(fake, "/v1/responses", R"({"model":"m"})"), 400,
                   "missing_required_parameter");
  CheckOpenAIError(OpenAIPost(fake, "/v1/embeddings", kChat + "}"), 404, "");
  CheckOpenAIError(Send(chat, "GET", "", {}, kBearerKey), 404, "");

  CHECK(fake.CountAnswers("error") == 7);
  CHECK(fake.CountAnswers("not_found") == 2);
  CHECK(fake.Tally() == UsageTally{});
  CHECK(OpenAIPost(fake, "/v1/chat/completions", kChat + "}").status == 200);
  CHECK(fake.Tally().calls == 1);
}

TEST_CASE("FakeOpenAI: a slow model answers after its delay", "[fakes]") {
  FakeOpenAI fake({.pacing = {.answer_delay = 40ms, .event_delay = 5ms}});
  REQUIRE(fake.Start());
  const auto start = std::chrono::steady_clock::now();
  const HttpReply reply = OpenAIPost(fake, "/v1/chat/completions", kChat + R"(,"stream":true})");
  const auto took = std::chrono::steady_clock::now() - start;
  const std::vector<SseEvent> events = Events(reply.body);
  REQUIRE(events.size() >= 3);
  CHECK(events.back().data == "[DONE]");
  CHECK(took >= 40ms + static_cast<int64_t>(events.size() - 1) * 5ms);
}

}  // namespace
}  // namespace autovibe::testing
