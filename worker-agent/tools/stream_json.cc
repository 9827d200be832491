#include "worker-agent/tools/stream_json.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <limits>

namespace autovibe::tools {
namespace {

namespace json = boost::json;

std::string_view StringField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return {};
  return v->get_string();
}

std::optional<double> NumberField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_number()) return std::nullopt;
  return v->to_number<double>();
}

ClaudeResult ReadResult(const json::object& line) {
  ClaudeResult r;
  r.subtype = StringField(line, "subtype");
  if (const json::value* v = line.if_contains("is_error"); v != nullptr && v->is_bool()) {
    r.is_error = v->get_bool();
  }
  if (auto turns = NumberField(line, "num_turns"); turns && *turns >= 0) {
    r.num_turns = static_cast<uint32_t>(
        std::min(*turns, static_cast<double>(std::numeric_limits<uint32_t>::max())));
  }
  if (auto cost = NumberField(line, "total_cost_usd")) r.cost_micros = UsdToMicros(*cost);
  r.result = StringField(line, "result");
  if (const json::value* v = line.if_contains("errors"); v != nullptr && v->is_array()) {
    for (const json::value& e : v->get_array()) {
      if (e.is_string()) r.errors.emplace_back(e.get_string());
    }
  }
  return r;
}

}  // namespace

void LineSplitter::Feed(std::string_view data, const LineHandler& on_line) {
  while (!data.empty()) {
    const size_t newline = data.find('\n');
    const std::string_view piece = data.substr(0, newline);
    if (skipping_) {
      // Still inside the over-long line: nothing kept.
    } else if (partial_.size() + piece.size() > max_line_bytes_) {
      partial_.clear();
      partial_.shrink_to_fit();
      skipping_ = true;
      ++skipped_lines_;
    } else if (newline != std::string_view::npos && partial_.empty()) {
      Emit(piece, on_line);  // the common case: a whole line in one chunk, no copy
    } else {
      partial_.append(piece);
      if (newline != std::string_view::npos) {
        Emit(partial_, on_line);
        partial_.clear();
      }
    }
    if (newline == std::string_view::npos) return;
    skipping_ = false;
    data.remove_prefix(newline + 1);
  }
}

void LineSplitter::Flush(const LineHandler& on_line) {
  if (!skipping_ && !partial_.empty()) Emit(partial_, on_line);
  partial_.clear();
  skipping_ = false;
}

void LineSplitter::Emit(std::string_view line, const LineHandler& on_line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (!line.empty()) on_line(line);
}

void JsonLines::OnStdout(std::string_view data) {
  lines_.Feed(data, [this](std::string_view line) { OnLine(line); });
}

void JsonLines::Finish() {
  lines_.Flush([this](std::string_view line) { OnLine(line); });
}

void JsonLines::OnLine(std::string_view line) {
  boost::system::error_code ec;
  json::value parsed = json::parse(line, ec);
  if (ec || !parsed.is_object()) {
    ++unparsed_lines_;
    return;
  }
  OnObject(parsed.get_object());
}

void ClaudeTranscript::OnObject(const json::object& o) {
  if (std::string_view id = StringField(o, "session_id"); !id.empty()) session_id_ = id;
  const std::string_view type = StringField(o, "type");
  if (type == "result") {
    result_ = ReadResult(o);
  } else if (type == "assistant") {
    // A subagent's messages carry the id of the tool call that started it.
    const json::value* parent = o.if_contains("parent_tool_use_id");
    if (parent != nullptr && !parent->is_null()) return;
    std::string_view id;
    if (const json::value* m = o.if_contains("message"); m != nullptr && m->is_object()) {
      id = StringField(m->get_object(), "id");
    }
    if (id.empty() || id != last_message_id_) ++assistant_turns_;
    last_message_id_ = id;
  }
}

int64_t UsdToMicros(double usd) {
  if (!std::isfinite(usd) || usd < 0 || usd >= 1e6) return 0;
  return std::llround(usd * 1e6);
}

}  // namespace autovibe::tools
