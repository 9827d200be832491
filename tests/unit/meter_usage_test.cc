// Reading usage out of provider answers: JSON bodies and event streams of the Anthropic
// Messages, OpenAI chat completions and OpenAI responses APIs, shaped as the real ones, fed
// whole, byte by byte and in odd pieces.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "worker-agent/meter/sse.h"
#include "worker-agent/meter/usage.h"

namespace autovibe::meter {
namespace {

// Feeds `bytes` to a reader in pieces of `piece` bytes.
SeenUsage ReadInPieces(Api api, bool stream, std::string_view bytes, size_t piece) {
  UsageReader reader(api, stream);
  for (size_t i = 0; i < bytes.size(); i += piece) reader.Feed(bytes.substr(i, piece));
  return reader.Finish();
}

// The same answer must read the same however it is cut.
SeenUsage ReadEveryWay(Api api, bool stream, std::string_view bytes) {
  SeenUsage whole = ReadInPieces(api, stream, bytes, bytes.size());
  for (size_t piece : {1, 2, 3, 7, 64}) {
    INFO("pieces of " << piece);
    SeenUsage cut = ReadInPieces(api, stream, bytes, piece);
    CHECK(cut.has_usage == whole.has_usage);
    CHECK(cut.model == whole.model);
    CHECK(cut.tokens.input == whole.tokens.input);
    CHECK(cut.tokens.output == whole.tokens.output);
    CHECK(cut.tokens.cache_write == whole.tokens.cache_write);
    CHECK(cut.tokens.cache_read == whole.tokens.cache_read);
  }
  return whole;
}

std::string Crlf(std::string_view lf) {
  std::string out;
  for (char c : lf) {
    if (c == '\n') out.push_back('\r');
    out.push_back(c);
  }
  return out;
}

constexpr std::string_view kAnthropicJson = R"({
  "id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant",
  "model": "claude-sonnet-4-5-20250929",
  "content": [{"type": "text", "text": "Hello!"}],
  "stop_reason": "end_turn", "stop_sequence": null,
  "usage": {"input_tokens": 2095, "cache_creation_input_tokens": 2051,
            "cache_read_input_tokens": 14, "output_tokens": 503,
            "service_tier": "standard"}
})";

constexpr std::string_view kAnthropicStream =
    "event: message_start\n"
    R"(data: {"type":"message_start","message":{"id":"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5-20250929","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":472,"cache_creation_input_tokens":1000,"cache_read_input_tokens":20000,"output_tokens":2}}})"
    "\n\n"
    "event: content_block_start\n"
    R"(data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"
    "\n\n"
    "event: ping\n"
    R"(data: {"type": "ping"})"
    "\n\n"
    "event: content_block_delta\n"
    R"(data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello \"usage\": {"}})"
    "\n\n"
    "event: content_block_delta\n"
    R"(data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"!"}})"
    "\n\n"
    "event: content_block_stop\n"
    R"(data: {"type":"content_block_stop","index":0})"
    "\n\n"
    "event: message_delta\n"
    R"(data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}})"
    "\n\n"
    "event: message_stop\n"
    R"(data: {"type":"message_stop"})"
    "\n\n";

TEST_CASE("usage: an Anthropic message", "[meter]") {
  SeenUsage u = ReadEveryWay(Api::kMessages, false, kAnthropicJson);
  CHECK(u.has_usage);
  CHECK(u.model == "claude-sonnet-4-5-20250929");
  CHECK(u.tokens.input == 2095);
  CHECK(u.tokens.output == 503);
  CHECK(u.tokens.cache_write == 2051);
  CHECK(u.tokens.cache_read == 14);
  CHECK(UsageFromJson(Api::kMessages, kAnthropicJson).tokens.total() == 2095 + 503 + 2051 + 14);
}

TEST_CASE("usage: an Anthropic stream takes message_start's input and message_delta's output",
          "[meter]") {
  for (const std::string& stream : {std::string(kAnthropicStream), Crlf(kAnthropicStream)}) {
    SeenUsage u = ReadEveryWay(Api::kMessages, true, stream);
    CHECK(u.has_usage);
    CHECK(u.model == "claude-sonnet-4-5-20250929");
    CHECK(u.tokens.input == 472);
    CHECK(u.tokens.cache_write == 1000);
    CHECK(u.tokens.cache_read == 20000);
    CHECK(u.tokens.output == 15);
  }
}

TEST_CASE("usage: an Anthropic stream's figures are final only with message_delta", "[meter]") {
  std::string stream(kAnthropicStream);
  std::string head = stream.substr(0, stream.find("event: message_delta"));
  SeenUsage opening = ReadEveryWay(Api::kMessages, true, head);
  CHECK(opening.has_usage);
  CHECK(opening.tokens.output == 2);
  CHECK_FALSE(opening.final);
  CHECK(ReadEveryWay(Api::kMessages, true, stream).final);
  CHECK(UsageFromJson(Api::kMessages, kAnthropicJson).final);
}

