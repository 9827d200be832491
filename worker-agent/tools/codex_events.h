// Reading `codex exec --json` output (Codex CLI 0.171): one JSON event per line.
//   {"type":"thread.started","thread_id":ID}          the session, to resume
//   {"type":"turn.started"}
//   {"type":"item.started"|"item.updated"|"item.completed","item":{"id","type",...}}
//       item types: agent_message, reasoning, command_execution, file_change, mcp_tool_call,
//       web_search, todo_list, and "error" (a warning the run goes on after)
//   {"type":"turn.completed","usage":{"input_tokens","cached_input_tokens",
//       "cache_write_input_tokens","output_tokens","reasoning_output_tokens"}}
//   {"type":"turn.failed","error":{"message"}}      the turn, and so the run, failed
//   {"type":"error","message"}                      a retry notice or the failure's cause
// Lines that are not JSON objects and unknown types are counted and passed over.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "worker-agent/tools/stream_json.h"

namespace autovibe::tools {

// The tokens Codex says its calls used, summed over its turns, in the ledger's terms: `input`
// excludes what was read from or written to the prompt cache (Codex's input_tokens includes
// them), `output` includes the reasoning tokens.
struct CodexUsage {
  int64_t input = 0;
  int64_t cache_read = 0;
  int64_t cache_write = 0;
  int64_t output = 0;
};

// What a `codex exec --json` transcript says about a run. Not thread-safe; feed it from one
// thread.
class CodexTranscript final : public JsonLines {
 public:
  const std::string& thread_id() const { return thread_id_; }
  // The agent's steps: messages and tool calls (commands, file changes, MCP calls, web
  // searches) it completed, as Claude Code counts an answer and each tool round trip.
  uint32_t steps() const { return steps_; }
  uint32_t turns_completed() const { return turns_completed_; }
  // The last turn's end: "turn.completed" or "turn.failed"; empty while none ended.
  const std::string& last_turn_end() const { return last_turn_end_; }
  // Why the last failed turn failed (the provider's error message when Codex quotes its JSON
  // body); else the last top-level error event's message.
  const std::string& error() const { return error_; }
  const CodexUsage& usage() const { return usage_; }
  // The last agent message: the tool's own summary of what it did.
  const std::string& last_message() const { return last_message_; }

 private:
  void OnObject(const boost::json::object& o) override;

  std::string thread_id_;
  uint32_t steps_ = 0;
  uint32_t turns_completed_ = 0;
  std::string last_turn_end_;
  std::string error_;
  CodexUsage usage_;
  std::string last_message_;
};

}  // namespace autovibe::tools
