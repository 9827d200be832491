#include "controller/store/task_codec.h"

#include <boost/json.hpp>

#include "common/budget/amounts.h"
#include "common/core/text.h"

namespace autovibe {
namespace {

namespace json = boost::json;

Error Damaged(std::string_view what) {
  return MakeError(ErrorCode::kStore, "stored task spec: " + std::string(what));
}

json::object EncodeMap(const std::map<std::string, std::string>& m) {
  json::object out;
  for (const auto& [k, v] : m) out[k] = ValidUtf8(v);
  return out;
}

Result<std::map<std::string, std::string>> DecodeMap(const json::value& v, std::string_view key) {
  if (!v.is_object()) return Damaged(std::string(key) + " is not an object");
  std::map<std::string, std::string> out;
  for (const auto& [k, val] : v.as_object()) {
    if (!val.is_string()) return Damaged(std::string(key) + " holds a value that is not text");
    out[std::string(k)] = std::string(val.as_string());
  }
  return out;
}

Result<std::vector<std::string>> DecodeList(const json::value& v, std::string_view key) {
  if (!v.is_array()) return Damaged(std::string(key) + " is not an array");
  std::vector<std::string> out;
  for (const auto& item : v.as_array()) {
    if (!item.is_string()) return Damaged(std::string(key) + " holds a value that is not text");
    out.emplace_back(item.as_string());
  }
  return out;
}

template <class T>
Result<T> DecodeNumber(const json::value& v, std::string_view key) {
  boost::system::error_code ec;
  const T n = v.to_number<T>(ec);
  if (ec) return Damaged(std::string(key) + " is not a number in range");
  return n;
}

std::string Text(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

uint64_t Count(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_number()) return 0;
  boost::system::error_code ec;
  const uint64_t n = v->to_number<uint64_t>(ec);
  return ec ? 0 : n;
}

json::object EncodeRepo(const TaskRepo& r) {
  return {{"url", ValidUtf8(r.url)},
          {"ref", ValidUtf8(r.ref)},
          {"secret", r.secret},
          {"branch", ValidUtf8(r.branch)},
          {"publish", r.publish},
          {"review", r.review},
          {"on_failure", r.publish_on_failure},
          {"forge_api", ValidUtf8(r.forge_api)},
          {"forge_secret", r.forge_secret},
          {"author", ValidUtf8(r.author)}};
}

TaskRepo DecodeRepo(const json::object& o) {
  TaskRepo r;
  r.url = Text(o, "url");
  r.ref = Text(o, "ref");
  r.secret = Text(o, "secret");
  r.branch = Text(o, "branch");
  r.publish = Text(o, "publish");
  if (r.publish.empty()) r.publish = "none";
  r.forge_api = Text(o, "forge_api");
  r.forge_secret = Text(o, "forge_secret");
  r.author = Text(o, "author");
  const json::value* review = o.if_contains("review");
  r.review = review != nullptr && review->is_bool() && review->as_bool();
  const json::value* failure = o.if_contains("on_failure");
  r.publish_on_failure = failure != nullptr && failure->is_bool() && failure->as_bool();
  return r;
}

json::object EncodeChange(const TaskChange& c) {
  return {{"base", c.base},
          {"head", c.head},
          {"branch", ValidUtf8(c.branch)},
          {"base_branch", ValidUtf8(c.base_branch)},
          {"files", c.files_changed},
          {"ins", c.insertions},
          {"del", c.deletions},
          {"diff_bytes", c.diff_bytes},
          {"bundle_bytes", c.bundle_bytes},
          {"error", ValidUtf8(c.error)},
          {"stored", c.stored},
          {"published", ValidUtf8(c.published)},
          {"pr_url", ValidUtf8(c.pr_url)}};
}

TaskChange DecodeChange(const json::object& o) {
  TaskChange c;
  c.base = Text(o, "base");
  c.head = Text(o, "head");
  c.branch = Text(o, "branch");
  c.base_branch = Text(o, "base_branch");
  c.files_changed = static_cast<uint32_t>(Count(o, "files"));
  c.insertions = Count(o, "ins");
  c.deletions = Count(o, "del");
  c.diff_bytes = Count(o, "diff_bytes");
  c.bundle_bytes = Count(o, "bundle_bytes");
  c.error = Text(o, "error");
  const json::value* stored = o.if_contains("stored");
  c.stored = stored != nullptr && stored->is_bool() && stored->as_bool();
  c.published = Text(o, "published");
  c.pr_url = Text(o, "pr_url");
  return c;
}

}  // namespace

std::string EncodeTaskSpec(const TaskSpec& s) {
  json::object o;
  o["tool"] = s.tool;
  o["prompt"] = s.prompt;
  json::array cmd;
  for (const auto& a : s.command) cmd.emplace_back(ValidUtf8(a));
  o["command"] = std::move(cmd);
  json::array deps;
  for (const auto& d : s.depends_on) deps.emplace_back(d);
  o["depends_on"] = std::move(deps);
  o["env"] = EncodeMap(s.env);
  o["options"] = EncodeMap(s.options);
  o["labels"] = EncodeMap(s.labels);
  o["priority"] = s.priority;
  o["timeout_s"] = s.timeout_s;
  o["max_attempts"] = s.max_attempts;
  if (!s.from_checkpoint.empty()) o["from_checkpoint"] = s.from_checkpoint;
  if (s.max_usd_micros > 0) o["max_usd"] = FormatUsd(s.max_usd_micros);
  if (!s.title.empty()) o["title"] = ValidUtf8(s.title);
  if (!s.repo.url.empty()) o["repo"] = EncodeRepo(s.repo);
  return json::serialize(o);
}

Result<TaskSpec> DecodeTaskSpec(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return Damaged("not a JSON object");
  TaskSpec s;
  for (const auto& [key, val] : v.as_object()) {
    const std::string_view k = key;
    if (k == "tool" || k == "prompt" || k == "from_checkpoint") {
      if (!val.is_string()) return Damaged(std::string(k) + " is not text");
      (k == "tool" ? s.tool : k == "prompt" ? s.prompt : s.from_checkpoint) = val.as_string();
    } else if (k == "command" || k == "depends_on") {
      auto list = DecodeList(val, k);
      if (!list) return list.error();
      (k == "command" ? s.command : s.depends_on) = std::move(*list);
    } else if (k == "env" || k == "options" || k == "labels") {
      auto map = DecodeMap(val, k);
      if (!map) return map.error();
      (k == "env" ? s.env : k == "options" ? s.options : s.labels) = std::move(*map);
    } else if (k == "priority") {
      auto n = DecodeNumber<int32_t>(val, k);
      if (!n) return n.error();
      s.priority = *n;
    } else if (k == "timeout_s" || k == "max_attempts") {
      auto n = DecodeNumber<uint32_t>(val, k);
      if (!n) return n.error();
      (k == "timeout_s" ? s.timeout_s : s.max_attempts) = *n;
    } else if (k == "max_usd") {
      auto micros = val.is_string() ? ParseUsd(val.as_string())
                                    : Result<int64_t>(Damaged("max_usd is not text"));
      if (!micros) return Damaged("max_usd is not an amount of dollars");
      s.max_usd_micros = *micros;
    } else if (k == "title" && val.is_string()) {
      s.title = val.as_string();
    } else if (k == "repo") {
      if (!val.is_object()) return Damaged("repo is not an object");
      s.repo = DecodeRepo(val.as_object());
    }
    // Keys this version does not know are left alone: a newer controller may have written them.
  }
  if (s.tool.empty()) return Damaged("it names no tool");
  return s;
}

std::string EncodeTaskReport(const TaskReport& r) {
  json::object o{{"turns", r.turns},
                 {"session_id", r.session_id},
                 {"cost_micros", r.reported_cost_micros},
                 {"result_subtype", r.result_subtype},
                 {"input_tokens", r.reported_input_tokens},
                 {"output_tokens", r.reported_output_tokens},
                 {"cache_read_tokens", r.reported_cache_read_tokens},
                 {"cache_write_tokens", r.reported_cache_write_tokens}};
  if (!r.change.empty()) o["change"] = EncodeChange(r.change);
  return json::serialize(o);
}

TaskReport DecodeTaskReport(std::string_view text) {
  TaskReport r;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return r;
  const auto& o = v.as_object();
  if (auto* p = o.if_contains("turns"); p && p->is_number()) {
    r.turns = p->to_number<uint32_t>(ec);
    if (ec) r.turns = 0;
  }
  if (auto* p = o.if_contains("session_id"); p && p->is_string()) r.session_id = p->as_string();
  if (auto* p = o.if_contains("cost_micros"); p && p->is_int64()) {
    r.reported_cost_micros = p->as_int64();
  }
  if (auto* p = o.if_contains("result_subtype"); p && p->is_string()) {
    r.result_subtype = p->as_string();
  }
  for (auto [key, field] : {std::pair{"input_tokens", &r.reported_input_tokens},
                            std::pair{"output_tokens", &r.reported_output_tokens},
                            std::pair{"cache_read_tokens", &r.reported_cache_read_tokens},
                            std::pair{"cache_write_tokens", &r.reported_cache_write_tokens}}) {
    if (auto* p = o.if_contains(key); p && p->is_int64()) *field = p->as_int64();
  }
  if (auto* p = o.if_contains("change"); p && p->is_object())
    r.change = DecodeChange(p->as_object());
  return r;
}

std::string EncodeTaskRepo(const TaskRepo& repo) {
  return repo.url.empty() ? "" : json::serialize(EncodeRepo(repo));
}

TaskRepo DecodeTaskRepo(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return {};
  return DecodeRepo(v.as_object());
}

}  // namespace autovibe
