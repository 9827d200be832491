#include "controller/api/task_spec_json.h"

#include <fmt/format.h>

#include <array>
#include <boost/json.hpp>
#include <charconv>

#include "common/budget/amounts.h"
#include "common/core/text.h"

namespace autovibe {
namespace {

namespace json = boost::json;

constexpr std::array<std::string_view, 4> kTools = {"shell", "claude-code", "aider", "codex"};
constexpr size_t kMaxPrompt = 256 << 10;
constexpr size_t kMaxArgs = 1024;
constexpr size_t kMaxMapEntries = 256;
constexpr size_t kMaxDeps = 1000;

Error Bad(std::string message) { return MakeError(ErrorCode::kBadRequest, std::move(message)); }

bool ValidEnvName(std::string_view k) {
  if (k.empty() || k.size() > 128 || (k[0] >= '0' && k[0] <= '9')) return false;
  for (char c : k) {
    if (!(c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
      return false;
  }
  return true;
}

// A JSON object of strings (numbers and booleans are taken as their text).
Result<std::map<std::string, std::string>> StringMap(const json::value& v, std::string_view field) {
  if (!v.is_object()) return Bad(fmt::format("\"{}\" must be an object of strings", field));
  if (v.as_object().size() > kMaxMapEntries) {
    return Bad(fmt::format("\"{}\" has more than {} entries", field, kMaxMapEntries));
  }
  std::map<std::string, std::string> out;
  for (const auto& [k, val] : v.as_object()) {
    if (k.empty()) return Bad(fmt::format("\"{}\" has an empty key", field));
    if (val.is_string()) {
      out[std::string(k)] = std::string(val.as_string());
    } else if (val.is_int64() || val.is_uint64() || val.is_bool()) {
      out[std::string(k)] = json::serialize(val);
    } else {
      return Bad(fmt::format("\"{}.{}\" must be a string", field, std::string_view(k)));
    }
  }
  return out;
}

Result<std::vector<std::string>> StringList(const json::value& v, std::string_view field,
                                            size_t max) {
  if (!v.is_array()) return Bad(fmt::format("\"{}\" must be an array of strings", field));
  if (v.as_array().size() > max) {
    return Bad(fmt::format("\"{}\" has more than {} items", field, max));
  }
  std::vector<std::string> out;
  for (const auto& item : v.as_array()) {
    if (!item.is_string()) return Bad(fmt::format("\"{}\" must hold only strings", field));
    out.emplace_back(item.as_string());
  }
  return out;
}

Result<int64_t> Integer(const json::value& v, std::string_view field, int64_t lo, int64_t hi) {
  int64_t n = 0;
  if (v.is_int64()) {
    n = v.as_int64();
  } else if (v.is_uint64() && v.as_uint64() <= static_cast<uint64_t>(hi)) {
    n = static_cast<int64_t>(v.as_uint64());
  } else {
    return Bad(fmt::format("\"{}\" must be an integer", field));
  }
  if (n < lo || n > hi) return Bad(fmt::format("\"{}\" must be between {} and {}", field, lo, hi));
  return n;
}

Result<void> CheckSpec(const TaskSpec& s) {
  if (s.tool.empty()) return Bad("\"tool\" is required (shell, claude-code, aider or codex)");
  if (!KnownTool(s.tool)) {
    return Bad("unknown tool \"" + s.tool.substr(0, 64) +
               "\": use shell, claude-code, aider or codex");
  }
  if (s.tool == "shell" && s.command.empty()) {
    return Bad("a shell task needs \"command\": the program and its arguments");
  }
  if (s.tool != "shell" && s.prompt.empty()) return Bad("a " + s.tool + " task needs \"prompt\"");
  if (s.prompt.size() > kMaxPrompt) return Bad("\"prompt\" is longer than 256 KiB");
  for (const auto& [k, v] : s.env) {
    if (!ValidEnvName(k)) return Bad("\"env\" has a bad variable name \"" + k.substr(0, 64) + "\"");
    if (k.starts_with("AUTOVIBE_")) return Bad("\"env\" may not set " + k + ": autovibe sets it");
    // Where a tool's LLM calls go, and on whose key, is the agent's to say (and meter).
    if (k.starts_with("ANTHROPIC_") || k.starts_with("OPENAI_")) {
      return Bad("\"env\" may not set " + k + ": the agent sets provider URLs and keys");
    }
  }
  if (auto it = s.options.find("max_turns"); it != s.options.end()) {
    int64_t n = 0;
    auto [p, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), n);
    if (ec != std::errc() || p != it->second.data() + it->second.size() || n < 1 || n > 10000) {
      return Bad("\"options.max_turns\" must be a whole number from 1 to 10000");
    }
  }
  if (!s.from_checkpoint.empty() &&
      (s.from_checkpoint.size() > 64 || !s.from_checkpoint.starts_with("cp-") ||
       s.from_checkpoint.find_first_not_of("0123456789abcdef", 3) != std::string::npos)) {
    return Bad("\"from_checkpoint\" is not a checkpoint id (cp-...)");
  }
  return {};
}

}  // namespace

bool KnownTool(std::string_view tool) {
  for (auto t : kTools) {
    if (t == tool) return true;
  }
  return false;
}

Result<TaskSpec> TaskSpecFromJson(const json::object& o) {
  TaskSpec s;
  for (const auto& [key, v] : o) {
    const std::string_view k = key;
    if (k == "project") continue;
    if (k == "tool" || k == "prompt" || k == "from_checkpoint") {
      if (!v.is_string()) return Bad(fmt::format("\"{}\" must be a string", k));
      std::string text(v.as_string());
      (k == "tool" ? s.tool : k == "prompt" ? s.prompt : s.from_checkpoint) = std::move(text);
    } else if (k == "command" || k == "depends_on") {
      auto list = StringList(v, k, k == "command" ? kMaxArgs : kMaxDeps);
      if (!list) return list.error();
      (k == "command" ? s.command : s.depends_on) = std::move(*list);
    } else if (k == "env" || k == "options" || k == "labels") {
      auto map = StringMap(v, k);
      if (!map) return map.error();
      (k == "env" ? s.env : k == "options" ? s.options : s.labels) = std::move(*map);
    } else if (k == "priority") {
      auto n = Integer(v, k, -1'000'000, 1'000'000);
      if (!n) return n.error();
      s.priority = static_cast<int32_t>(*n);
    } else if (k == "timeout_s") {
      auto n = Integer(v, k, 0, kMaxTaskTimeoutS);
      if (!n) return n.error();
      s.timeout_s = static_cast<uint32_t>(*n);
    } else if (k == "max_attempts") {
      auto n = Integer(v, k, 1, kMaxTaskAttempts);
      if (!n) return n.error();
      s.max_attempts = static_cast<uint32_t>(*n);
    } else if (k == "max_usd") {
      // Dollars as a string ("0.50") or a number; 0 or absent: no cap of its own.
      auto micros = v.is_string()   ? ParseUsd(v.as_string())
                    : v.is_number() ? ParseUsd(json::serialize(v))
                                    : Result<int64_t>(MakeError(ErrorCode::kBadRequest, ""));
      if (!micros) return Bad("\"max_usd\" must be an amount of dollars such as \"0.50\"");
      s.max_usd_micros = *micros;
    } else {
      return Bad(fmt::format("unknown field \"{}\"", k.substr(0, 64)));
    }
  }
  if (auto r = CheckSpec(s); !r) return r.error();
  return s;
}

json::object TaskSpecToJson(const TaskSpec& s) {
  json::object o;
  o["tool"] = s.tool;
  o["prompt"] = s.prompt;
  json::array cmd;
  for (const auto& a : s.command) cmd.emplace_back(ValidUtf8(a));
  o["command"] = std::move(cmd);
  json::array deps;
  for (const auto& d : s.depends_on) deps.emplace_back(d);
  o["depends_on"] = std::move(deps);
  auto map = [](const std::map<std::string, std::string>& m) {
    json::object out;
    for (const auto& [k, v] : m) out[k] = ValidUtf8(v);
    return out;
  };
  o["env"] = map(s.env);
  o["options"] = map(s.options);
  o["labels"] = map(s.labels);
  o["priority"] = s.priority;
  o["timeout_s"] = s.timeout_s;
  o["max_attempts"] = s.max_attempts;
  if (s.max_usd_micros > 0) o["max_usd"] = FormatUsd(s.max_usd_micros);
  return o;
}

json::object TaskReportToJson(const TaskReport& r) {
  json::object o{{"turns", r.turns},
                 {"session_id", r.session_id},
                 {"reported_cost_usd", FormatUsd(r.reported_cost_micros)},
                 {"result_subtype", r.result_subtype}};
  // Only from a tool that reports its tokens (codex), in the ledger's words.
  if (r.reported_input_tokens + r.reported_output_tokens + r.reported_cache_read_tokens +
          r.reported_cache_write_tokens >
      0) {
    o["reported_tokens"] = {{"input_tokens", r.reported_input_tokens},
                            {"output_tokens", r.reported_output_tokens},
                            {"cache_read_tokens", r.reported_cache_read_tokens},
                            {"cache_write_tokens", r.reported_cache_write_tokens}};
  }
  return o;
}

}  // namespace autovibe