TEST_CASE("usage: Anthropic 1-hour cache writes, web searches and the service tier", "[meter]") {
  constexpr std::string_view json = R"({"type":"message","model":"claude-sonnet-4-5",
    "usage":{"input_tokens":10,"cache_creation_input_tokens":500,"cache_read_input_tokens":0,
    "cache_creation":{"ephemeral_5m_input_tokens":200,"ephemeral_1h_input_tokens":300},
    "output_tokens":7,"server_tool_use":{"web_search_requests":3},"service_tier":"priority"}})";
  SeenUsage u = UsageFromJson(Api::kMessages, json);
  CHECK(u.tokens.cache_write == 500);
  CHECK(u.tokens.cache_write_1h == 300);
  CHECK(u.tokens.web_search_requests == 3);
  CHECK(u.service_tier == "priority");
  // Searches are reported at the end of a stream, in message_delta.
  std::string stream(kAnthropicStream);
  size_t at = stream.find(R"("usage":{"output_tokens":15})");
  stream.replace(at, 28,
                 R"("usage":{"output_tokens":15,"server_tool_use":{"web_search_requests":2}})");
  SeenUsage s = ReadEveryWay(Api::kMessages, true, stream);
  CHECK(s.tokens.web_search_requests == 2);
  CHECK(s.final);
}

TEST_CASE("usage: a later Anthropic message_delta updates the input figures too", "[meter]") {
  std::string stream(kAnthropicStream);
  stream +=
      "event: message_delta\n"
      R"(data: {"type":"message_delta","delta":{},"usage":{"input_tokens":500,"cache_read_input_tokens":19972,"output_tokens":40}})"
      "\n\n";
  SeenUsage u = ReadEveryWay(Api::kMessages, true, stream);
  CHECK(u.tokens.input == 500);
  CHECK(u.tokens.cache_read == 19972);
  CHECK(u.tokens.cache_write == 1000);
  CHECK(u.tokens.output == 40);
}

constexpr std::string_view kChatJson = R"({
  "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG", "object": "chat.completion",
  "created": 1741570283, "model": "gpt-4o-2024-08-06",
  "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi", "refusal": null,
               "annotations": []}, "logprobs": null, "finish_reason": "stop"}],
  "usage": {"prompt_tokens": 1117, "completion_tokens": 46, "total_tokens": 1163,
            "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
              "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}},
  "service_tier": "default", "system_fingerprint": "fp_fc9f1d7035"
})";

constexpr std::string_view kChatStream =
    R"(data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_06737a9306","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null})"
    "\n\n"
    R"(data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}],"usage":null})"
    "\n\n"
    R"(data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null})"
    "\n\n"
    R"(data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-mini-2024-07-18","choices":[],"usage":{"prompt_tokens":2006,"completion_tokens":300,"total_tokens":2306,"prompt_tokens_details":{"cached_tokens":1920,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}})"
    "\n\n"
    "data: [DONE]\n\n";

TEST_CASE("usage: an OpenAI chat completion counts cached tokens out of the prompt", "[meter]") {
  SeenUsage u = ReadEveryWay(Api::kChatCompletions, false, kChatJson);
  CHECK(u.has_usage);
  CHECK(u.model == "gpt-4o-2024-08-06");
  CHECK(u.tokens.input == 1117 - 1024);
  CHECK(u.tokens.cache_read == 1024);
  CHECK(u.tokens.cache_write == 0);
  CHECK(u.tokens.output == 46);
}

TEST_CASE("usage: an OpenAI chat stream reports on its last chunk", "[meter]") {
  for (const std::string& stream : {std::string(kChatStream), Crlf(kChatStream)}) {
    SeenUsage u = ReadEveryWay(Api::kChatCompletions, true, stream);
    CHECK(u.has_usage);
    CHECK(u.model == "gpt-4o-mini-2024-07-18");
    CHECK(u.tokens.input == 86);
    CHECK(u.tokens.cache_read == 1920);
    CHECK(u.tokens.output == 300);
  }
  // Without stream_options.include_usage there is no usage chunk.
  std::string without(kChatStream.substr(0, kChatStream.find("data: {\"id\":\"chatcmpl-1\","
                                                             "\"object\":\"chat.completion.chunk\","
                                                             "\"created\":1741570283,\"model\":"
                                                             "\"gpt-4o-mini-2024-07-18\","
                                                             "\"choices\":[]")));
  without += "data: [DONE]\n\n";
  CHECK_FALSE(ReadEveryWay(Api::kChatCompletions, true, without).has_usage);
}

constexpr std::string_view kResponsesJson = R"({
  "id": "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b", "object": "response",
  "created_at": 1741476542, "status": "completed", "model": "gpt-4.1-2025-04-14",
  "output": [{"type": "message", "id": "msg_67cc", "status": "completed", "role": "assistant",
              "content": [{"type": "output_text", "text": "In a peaceful grove", "annotations": []}]}],
  "usage": {"input_tokens": 36, "input_tokens_details": {"cached_tokens": 10},
            "output_tokens": 87, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 123}
})";

