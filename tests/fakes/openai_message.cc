#include "tests/fakes/openai_message.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <string_view>

namespace autovibe::testing {
namespace {

namespace json = boost::json;

// Deltas of at most this many bytes, so a client must put the pieces back together.
constexpr size_t kDeltaBytes = 16;

// prompt_tokens and input_tokens count the cached tokens too.
int64_t PromptTokens(const TokenUsage& u) { return u.input + u.cache_read; }

json::object ChatUsageJson(const TokenUsage& u) {
  return {{"prompt_tokens", PromptTokens(u)},
          {"completion_tokens", u.output},
          {"total_tokens", PromptTokens(u) + u.output},
          {"prompt_tokens_details", {{"cached_tokens", u.cache_read}, {"audio_tokens", 0}}},
          {"completion_tokens_details",
           {{"reasoning_tokens", 0},
            {"audio_tokens", 0},
            {"accepted_prediction_tokens", 0},
            {"rejected_prediction_tokens", 0}}}};
}

json::object ChatBase(const OpenAIAnswer& a, std::string_view object) {
  return {{"id", a.id},
          {"object", object},
          {"created", a.created},
          {"model", a.model},
          {"service_tier", a.service_tier},
          {"system_fingerprint", "fp_fake"}};
}

std::string FinishReason(const OpenAIAnswer& a) { return a.truncated ? "length" : "stop"; }

std::string DataLine(const json::value& data) { return "data: " + json::serialize(data) + "\n\n"; }

json::object Chunk(const OpenAIAnswer& a, json::array choices, bool include_usage) {
  json::object chunk = ChatBase(a, "chat.completion.chunk");
  chunk["choices"] = std::move(choices);
  if (include_usage) chunk["usage"] = nullptr;
  return chunk;
}

json::object ChunkChoice(json::object delta, json::value finish_reason) {
  return {{"index", 0},
          {"delta", std::move(delta)},
          {"logprobs", nullptr},
          {"finish_reason", std::move(finish_reason)}};
}

json::object ResponseUsageJson(const TokenUsage& u) {
  return {{"input_tokens", PromptTokens(u)},
          {"input_tokens_details", {{"cached_tokens", u.cache_read}}},
          {"output_tokens", u.output},
          {"output_tokens_details", {{"reasoning_tokens", 0}}},
          {"total_tokens", PromptTokens(u) + u.output}};
}

json::object OutputText(const std::string& text) {
  return {{"type", "output_text"}, {"annotations", json::array()}, {"text", text}};
}

// The output message item; `done`: as it ends, else as it starts (no content yet).
json::object OutputItem(const OpenAIAnswer& a, bool done) {
  json::array content;
  if (done) content.push_back(OutputText(a.text));
  return {{"id", a.item_id},
          {"type", "message"},
          {"status", done ? (a.truncated ? "incomplete" : "completed") : "in_progress"},
          {"role", "assistant"},
          {"content", std::move(content)}};
}

// The function call item; `done`: with its arguments, else as it starts.
json::object CallItem(const OpenAIFunctionCall& c, bool done) {
  return {{"id", c.item_id},
          {"type", "function_call"},
          {"status", done ? "completed" : "in_progress"},
          {"arguments", done ? c.arguments : ""},
          {"call_id", c.call_id},
          {"name", c.name}};
}

// The answer's one output item: its function call or its message.
json::object AnswerItem(const OpenAIAnswer& a, bool done) {
  return a.call ? CallItem(*a.call, done) : OutputItem(a, done);
}

// The response object; `done`: with its output and usage, else as it starts.
json::object ResponseObject(const OpenAIAnswer& a, bool done) {
  json::array output;
  if (done) output.push_back(AnswerItem(a, true));
  json::value incomplete = nullptr;
  if (done && a.truncated) incomplete = json::object{{"reason", "max_output_tokens"}};
  const std::string status = !done ? "in_progress" : a.truncated ? "incomplete" : "completed";
  return {{"id", a.id},
          {"object", "response"},
          {"created_at", a.created},
          {"status", status},
          {"error", nullptr},
          {"incomplete_details", std::move(incomplete)},
          {"instructions", nullptr},
          {"model", a.model},
          {"output", std::move(output)},
          {"parallel_tool_calls", true},
          {"previous_response_id", nullptr},
          {"service_tier", a.service_tier},
          {"store", true},
          {"text", {{"format", {{"type", "text"}}}}},
          {"tool_choice", "auto"},
          {"tools", json::array()},
          {"truncation", "disabled"},
          {"usage", done ? json::value(ResponseUsageJson(a.usage)) : json::value(nullptr)},
          {"metadata", json::object()}};
}

// Writes Responses stream events, numbering them as the real API does.
class ResponseEvents {
 public:
  void Add(std::string_view type, json::object data) {
    data["type"] = type;
    data["sequence_number"] = sequence_++;
    events_.push_back("event: " + std::string(type) + "\n" + DataLine(data));
  }
  std::vector<std::string> Take() { return std::move(events_); }

