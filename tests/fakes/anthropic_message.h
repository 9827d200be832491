// One Anthropic Messages API answer, written out the way the real API sends it: a streamed SSE
// body (message_start, content_block_start/delta/stop, message_delta, message_stop) or, when the
// request did not ask for a stream, one JSON message. For tests only (see fake_anthropic.h).
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace autovibe::testing {

struct AnthropicUsage {
  int64_t input_tokens = 0;
  int64_t cache_creation_input_tokens = 0;
  int64_t cache_read_input_tokens = 0;
  int64_t output_tokens = 0;
  // Of the cache writes, those to the 1-hour cache (usage.cache_creation splits them by TTL).
  int64_t cache_creation_1h_input_tokens = 0;
  int64_t web_search_requests = 0;  // usage.server_tool_use
  std::string service_tier = "standard";
};

struct AnthropicBlock {
  static AnthropicBlock Text(std::string text);
  static AnthropicBlock ToolUse(std::string id, std::string name, boost::json::object input);

  std::string type;  // "text" or "tool_use"
  std::string text;
  std::string tool_id;
  std::string tool_name;
  boost::json::object input;
};

struct AnthropicMessage {
  std::string id;  // "msg_..."
  std::string model;
  std::vector<AnthropicBlock> content;
  std::string stop_reason = "end_turn";  // "tool_use" when the last block calls a tool
  AnthropicUsage usage;
};

// The events of a streamed answer, each "event: ...\ndata: {...}\n\n"; text and tool input
// arrive in several deltas. message_start carries the input and cache figures with
// output_tokens 1 and no searches yet; message_delta the final figures, searches included.
std::vector<std::string> ToSseEvents(const AnthropicMessage& message);
// The whole SSE body of a streamed answer: the events joined.
std::string ToSse(const AnthropicMessage& message);
// The JSON body of a non-streamed answer.
std::string ToJson(const AnthropicMessage& message);
// {"type":"error","error":{"type":..,"message":..}}
std::string ErrorJson(const std::string& type, const std::string& message);

}  // namespace autovibe::testing