const std::string kResponsesStream =
    "event: response.created\n"
    R"(data: {"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","status":"in_progress","model":"o4-mini-2025-04-16","output":[],"usage":null}})"
    "\n\n"
    "event: response.output_text.delta\n"
    R"(data: {"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi"})"
    "\n\n"
    "event: response.completed\n"
    R"(data: {"type":"response.completed","sequence_number":9,"response":{"id":"resp_1","object":"response","status":"completed","model":"o4-mini-2025-04-16","output":[{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hi","annotations":[]}]}],"usage":{"input_tokens":5000,"input_tokens_details":{"cached_tokens":4096},"output_tokens":1200,"output_tokens_details":{"reasoning_tokens":1024},"total_tokens":6200}}})"
    "\n\n";

TEST_CASE("usage: an OpenAI response whole and streamed", "[meter]") {
  SeenUsage u = ReadEveryWay(Api::kResponses, false, kResponsesJson);
  CHECK(u.has_usage);
  CHECK(u.model == "gpt-4.1-2025-04-14");
  CHECK(u.tokens.input == 26);
  CHECK(u.tokens.cache_read == 10);
  CHECK(u.tokens.output == 87);

  SeenUsage s = ReadEveryWay(Api::kResponses, true, kResponsesStream);
  CHECK(s.has_usage);
  CHECK(s.model == "o4-mini-2025-04-16");
  CHECK(s.tokens.input == 904);
  CHECK(s.tokens.cache_read == 4096);
  CHECK(s.tokens.output == 1200);  // reasoning tokens are part of the output
}

TEST_CASE("usage: answers without usage or not JSON have none", "[meter]") {
  CHECK_FALSE(UsageFromJson(Api::kMessages, "").has_usage);
  CHECK_FALSE(UsageFromJson(Api::kMessages, "not json").has_usage);
  CHECK_FALSE(UsageFromJson(Api::kMessages, "[1,2]").has_usage);
  CHECK_FALSE(UsageFromJson(Api::kMessages,
                            R"({"type":"error","error":{"type":"overloaded_error","message":"x"}})")
                  .has_usage);
  CHECK_FALSE(
      UsageFromJson(Api::kChatCompletions, R"({"usage":{"prompt_tokens":"many"}})").has_usage);
  CHECK_FALSE(ReadInPieces(Api::kMessages, true, "event: ping\ndata: {}\n\n", 3).has_usage);
  // An event stream cut off before message_delta still has message_start's figures.
  std::string cut(kAnthropicStream.substr(0, kAnthropicStream.find("event: content_block_start")));
  SeenUsage partial = ReadInPieces(Api::kMessages, true, cut, 5);
  CHECK(partial.has_usage);
  CHECK(partial.tokens.input == 472);
  CHECK(partial.tokens.output == 2);
}

TEST_CASE("usage: an event past the size cap stops the reading: no usage", "[meter]") {
  std::string huge =
      "event: message_start\ndata: {\"message\":{\"usage\":{\"input_tokens\":1},\"x\":\"";
  huge += std::string(UsageReader::kMaxEventBytes, 'a');
  huge += "\"}}\n\n";
  huge += "event: message_delta\ndata: {\"usage\":{\"output_tokens\":3}}\n\n";
  CHECK_FALSE(ReadInPieces(Api::kMessages, true, huge, 1 << 16).has_usage);
  // A large event nobody reads costs nothing and stops nothing.
  std::string skipped = "event: content_block_delta\ndata: \"";
  skipped += std::string(UsageReader::kMaxEventBytes * 2, 'b');
  skipped += "\"\n\n";
  skipped += std::string(kAnthropicStream);
  SeenUsage u = ReadInPieces(Api::kMessages, true, skipped, 1 << 16);
  CHECK(u.has_usage);
  CHECK(u.tokens.output == 15);
}

TEST_CASE("sse: events are split at blank lines whatever the line ends and pieces", "[meter]") {
  std::string stream =
      ": comment\r\nevent: a\r\ndata: 1\r\ndata:2\r\n\r\nevent: b\rdata: x\r\rdata: no-name\n\n"
      "id: 5\nretry: 10\ndata: {}\n\n";
  for (size_t piece : {1, 2, 5, 100}) {
    std::vector<std::pair<std::string, std::string>> events;
    SseSplitter splitter(1 << 10, [&](std::string_view e, std::string_view d) {
      events.emplace_back(std::string(e), std::string(d));
    });
    for (size_t i = 0; i < stream.size(); i += piece) splitter.Feed(stream.substr(i, piece));
    REQUIRE(events.size() == 4);
    CHECK(events[0] == std::pair<std::string, std::string>{"a", "1\n2"});
    CHECK(events[1] == std::pair<std::string, std::string>{"b", "x"});
    CHECK(events[2] == std::pair<std::string, std::string>{"", "no-name"});
    CHECK(events[3] == std::pair<std::string, std::string>{"", "{}"});
    CHECK_FALSE(splitter.overflowed());
  }
}

}  // namespace
}  // namespace autovibe::meter