 private:
  int64_t sequence_ = 0;
  std::vector<std::string> events_;
};

}  // namespace

std::string ChatCompletionJson(const OpenAIAnswer& a) {
  json::object body = ChatBase(a, "chat.completion");
  body["choices"] =
      json::array{{{"index", 0},
                   {"message", {{"role", "assistant"}, {"content", a.text}, {"refusal", nullptr}}},
                   {"logprobs", nullptr},
                   {"finish_reason", FinishReason(a)}}};
  body["usage"] = ChatUsageJson(a.usage);
  return json::serialize(body);
}

std::vector<std::string> ChatCompletionSse(const OpenAIAnswer& a, bool include_usage) {
  std::vector<std::string> out;
  auto add = [&](json::array choices) {
    out.push_back(DataLine(Chunk(a, std::move(choices), include_usage)));
  };
  add({ChunkChoice({{"role", "assistant"}, {"content", ""}, {"refusal", nullptr}}, nullptr)});
  for (const std::string& piece : SplitText(a.text, kDeltaBytes)) {
    add({ChunkChoice({{"content", piece}}, nullptr)});
  }
  add({ChunkChoice({}, json::value(FinishReason(a)))});
  if (include_usage) {
    json::object last = ChatBase(a, "chat.completion.chunk");
    last["choices"] = json::array();
    last["usage"] = ChatUsageJson(a.usage);
    out.push_back(DataLine(last));
  }
  out.push_back("data: [DONE]\n\n");
  return out;
}

std::string ResponseJson(const OpenAIAnswer& a) { return json::serialize(ResponseObject(a, true)); }

std::vector<std::string> ResponseSse(const OpenAIAnswer& a) {
  ResponseEvents events;
  events.Add("response.created", {{"response", ResponseObject(a, false)}});
  events.Add("response.in_progress", {{"response", ResponseObject(a, false)}});
  events.Add("response.output_item.added", {{"output_index", 0}, {"item", AnswerItem(a, false)}});
  if (a.call) {
    const json::object where{{"item_id", a.call->item_id}, {"output_index", 0}};
    for (const std::string& piece : SplitText(a.call->arguments, kDeltaBytes)) {
      json::object delta = where;
      delta["delta"] = piece;
      events.Add("response.function_call_arguments.delta", std::move(delta));
    }
    json::object arguments_done = where;
    arguments_done["arguments"] = a.call->arguments;
    events.Add("response.function_call_arguments.done", std::move(arguments_done));
    events.Add("response.output_item.done",
               {{"output_index", 0}, {"item", CallItem(*a.call, true)}});
    events.Add("response.completed", {{"response", ResponseObject(a, true)}});
    return events.Take();
  }
  const json::object where{{"item_id", a.item_id}, {"output_index", 0}, {"content_index", 0}};
  auto at = [&](json::object more) {
    json::object data = where;
    for (auto& kv : more) data[kv.key()] = std::move(kv.value());
    return data;
  };
  events.Add("response.content_part.added", at({{"part", OutputText("")}}));
  for (const std::string& piece : SplitText(a.text, kDeltaBytes)) {
    events.Add("response.output_text.delta", at({{"delta", piece}}));
  }
  events.Add("response.output_text.done", at({{"text", a.text}}));
  events.Add("response.content_part.done", at({{"part", OutputText(a.text)}}));
  events.Add("response.output_item.done", {{"output_index", 0}, {"item", OutputItem(a, true)}});
  events.Add(a.truncated ? "response.incomplete" : "response.completed",
             {{"response", ResponseObject(a, true)}});
  return events.Take();
}

std::string OpenAIErrorJson(const std::string& message, const std::string& type,
                            const std::optional<std::string>& param,
                            const std::optional<std::string>& code) {
  auto or_null = [](const std::optional<std::string>& s) {
    return s ? json::value(*s) : json::value(nullptr);
  };
  return json::serialize(json::object{{"error",
                                       {{"message", message},
                                        {"type", type},
                                        {"param", or_null(param)},
                                        {"code", or_null(code)}}}});
}

}  // namespace autovibe::testing
