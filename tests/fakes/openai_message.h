// One OpenAI answer, written out the way the real API sends it: a Chat Completions answer
// (`chat.completion` JSON, or `chat.completion.chunk` SSE lines ending in `data: [DONE]`) or a
// Responses answer (a `response` JSON object, or its `response.*` SSE events). For tests only
// (see fake_openai.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tests/fakes/fake_provider.h"

namespace autovibe::testing {

// A Responses answer that calls a function tool instead of answering with text.
struct OpenAIFunctionCall {
  std::string item_id;  // "fc_..."
  std::string call_id;  // "call_...": the function_call_output that answers it names it
  std::string name;
  std::string arguments;  // JSON text
};

struct OpenAIAnswer {
  std::string id;       // "chatcmpl-..." or "resp_..."
  std::string item_id;  // Responses only: the output message's id, "msg_..."
  std::string model;
  std::string text;
  int64_t created = 0;  // Unix seconds
  // input excludes the cached tokens, which are cache_read; cache_write is not reported.
  TokenUsage usage;
  bool truncated = false;                  // stopped at the request's max tokens
  std::string service_tier = "default";    // the tier the answer says it was served at
  std::optional<OpenAIFunctionCall> call;  // Responses only: the output is this call, not text
};

// Chat Completions: the JSON body, and the SSE lines of a stream. With `include_usage`
// (stream_options.include_usage) every chunk carries "usage": null and a last chunk with no
// choices carries the usage.
std::string ChatCompletionJson(const OpenAIAnswer& answer);
std::vector<std::string> ChatCompletionSse(const OpenAIAnswer& answer, bool include_usage);

// Responses: the JSON body, and the SSE events of a stream (response.created ...
// response.completed, which carries the whole response with its usage). A function call is
// streamed as its item added, its arguments in deltas and done, and the item done.
std::string ResponseJson(const OpenAIAnswer& answer);
std::vector<std::string> ResponseSse(const OpenAIAnswer& answer);

// {"error":{"message":..,"type":..,"param":..,"code":..}}; an unset param or code is null.
std::string OpenAIErrorJson(const std::string& message, const std::string& type,
                            const std::optional<std::string>& param = std::nullopt,
                            const std::optional<std::string>& code = std::nullopt);

}  // namespace autovibe::testing
