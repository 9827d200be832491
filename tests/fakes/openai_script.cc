#include "tests/fakes/openai_script.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <string_view>

namespace autovibe::testing {
namespace {

namespace json = boost::json;

std::string_view Str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

const json::array* Items(const json::object& request, std::string_view key) {
  const json::value* v = request.if_contains(key);
  return v != nullptr ? v->if_array() : nullptr;
}

bool HandsBackToolOutput(const json::object& request) {
  const json::array* input = Items(request, "input");
  if (input == nullptr) return false;
  for (const json::value& item : *input) {
    if (item.is_object() && Str(item.get_object(), "type") == "function_call_output") return true;
  }
  return false;
}

// The offered shell tool's name, if any.
std::optional<std::string> FindShellTool(const json::object& request) {
  const json::array* tools = Items(request, "tools");
  if (tools == nullptr) return std::nullopt;
  for (const json::value& t : *tools) {
    if (!t.is_object() || Str(t.get_object(), "type") != "function") continue;
    const std::string_view name = Str(t.get_object(), "name");
    if (name == "exec_command" || name == "shell_command" || name == "shell") {
      return std::string(name);
    }
  }
  return std::nullopt;
}

// The working directory the agent states in its input ("<cwd>/x</cwd>").
std::string WorkingDirectory(const json::object& request) {
  const std::string input = json::serialize(request.contains("input") ? request.at("input") : "");
  const size_t start = input.find("<cwd>");
  const size_t end = input.find("</cwd>", start);
  if (start == std::string::npos || end == std::string::npos) return "";
  return input.substr(start + 5, end - start - 5);
}

// `text` in single quotes for sh.
std::string ShellQuote(std::string_view text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string Arguments(const std::string& tool, const std::string& command) {
  if (tool == "shell") {
    return json::serialize(json::object{{"command", json::array{"bash", "-lc", command}}});
  }
  return json::serialize(json::object{{tool == "exec_command" ? "cmd" : "command", command}});
}

}  // namespace

OpenAIScripted ScriptResponses(const FakeOpenAIOptions& options, const json::object& request,
                               uint64_t seq) {
  OpenAIScripted s;
  const std::string& write_file = options.write_file;
  if (write_file.empty()) return s;
  if (HandsBackToolOutput(request)) {
    s.kind = "final_text";
    return s;
  }
  const std::optional<std::string> tool = FindShellTool(request);
  if (!tool) return s;
  s.kind = "tool_call";
  const std::string dir = WorkingDirectory(request);
  s.written_path = write_file.front() == '/' || dir.empty() ? write_file : dir + "/" + write_file;
  std::string command =
      "printf %s " + ShellQuote(options.content) + " > " + ShellQuote(s.written_path);
  if (!options.then_run.empty()) command += " && " + options.then_run;
  s.call = OpenAIFunctionCall{.item_id = "fc_fake" + std::to_string(seq),
                              .call_id = "call_fake" + std::to_string(seq),
                              .name = *tool,
                              .arguments = Arguments(*tool, command)};
  return s;
}

}  // namespace autovibe::testing
