#include "worker-agent/meter/mock.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <ctime>

namespace autovibe::meter {
namespace {

namespace json = boost::json;

// The text in word-sized deltas, as a model streams it.
std::vector<std::string> Deltas(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t space = text.find(' ', start);
    size_t end = space == std::string::npos ? text.size() : space + 1;
    out.push_back(text.substr(start, end - start));
    start = end;
  }
  if (out.empty()) out.emplace_back();
  return out;
}

std::string Event(std::string_view name, const json::object& data) {
  std::string e = "event: ";
  e.append(name).append("\ndata: ").append(json::serialize(data)).append("\n\n");
  return e;
}

std::string Chunk(const json::object& data) { return "data: " + json::serialize(data) + "\n\n"; }

// --- Anthropic Messages ---

json::object AnthropicUsage(const MockSettings& m, int64_t output_tokens) {
  return {{"input_tokens", m.input_tokens},
          {"cache_creation_input_tokens", m.cache_write_tokens},
          {"cache_read_input_tokens", m.cache_read_tokens},
          {"output_tokens", output_tokens}};
}

json::object AnthropicMessage(const CallPlan& plan, const MockSettings& m, const std::string& id,
                              bool done) {
  json::array content;
  if (done) content.push_back(json::object{{"type", "text"}, {"text", m.text}});
  return {{"id", id},
          {"type", "message"},
          {"role", "assistant"},
          {"model", plan.model},
          {"content", std::move(content)},
          {"stop_reason", done ? json::value("end_turn") : json::value(nullptr)},
          {"stop_sequence", nullptr},
          {"usage", AnthropicUsage(m, done ? m.output_tokens : 1)}};
}

MockAnswer Messages(const CallPlan& plan, const MockSettings& m, const std::string& id) {
  if (!plan.stream) {
    return {"application/json", {json::serialize(AnthropicMessage(plan, m, id, true))}};
  }
  MockAnswer a{"text/event-stream", {}};
  a.pieces.push_back(Event("message_start", {{"type", "message_start"},
                                             {"message", AnthropicMessage(plan, m, id, false)}}));
  a.pieces.push_back(Event("content_block_start",
                           {{"type", "content_block_start"},
                            {"index", 0},
                            {"content_block", json::object{{"type", "text"}, {"text", ""}}}}));
  a.pieces.push_back(Event("ping", {{"type", "ping"}}));
  for (const std::string& d : Deltas(m.text)) {
    a.pieces.push_back(Event("content_block_delta",
                             {{"type", "content_block_delta"},
                              {"index", 0},
                              {"delta", json::object{{"type", "text_delta"}, {"text", d}}}}));
  }
  a.pieces.push_back(Event("content_block_stop", {{"type", "content_block_stop"}, {"index", 0}}));
  a.pieces.push_back(Event("message_delta", {{"type", "message_delta"},
                                             {"delta", json::object{{"stop_reason", "end_turn"},
                                                                    {"stop_sequence", nullptr}}},
                                             {"usage", AnthropicUsage(m, m.output_tokens)}}));
  a.pieces.push_back(Event("message_stop", {{"type", "message_stop"}}));
  return a;
}

// --- OpenAI ---

// Cached tokens are part of the prompt's count.
int64_t PromptTokens(const MockSettings& m) {
  return m.input_tokens + m.cache_write_tokens + m.cache_read_tokens;
}

json::object ChatUsage(const MockSettings& m) {
  return {{"prompt_tokens", PromptTokens(m)},
          {"completion_tokens", m.output_tokens},
          {"total_tokens", PromptTokens(m) + m.output_tokens},
          {"prompt_tokens_details", json::object{{"cached_tokens", m.cache_read_tokens}}},
          {"completion_tokens_details", json::object{{"reasoning_tokens", 0}}}};
}

MockAnswer ChatCompletions(const CallPlan& plan, const MockSettings& m, const std::string& id) {
  int64_t created = std::time(nullptr);
  if (!plan.stream) {
    json::object message{{"role", "assistant"}, {"content", m.text}, {"refusal", nullptr}};
    json::object choice{{"index", 0},
                        {"message", std::move(message)},
                        {"logprobs", nullptr},
                        {"finish_reason", "stop"}};
    json::object body{{"id", id},
                      {"object", "chat.completion"},
                      {"created", created},
                      {"model", plan.model},
                      {"choices", json::array{std::move(choice)}},
                      {"usage", ChatUsage(m)}};
    return {"application/json", {json::serialize(body)}};
  }
  auto chunk = [&](json::value delta, json::value finish) {
    json::object choice{{"index", 0},
                        {"delta", std::move(delta)},
                        {"logprobs", nullptr},
                        {"finish_reason", std::move(finish)}};
    return Chunk({{"id", id},
                  {"object", "chat.completion.chunk"},
                  {"created", created},
                  {"model", plan.model},
                  {"choices", json::array{std::move(choice)}},
                  {"usage", nullptr}});
  };
  MockAnswer a{"text/event-stream", {}};
  a.pieces.push_back(chunk(json::object{{"role", "assistant"}, {"content", ""}}, nullptr));
  for (const std::string& d : Deltas(m.text)) {
    a.pieces.push_back(chunk(json::object{{"content", d}}, nullptr));
  }
  a.pieces.push_back(chunk(json::object{}, "stop"));
  a.pieces.push_back(Chunk({{"id", id},
                            {"object", "chat.completion.chunk"},
                            {"created", created},
                            {"model", plan.model},
                            {"choices", json::array{}},
                            {"usage", ChatUsage(m)}}));
  a.pieces.push_back("data: [DONE]\n\n");
  return a;
}

json::object ResponsesUsage(const MockSettings& m) {
  return {{"input_tokens", PromptTokens(m)},
          {"input_tokens_details", json::object{{"cached_tokens", m.cache_read_tokens}}},
          {"output_tokens", m.output_tokens},
          {"output_tokens_details", json::object{{"reasoning_tokens", 0}}},
          {"total_tokens", PromptTokens(m) + m.output_tokens}};
}

json::object OutputText(const std::string& text) {
  return {{"type", "output_text"}, {"annotations", json::array{}}, {"text", text}};
}

json::object OutputMessage(const std::string& id, const MockSettings& m, bool done) {
  json::array content;
  if (done) content.push_back(OutputText(m.text));
  return {{"id", id},
          {"type", "message"},
          {"status", done ? "completed" : "in_progress"},
          {"role", "assistant"},
          {"content", std::move(content)}};
}

json::object Response(const CallPlan& plan, const MockSettings& m, const std::string& id,
                      bool done) {
  json::array output;
  if (done) output.push_back(OutputMessage("msg_" + id, m, true));
  return {{"id", "resp_" + id},
          {"object", "response"},
          {"created_at", std::time(nullptr)},
          {"status", done ? "completed" : "in_progress"},
          {"model", plan.model},
          {"output", std::move(output)},
          {"usage", done ? json::value(ResponsesUsage(m)) : json::value(nullptr)}};
}

MockAnswer Responses(const CallPlan& plan, const MockSettings& m, const std::string& id) {
  if (!plan.stream) return {"application/json", {json::serialize(Response(plan, m, id, true))}};
  MockAnswer a{"text/event-stream", {}};
  int64_t seq = 0;
  auto event = [&](std::string_view type, json::object fields) {
    json::object data{{"type", type}, {"sequence_number", seq++}};
    for (auto& f : fields) data.emplace(f.key(), std::move(f.value()));
    a.pieces.push_back(Event(type, data));
  };
  std::string item = "msg_" + id;
  event("response.created", {{"response", Response(plan, m, id, false)}});
  event("response.in_progress", {{"response", Response(plan, m, id, false)}});
  event("response.output_item.added",
        {{"output_index", 0}, {"item", OutputMessage(item, m, false)}});
  event("response.content_part.added",
        {{"item_id", item}, {"output_index", 0}, {"content_index", 0}, {"part", OutputText("")}});
  for (const std::string& d : Deltas(m.text)) {
    event("response.output_text.delta",
          {{"item_id", item}, {"output_index", 0}, {"content_index", 0}, {"delta", d}});
  }
  event("response.output_text.done",
        {{"item_id", item}, {"output_index", 0}, {"content_index", 0}, {"text", m.text}});
  event(
      "response.content_part.done",
      {{"item_id", item}, {"output_index", 0}, {"content_index", 0}, {"part", OutputText(m.text)}});
  event("response.output_item.done", {{"output_index", 0}, {"item", OutputMessage(item, m, true)}});
  event("response.completed", {{"response", Response(plan, m, id, true)}});
  return a;
}

}  // namespace

MockAnswer MockReply(const CallPlan& plan, const MockSettings& mock, uint64_t serial) {
  std::string id = "mock" + std::to_string(serial);
  switch (plan.api) {
    case Api::kMessages:
      return Messages(plan, mock, "msg_" + id);
    case Api::kChatCompletions:
      return ChatCompletions(plan, mock, "chatcmpl-" + id);
    case Api::kResponses:
      return Responses(plan, mock, id);
  }
  return {};
}

}  // namespace autovibe::meter
