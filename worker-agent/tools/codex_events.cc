#include "worker-agent/tools/codex_events.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <limits>

namespace autovibe::tools {
namespace {

namespace json = boost::json;

// Codex's item types that are a step of the agent's work (not reasoning, plans or warnings).
constexpr std::string_view kStepItems[] = {"agent_message", "command_execution", "file_change",
                                           "mcp_tool_call", "web_search"};

std::string_view Str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

const json::object* Obj(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr ? v->if_object() : nullptr;
}

// A count of tokens: a non-negative integer, else 0.
int64_t Count(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_int64()) return std::max<int64_t>(0, v->get_int64());
  if (v->is_uint64()) {
    return static_cast<int64_t>(
        std::min<uint64_t>(v->get_uint64(), std::numeric_limits<int64_t>::max()));
  }
  return 0;
}

int64_t SaturatingAdd(int64_t a, int64_t b) {
  return a > std::numeric_limits<int64_t>::max() - b ? std::numeric_limits<int64_t>::max() : a + b;
}

// Codex quotes a provider's refusal whole ("{\"error\": {\"message\": ...}}"): its message.
std::string ErrorMessage(std::string_view message) {
  boost::system::error_code ec;
  json::value v = json::parse(message, ec);
  if (!ec && v.is_object()) {
    if (const json::object* error = Obj(v.get_object(), "error")) {
      if (std::string_view inner = Str(*error, "message"); !inner.empty()) {
        return std::string(inner);
      }
    }
  }
  return std::string(message);
}

void AddUsage(CodexUsage& total, const json::object& usage) {
  const int64_t cached = Count(usage, "cached_input_tokens");
  const int64_t written = Count(usage, "cache_write_input_tokens");
  // input_tokens counts the cached ones too (as OpenAI's API does).
  const int64_t input = std::max<int64_t>(0, Count(usage, "input_tokens") - cached - written);
  total.input = SaturatingAdd(total.input, input);
  total.cache_read = SaturatingAdd(total.cache_read, cached);
  total.cache_write = SaturatingAdd(total.cache_write, written);
  total.output = SaturatingAdd(total.output, Count(usage, "output_tokens"));
}

}  // namespace

void CodexTranscript::OnObject(const json::object& o) {
  const std::string_view type = Str(o, "type");
  if (type == "thread.started") {
    thread_id_ = Str(o, "thread_id");
  } else if (type == "item.completed") {
    const json::object* item = Obj(o, "item");
    if (item == nullptr) return;
    const std::string_view kind = Str(*item, "type");
    if (std::find(std::begin(kStepItems), std::end(kStepItems), kind) != std::end(kStepItems)) {
      ++steps_;
    }
    if (kind == "agent_message") last_message_ = Str(*item, "text");
  } else if (type == "turn.completed") {
    ++turns_completed_;
    last_turn_end_ = type;
    if (const json::object* usage = Obj(o, "usage")) AddUsage(usage_, *usage);
  } else if (type == "turn.failed") {
    last_turn_end_ = type;
    if (const json::object* error = Obj(o, "error")) error_ = ErrorMessage(Str(*error, "message"));
  } else if (type == "error") {
    error_ = ErrorMessage(Str(o, "message"));
  } else if (type.empty()) {
    CountUnparsed();
  }
}

}  // namespace autovibe::tools
