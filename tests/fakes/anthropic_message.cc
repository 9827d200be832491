#include "tests/fakes/anthropic_message.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <string_view>

#include "tests/fakes/fake_provider.h"

namespace autovibe::testing {
namespace {

namespace json = boost::json;

// Deltas of at most this many bytes, so a client must put the pieces back together.
constexpr size_t kDeltaBytes = 16;

// The usage object as the API writes it; at a stream's start the output and searches are not
// known yet.
json::object UsageJson(const AnthropicUsage& u, bool start) {
  const int64_t h1 = std::min(u.cache_creation_1h_input_tokens, u.cache_creation_input_tokens);
  return {{"input_tokens", u.input_tokens},
          {"cache_creation_input_tokens", u.cache_creation_input_tokens},
          {"cache_read_input_tokens", u.cache_read_input_tokens},
          {"cache_creation",
           {{"ephemeral_5m_input_tokens", u.cache_creation_input_tokens - h1},
            {"ephemeral_1h_input_tokens", h1}}},
          {"output_tokens", start ? std::min<int64_t>(u.output_tokens, 1) : u.output_tokens},
          {"server_tool_use", {{"web_search_requests", start ? 0 : u.web_search_requests}}},
          {"service_tier", u.service_tier}};
}

// message_delta's usage: the final output, and the searches once there were some.
json::object DeltaUsageJson(const AnthropicUsage& u) {
  json::object usage{{"output_tokens", u.output_tokens}};
  if (u.web_search_requests > 0) {
    usage["server_tool_use"] = {{"web_search_requests", u.web_search_requests}};
  }
  return usage;
}

json::object BlockJson(const AnthropicBlock& b, bool empty) {
  if (b.type == "text") return {{"type", "text"}, {"text", empty ? "" : b.text}};
  return {{"type", "tool_use"},
          {"id", b.tool_id},
          {"name", b.tool_name},
          {"input", empty ? json::object() : b.input}};
}

void AppendEvent(std::string& out, std::string_view event, const json::object& data) {
  out += "event: ";
  out += event;
  out += "\ndata: ";
  out += json::serialize(data);
  out += "\n\n";
}

json::object Delta(size_t index, const AnthropicBlock& b, const std::string& piece) {
  json::object delta = b.type == "text"
                           ? json::object{{"type", "text_delta"}, {"text", piece}}
                           : json::object{{"type", "input_json_delta"}, {"partial_json", piece}};
  return {{"type", "content_block_delta"}, {"index", index}, {"delta", std::move(delta)}};
}

json::object MessageJson(const AnthropicMessage& m, bool start) {
  json::array content;
  if (!start) {
    for (const AnthropicBlock& b : m.content) content.push_back(BlockJson(b, false));
  }
  return {{"id", m.id},
          {"type", "message"},
          {"role", "assistant"},
          {"model", m.model},
          {"content", std::move(content)},
          {"stop_reason", start ? json::value(nullptr) : json::value(m.stop_reason)},
          {"stop_sequence", nullptr},
          {"usage", UsageJson(m.usage, start)}};
}

}  // namespace

AnthropicBlock AnthropicBlock::Text(std::string text) {
  AnthropicBlock b;
  b.type = "text";
  b.text = std::move(text);
  return b;
}

AnthropicBlock AnthropicBlock::ToolUse(std::string id, std::string name,
                                       boost::json::object input) {
  AnthropicBlock b;
  b.type = "tool_use";
  b.tool_id = std::move(id);
  b.tool_name = std::move(name);
  b.input = std::move(input);
  return b;
}

std::vector<std::string> ToSseEvents(const AnthropicMessage& m) {
  std::vector<std::string> out;
  auto add = [&](std::string_view event, const json::object& data) {
    out.emplace_back();
    AppendEvent(out.back(), event, data);
  };
  add("message_start", {{"type", "message_start"}, {"message", MessageJson(m, true)}});
  add("ping", {{"type", "ping"}});
  for (size_t i = 0; i < m.content.size(); ++i) {
    const AnthropicBlock& b = m.content[i];
    add("content_block_start",
        {{"type", "content_block_start"}, {"index", i}, {"content_block", BlockJson(b, true)}});
    const std::string whole = b.type == "text" ? b.text : json::serialize(b.input);
    for (const std::string& piece : SplitText(whole, kDeltaBytes))
      add("content_block_delta", Delta(i, b, piece));
    add("content_block_stop", {{"type", "content_block_stop"}, {"index", i}});
  }
  add("message_delta", {{"type", "message_delta"},
                        {"delta", {{"stop_reason", m.stop_reason}, {"stop_sequence", nullptr}}},
                        {"usage", DeltaUsageJson(m.usage)}});
  add("message_stop", {{"type", "message_stop"}});
  return out;
}

std::string ToSse(const AnthropicMessage& m) {
  std::string out;
  for (const std::string& event : ToSseEvents(m)) out += event;
  return out;
}

std::string ToJson(const AnthropicMessage& m) { return json::serialize(MessageJson(m, false)); }

std::string ErrorJson(const std::string& type, const std::string& message) {
  return json::serialize(
      json::object{{"type", "error"}, {"error", {{"type", type}, {"message", message}}}});
}

}  // namespace autovibe::testing
