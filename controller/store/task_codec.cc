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
    }
    // Keys this version does not know are left alone: a newer controller may have written them.
  }
  if (s.tool.empty()) return Damaged("it names no tool");
  return s;
}

std::string EncodeTaskReport(const TaskReport& r) {
  return json::serialize(json::object{{"turns", r.turns},
                                      {"session_id", r.session_id},
                                      {"cost_micros", r.reported_cost_micros},
                                      {"result_subtype", r.result_subtype},
                                      {"input_tokens", r.reported_input_tokens},
                                      {"output_tokens", r.reported_output_tokens},
                                      {"cache_read_tokens", r.reported_cache_read_tokens},
                                      {"cache_write_tokens", r.reported_cache_write_tokens}});
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
  return r;
}

}  // namespace autovibe
