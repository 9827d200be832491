#include "tests/fakes/anthropic_script.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string_view>

namespace autovibe::testing {
namespace {

namespace json = boost::json;

const json::array* ArrayField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_array() ? &v->get_array() : nullptr;
}

std::string_view StringField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

// True when the last message is the user's and hands back a tool's result.
bool EndsWithToolResult(const json::object& request) {
  const json::array* messages = ArrayField(request, "messages");
  if (messages == nullptr || messages->empty() || !messages->back().is_object()) return false;
  const json::object& last = messages->back().get_object();
  if (StringField(last, "role") != "user") return false;
  const json::array* content = ArrayField(last, "content");
  if (content == nullptr) return false;
  for (const json::value& block : *content) {
    if (block.is_object() && StringField(block.get_object(), "type") == "tool_result") return true;
  }
  return false;
}

// How many tool calls the conversation so far holds (the assistant's tool_use blocks).
size_t ToolCallsSoFar(const json::object& request) {
  const json::array* messages = ArrayField(request, "messages");
  if (messages == nullptr) return 0;
  size_t n = 0;
  for (const json::value& m : *messages) {
    if (!m.is_object() || StringField(m.get_object(), "role") != "assistant") continue;
    const json::array* content = ArrayField(m.get_object(), "content");
    if (content == nullptr) continue;
    for (const json::value& block : *content) {
      if (block.is_object() && StringField(block.get_object(), "type") == "tool_use") ++n;
    }
  }
  return n;
}

bool OffersTool(const json::object& request, std::string_view name) {
  const json::array* tools = ArrayField(request, "tools");
  if (tools == nullptr) return false;
  for (const json::value& t : *tools) {
    if (t.is_object() && StringField(t.get_object(), "name") == name) return true;
  }
  return false;
}

// The name of the offered tool that writes a file: "Write" (Claude Code's), else any tool whose
// input schema has file_path and content.
std::optional<std::string> FindWriteTool(const json::object& request) {
  const json::array* tools = ArrayField(request, "tools");
  if (tools == nullptr) return std::nullopt;
  std::optional<std::string> by_schema;
  for (const json::value& t : *tools) {
    if (!t.is_object()) continue;
    const json::object& tool = t.get_object();
    const std::string_view name = StringField(tool, "name");
    if (name == "Write") return std::string(name);
    const json::value* props = tool.if_contains("input_schema");
    if (props != nullptr && props->is_object())
      props = props->get_object().if_contains("properties");
    if (!by_schema && props != nullptr && props->is_object() &&
        props->get_object().contains("file_path") && props->get_object().contains("content")) {
      by_schema = std::string(name);
    }
  }
  return by_schema;
}

// The working directory an agent states in its system prompt ("Working directory: /x").
std::string WorkingDirectory(const json::object& request) {
  std::string system;
  if (const json::value* s = request.if_contains("system"); s != nullptr && s->is_string()) {
    system = s->get_string();
  } else if (const json::array* blocks = ArrayField(request, "system")) {
    for (const json::value& b : *blocks) {
      if (b.is_object()) system += std::string(StringField(b.get_object(), "text")) + "\n";
    }
  }
  constexpr std::string_view kMarker = "orking directory: ";  // "Primary w..." or "W..."
  const size_t at = system.find(kMarker);
  if (at == std::string::npos) return "";
  const size_t start = at + kMarker.size();
  const size_t end = system.find_first_of("\r\n", start);
  return system.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

std::string ResolvePath(const std::string& file, const json::object& request) {
  if (file.empty() || file.front() == '/') return file;
  const std::string dir = WorkingDirectory(request);
  return dir.empty() ? file : dir + "/" + file;
}

AnthropicUsage Usage(const json::object& request, std::string_view body, bool follow_up,
                     const std::string& output) {
  // A client that marks cache breakpoints gets most of its prompt from the cache, as with the
  // real API: written to it on the first turn, read from it on the next.
  AnthropicUsage u;
  const int64_t prompt = PromptTokens(request);
  const bool caches = body.find("\"cache_control\"") != std::string_view::npos;
  u.input_tokens = caches ? std::max<int64_t>(1, prompt / 10) : prompt;
  (follow_up ? u.cache_read_input_tokens : u.cache_creation_input_tokens) =
      caches ? prompt - u.input_tokens : 0;
  u.output_tokens = EstimateTokens(output.size());
  return u;
}

}  // namespace

int64_t PromptTokens(const json::object& request) {
  json::object counted;
  for (std::string_view key : {"model", "system", "tools", "tool_choice", "thinking", "messages"}) {
    if (const json::value* v = request.if_contains(key)) counted[key] = *v;
  }
  return EstimateTokens(json::serialize(counted).size());
}

ScriptedAnswer AnswerMessages(const FakeAnthropicScript& script, const json::object& request,
                              std::string_view body, uint64_t seq) {
  ScriptedAnswer a;
  a.message.id = "msg_fake" + std::to_string(seq);
  a.message.model = StringField(request, "model");
  const std::optional<std::string> write_tool = FindWriteTool(request);
  const bool follow_up = EndsWithToolResult(request);
  std::string output;
  // The scripted calls, in order: [Read] Write [Bash]; `step` is the one due now.
  std::vector<std::string> steps;
  if (write_tool && !script.write_file.empty()) {
    if (script.read_first && OffersTool(request, "Read")) steps.push_back("Read");
    steps.push_back(*write_tool);
    if (!script.run_command.empty() && OffersTool(request, "Bash")) steps.push_back("Bash");
  }
  const size_t step = follow_up ? ToolCallsSoFar(request) : 0;
  if (step < steps.size() && steps[step] != *write_tool) {
    a.kind = "tool_use";
    json::object input;
    if (steps[step] == "Read") {
      input = {{"file_path", ResolvePath(script.write_file, request)}};
    } else {
      input = {{"command", script.run_command}, {"description", "Run the tests"}};
    }
    output = json::serialize(input);
    a.message.content.push_back(AnthropicBlock::Text("Next: " + steps[step] + "."));
    a.message.content.push_back(
        AnthropicBlock::ToolUse("toolu_fake" + std::to_string(seq), steps[step], std::move(input)));
    a.message.stop_reason = "tool_use";
  } else if (step < steps.size() && (step > 0 || !follow_up)) {
    a.kind = "tool_use";
    a.written_path = ResolvePath(script.write_file, request);
    json::object input{{"file_path", a.written_path}, {"content", script.content}};
    output = json::serialize(input);
    a.message.content.push_back(AnthropicBlock::Text("I will write " + script.write_file + "."));
    a.message.content.push_back(
        AnthropicBlock::ToolUse("toolu_fake" + std::to_string(seq), *write_tool, std::move(input)));
    a.message.stop_reason = "tool_use";
  } else if (follow_up || (write_tool && script.write_file.empty())) {
    a.kind = "final_text";
    a.message.content.push_back(AnthropicBlock::Text(script.final_text));
    output = script.final_text;
  } else if (write_tool) {
    a.kind = "tool_use";
    a.written_path = ResolvePath(script.write_file, request);
    json::object input{{"file_path", a.written_path}, {"content", script.content}};
    output = json::serialize(input);
    a.message.content.push_back(AnthropicBlock::Text("I will write " + script.write_file + "."));
    a.message.content.push_back(
        AnthropicBlock::ToolUse("toolu_fake" + std::to_string(seq), *write_tool, std::move(input)));
    a.message.stop_reason = "tool_use";
  } else {
    a.kind = "side_text";
    a.message.content.push_back(AnthropicBlock::Text(script.side_text));
    output = script.side_text;
  }
  a.message.usage = Usage(request, body, follow_up, output);
  return a;
}

}  // namespace autovibe::testing
