// Reading Claude Code's `--output-format stream-json --verbose` output: one JSON object per
// line ("system" init, "assistant" and "user" messages, and a last "result").
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace autovibe::tools {

// Cuts a byte stream into lines (a trailing '\r' is dropped). A line longer than
// `max_line_bytes` is skipped whole, so memory stays bounded whatever the tool prints.
class LineSplitter {
 public:
  using LineHandler = std::function<void(std::string_view)>;

  explicit LineSplitter(size_t max_line_bytes) : max_line_bytes_(max_line_bytes) {}
  // Calls `on_line` for every line `data` completes.
  void Feed(std::string_view data, const LineHandler& on_line);
  // At the end of the stream: the last line if it had no newline.
  void Flush(const LineHandler& on_line);
  uint64_t skipped_lines() const { return skipped_lines_; }

 private:
  void Emit(std::string_view line, const LineHandler& on_line);

  size_t max_line_bytes_;
  std::string partial_;
  bool skipping_ = false;  // inside an over-long line: drop bytes up to its newline
  uint64_t skipped_lines_ = 0;
};

// The final {"type":"result", ...} line.
struct ClaudeResult {
  std::string subtype;  // "success", "error_max_turns", "error_during_execution", ...
  bool is_error = false;
  std::optional<uint32_t> num_turns;
  int64_t cost_micros = 0;  // total_cost_usd in micro-dollars, rounded; the CLI's own estimate
  std::string result;       // the final answer (or the error text)
  std::vector<std::string> errors;  // "errors", which newer versions add to error subtypes
};

// A tool's output as JSON objects, one a line (Claude Code's stream-json, Codex's --json):
// split into lines, parsed, each object handed to OnObject. Not thread-safe; feed it from one
// thread.
class JsonLines {
 public:
  static constexpr size_t kMaxLineBytes = 4 << 20;
  virtual ~JsonLines() = default;

  void OnStdout(std::string_view data);
  // At the end of the output; reads a last line without a newline.
  void Finish();
  // Lines that were not JSON objects (warnings on stdout, ...), and over-long lines skipped.
  uint64_t unparsed_lines() const { return unparsed_lines_; }
  uint64_t skipped_lines() const { return lines_.skipped_lines(); }

 protected:
  virtual void OnObject(const boost::json::object& o) = 0;
  // An object that is not one of the tool's events counts with the lines that were not JSON.
  void CountUnparsed() { ++unparsed_lines_; }

 private:
  void OnLine(std::string_view line);

  LineSplitter lines_{kMaxLineBytes};
  uint64_t unparsed_lines_ = 0;
};

// What a stream-json transcript says about a run.
class ClaudeTranscript final : public JsonLines {
 public:
  // Assistant messages of the main conversation (not of subagents), each counted once
  // although --verbose prints one line per content block.
  uint32_t assistant_turns() const { return assistant_turns_; }
  const std::string& session_id() const { return session_id_; }
  const std::optional<ClaudeResult>& result() const { return result_; }

 private:
  void OnObject(const boost::json::object& o) override;

  uint32_t assistant_turns_ = 0;
  std::string last_message_id_;
  std::string session_id_;
  std::optional<ClaudeResult> result_;
};

// total_cost_usd as micro-dollars, rounded to the nearest; 0 for a negative, absurd (a million
// dollars or more) or non-finite figure.
int64_t UsdToMicros(double usd);

}  // namespace autovibe::tools
