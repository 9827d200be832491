#include "controller/api/task_spec_json.h"

#include <fmt/format.h>

#include <array>
#include <boost/json.hpp>
#include <charconv>

#include "common/budget/amounts.h"
#include "common/core/repo_url.h"
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

bool ValidSecretName(std::string_view n) {
  if (n.empty() || n.size() > 64 || n.front() == '.') return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

Result<void> CheckRepo(const TaskRepo& r) {
  if (r.url.empty()) return Bad("\"repo.url\" is required");
  if (auto u = ParseRepoUrl(r.url); !u) return Bad(u.error().message);
  if (!r.ref.empty()) {
    if (auto c = CheckRepoRef(r.ref); !c) return Bad("\"repo.ref\": " + c.error().message);
  }
  if (!r.branch.empty()) {
    if (auto c = CheckBranchName(r.branch); !c) return Bad("\"repo.branch\": " + c.error().message);
  }
  for (const std::string* name : {&r.secret, &r.forge_secret}) {
    if (!name->empty() && !ValidSecretName(*name)) {
      return Bad("\"repo.secret\" is not a secret name (1-64 of letters, digits, '.', '_', '-')");
    }
  }
  if (!r.author.empty() && !ParseAuthor(r.author)) {
    return Bad("\"repo.author\" must read \"Name <email>\" (at most 200 bytes, one line)");
  }
  if (r.publish != "none" && r.publish != "push" && r.publish != "pr") {
    return Bad("\"repo.publish\" must be none, push or pr");
  }
  if (!r.forge_api.empty() && !r.forge_api.starts_with("https://") &&
      !r.forge_api.starts_with("http://")) {
    return Bad("\"repo.forge_api\" must be an http(s) URL");
  }
  return {};
}

Result<TaskRepo> RepoFromJson(const json::value& v) {
  if (!v.is_object()) return Bad("\"repo\" must be an object: {\"url\", \"ref\", ...}");
  TaskRepo r;
  for (const auto& [key, val] : v.as_object()) {
    const std::string_view k = key;
    if (k == "review") {
      if (!val.is_bool()) return Bad("\"repo.review\" must be true or false");
      r.review = val.as_bool();
      continue;
    }
    if (!val.is_string()) return Bad(fmt::format("\"repo.{}\" must be a string", k.substr(0, 64)));
    std::string text(val.as_string());
    if (k == "url") {
      r.url = std::move(text);
    } else if (k == "ref") {
      r.ref = std::move(text);
    } else if (k == "secret") {
      r.secret = std::move(text);
    } else if (k == "branch") {
      r.branch = std::move(text);
    } else if (k == "publish") {
      r.publish = std::move(text);
    } else if (k == "publish_on") {
      if (text != "success" && text != "failure") {
        return Bad("\"repo.publish_on\" must be success or failure");
      }
      r.publish_on_failure = text == "failure";
    } else if (k == "forge_api") {
      r.forge_api = std::move(text);
    } else if (k == "forge_secret") {
      r.forge_secret = std::move(text);
    } else if (k == "author") {
      r.author = std::move(text);
    } else {
      return Bad(fmt::format("unknown field \"repo.{}\"", k.substr(0, 64)));
    }
  }
  if (auto c = CheckRepo(r); !c) return c.error();
  return r;
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
    } else if (k == "repo") {
      auto repo = RepoFromJson(v);
      if (!repo) return repo.error();
      s.repo = std::move(*repo);
    } else if (k == "title") {
      if (!v.is_string() || v.as_string().size() > 200) {
        return Bad("\"title\" must be a string of at most 200 bytes");
      }
      s.title = std::string(v.as_string());
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
  if (!s.title.empty()) o["title"] = ValidUtf8(s.title);
  if (!s.repo.url.empty()) o["repo"] = TaskRepoToJson(s.repo);
  return o;
}

json::object TaskRepoToJson(const TaskRepo& r) {
  json::object o{{"url", ValidUtf8(r.url)},
                 {"ref", r.ref},
                 {"secret", r.secret},
                 {"branch", r.branch},
                 {"publish", r.publish},
                 {"review", r.review},
                 {"publish_on", r.publish_on_failure ? "failure" : "success"}};
  if (!r.forge_api.empty()) o["forge_api"] = r.forge_api;
  if (!r.forge_secret.empty()) o["forge_secret"] = r.forge_secret;
  if (!r.author.empty()) o["author"] = ValidUtf8(r.author);
  return o;
}

Result<TaskRepo> TaskRepoFromJson(const json::value& v) { return RepoFromJson(v); }

json::object TaskChangeToJson(const TaskChange& c) {
  json::object o{{"base", c.base},
                 {"head", c.head},
                 {"branch", c.branch},
                 {"base_branch", c.base_branch},
                 {"files_changed", c.files_changed},
                 {"insertions", c.insertions},
                 {"deletions", c.deletions},
                 {"diff_bytes", c.diff_bytes},
                 {"bundle_bytes", c.bundle_bytes},
                 {"stored", c.stored},
                 {"published", c.published}};
  if (!c.pr_url.empty()) o["pr_url"] = c.pr_url;
  if (!c.error.empty()) o["error"] = ValidUtf8(c.error);
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
