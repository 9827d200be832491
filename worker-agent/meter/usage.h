// Reading what an LLM call used out of the provider's answer: the `usage` object of a JSON
// answer, or of the events of a streamed (SSE) one.
//
// Anthropic: usage.{input_tokens, output_tokens, cache_creation_input_tokens,
// cache_read_input_tokens, cache_creation.ephemeral_1h_input_tokens,
// server_tool_use.web_search_requests, service_tier}; in a stream, message_start carries the
// input figures and message_delta the cumulative output (and perhaps updated input) figures:
// the last value of each wins, and only message_delta's are final. OpenAI chat completions:
// usage.{prompt_tokens, completion_tokens, prompt_tokens_details.cached_tokens}, in a stream on the
// last chunk before [DONE] when stream_options.include_usage is set. OpenAI responses:
// usage.{input_tokens, output_tokens, input_tokens_details.cached_tokens}, in a stream on
// response.completed (or .incomplete, .failed). OpenAI counts cached tokens inside the prompt:
// input = prompt - cached; its answers name their service_tier at the top (chat) or in the
// response.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "worker-agent/meter/api.h"
#include "worker-agent/meter/prices.h"
#include "worker-agent/meter/sse.h"

namespace autovibe::meter {

struct SeenUsage {
  TokenCounts tokens;
  std::string model;         // the model the answer names; empty if it names none
  std::string service_tier;  // the tier the answer says it was served at; empty if none
  bool has_usage = false;
  // The figures are the answer's last word (a whole JSON answer's, a stream's final event's),
  // not the running count a stream starts with.
  bool final = false;
};

// The usage of a whole JSON answer; has_usage is false when the body carries none or is not
// JSON.
SeenUsage UsageFromJson(Api api, std::string_view body);

// Applies one event of a streamed answer to `seen`.
void ApplyStreamEvent(Api api, std::string_view event, std::string_view data, SeenUsage& seen);

// Reads the usage out of an answer while it passes through, one piece at a time: the events of
// an event stream as they complete, or a copy of any other body, parsed at the end. A stream
// event or a body beyond the caps is not read: such an answer has no usage.
class UsageReader {
 public:
  static constexpr size_t kMaxEventBytes = 4 << 20;
  static constexpr size_t kMaxBodyBytes = 8 << 20;

  UsageReader(Api api, bool event_stream);
  UsageReader(const UsageReader&) = delete;
  UsageReader& operator=(const UsageReader&) = delete;
  void Feed(std::string_view bytes);
  // What was seen. Call once, after the last piece.
  SeenUsage Finish();

 private:
  Api api_;
  SeenUsage seen_;
  std::unique_ptr<SseSplitter> sse_;  // null for a JSON body
  std::string body_;
  bool body_too_big_ = false;
};

}  // namespace autovibe::meter
