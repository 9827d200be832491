#include "worker-agent/meter/usage.h"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace autovibe::meter {
namespace {

namespace json = boost::json;

const json::object* Object(const json::value* v) { return v ? v->if_object() : nullptr; }

const json::object* Member(const json::object* o, std::string_view key) {
  return o ? Object(o->if_contains(key)) : nullptr;
}

// A token count at `key`, if the member is a whole number (negative ones read as 0).
bool Count(const json::object* o, std::string_view key, int64_t& out) {
  const json::value* v = o ? o->if_contains(key) : nullptr;
  if (v == nullptr) return false;
  if (v->is_int64()) {
    out = std::max<int64_t>(v->get_int64(), 0);
  } else if (v->is_uint64()) {
    out = static_cast<int64_t>(std::min<uint64_t>(v->get_uint64(), INT64_MAX));
  } else {
    return false;
  }
  return true;
}

// A non-empty string at `key` into `out`.
void String(const json::object* o, std::string_view key, std::string& out) {
  const json::value* m = o ? o->if_contains(key) : nullptr;
  if (m != nullptr && m->is_string() && !m->get_string().empty()) {
    out = std::string(m->get_string());
  }
}

// Anthropic: each figure present replaces the one seen before (a stream's message_delta
// updates what message_start said).
void AnthropicUsage(const json::object* u, SeenUsage& seen) {
  if (u == nullptr) return;
  bool any = Count(u, "input_tokens", seen.tokens.input);
  any |= Count(u, "output_tokens", seen.tokens.output);
  any |= Count(u, "cache_creation_input_tokens", seen.tokens.cache_write);
  any |= Count(u, "cache_read_input_tokens", seen.tokens.cache_read);
  // The cache writes by lifetime; their sum is cache_creation_input_tokens.
  if (const json::object* c = Member(u, "cache_creation")) {
    int64_t m5 = 0, h1 = 0;
    bool split = Count(c, "ephemeral_5m_input_tokens", m5);
    split |= Count(c, "ephemeral_1h_input_tokens", h1);
    if (split) {
      seen.tokens.cache_write_1h = h1;
      if (!u->contains("cache_creation_input_tokens")) seen.tokens.cache_write = m5 + h1;
      any = true;
    }
  }
  any |=
      Count(Member(u, "server_tool_use"), "web_search_requests", seen.tokens.web_search_requests);
  String(u, "service_tier", seen.service_tier);
  seen.has_usage |= any;
}

// OpenAI: the cached tokens are part of the prompt's.
void OpenAiUsage(const json::object* u, std::string_view in_key, std::string_view out_key,
                 std::string_view details_key, SeenUsage& seen) {
  int64_t prompt = 0, output = 0, cached = 0;
  if (u == nullptr || !Count(u, in_key, prompt) || !Count(u, out_key, output)) return;
  Count(Member(u, details_key), "cached_tokens", cached);
  cached = std::min(cached, prompt);
  seen.tokens = TokenCounts{
      .input = prompt - cached, .output = output, .cache_write = 0, .cache_read = cached};
  seen.has_usage = true;
  seen.final = true;  // OpenAI reports usage once, at the end
}

// The usage (and model) of an answer object: a whole message, completion or response.
void ApplyAnswer(Api api, const json::object* answer, SeenUsage& seen) {
  if (answer == nullptr) return;
  String(answer, "model", seen.model);
  String(answer, "service_tier", seen.service_tier);
  const json::object* u = Member(answer, "usage");
  switch (api) {
    case Api::kMessages:
      AnthropicUsage(u, seen);
      break;
    case Api::kChatCompletions:
      OpenAiUsage(u, "prompt_tokens", "completion_tokens", "prompt_tokens_details", seen);
      break;
    case Api::kResponses:
      OpenAiUsage(u, "input_tokens", "output_tokens", "input_tokens_details", seen);
      break;
  }
}

// Stream events small enough are parsed without touching the heap.
template <class F>
void WithParsed(std::string_view data, F&& f) {
  unsigned char stack[4096];
  json::monotonic_resource mr(stack, sizeof stack);
  boost::system::error_code ec;
  json::value v = json::parse(data, ec, &mr);
  if (!ec) f(v.if_object());
}

// Whether a chat completion chunk carries a usage object ("usage": null on the others).
bool HasUsageObject(std::string_view data) {
  for (size_t at = data.find("\"usage\""); at != std::string_view::npos;
       at = data.find("\"usage\"", at + 1)) {
    size_t i = data.find_first_not_of(" \t\r\n", at + 7);
    if (i == std::string_view::npos || data[i] != ':') continue;
    i = data.find_first_not_of(" \t\r\n", i + 1);
    if (i != std::string_view::npos && data[i] == '{') return true;
  }
  return false;
}

bool IsFinalResponseEvent(std::string_view event) {
  return event == "response.completed" || event == "response.incomplete" ||
         event == "response.failed";
}

// The events that carry usage; the others' data is not even kept.
bool WantedEvent(Api api, std::string_view event) {
  switch (api) {
    case Api::kMessages:
      return event == "message_start" || event == "message_delta";
    case Api::kChatCompletions:
      return true;  // chunks are unnamed
    case Api::kResponses:
      return IsFinalResponseEvent(event);
  }
  return false;
}

}  // namespace

SeenUsage UsageFromJson(Api api, std::string_view body) {
  SeenUsage seen;
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (!ec) ApplyAnswer(api, v.if_object(), seen);
  seen.final = seen.has_usage;  // a whole answer's usage is its last word
  return seen;
}

void ApplyStreamEvent(Api api, std::string_view event, std::string_view data, SeenUsage& seen) {
  switch (api) {
    case Api::kMessages:
      if (event == "message_start") {
        WithParsed(data,
                   [&](const json::object* o) { ApplyAnswer(api, Member(o, "message"), seen); });
      } else if (event == "message_delta") {
        WithParsed(data, [&](const json::object* o) {
          AnthropicUsage(Member(o, "usage"), seen);
          seen.final = seen.has_usage;
        });
      }
      break;
    case Api::kChatCompletions:
      if (HasUsageObject(data)) {
        WithParsed(data, [&](const json::object* o) { ApplyAnswer(api, o, seen); });
      }
      break;
    case Api::kResponses:
      if (IsFinalResponseEvent(event)) {
        WithParsed(data,
                   [&](const json::object* o) { ApplyAnswer(api, Member(o, "response"), seen); });
      }
      break;
  }
}

UsageReader::UsageReader(Api api, bool event_stream) : api_(api) {
  if (!event_stream) return;
  sse_ = std::make_unique<SseSplitter>(
      kMaxEventBytes,
      [this](std::string_view event, std::string_view data) {
        ApplyStreamEvent(api_, event, data, seen_);
      },
      [api](std::string_view event) { return WantedEvent(api, event); });
}

void UsageReader::Feed(std::string_view bytes) {
  if (sse_) {
    sse_->Feed(bytes);
    return;
  }
  if (body_too_big_) return;
  if (body_.size() + bytes.size() > kMaxBodyBytes) {
    body_too_big_ = true;
    body_.clear();
    body_.shrink_to_fit();
    return;
  }
  body_.append(bytes);
}

SeenUsage UsageReader::Finish() {
  if (sse_) {
    if (sse_->overflowed()) return {};
    return seen_;
  }
  if (body_too_big_ || body_.empty()) return {};
  return UsageFromJson(api_, body_);
}

}  // namespace autovibe::meter
