// Tool adapters: how each coding tool is started and how its output is understood.
// One small file per tool (shell.cc, claude_code.cc, aider.cc, codex.cc).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "autovibe/v1/command.pb.h"
#include "autovibe/v1/event.pb.h"
#include "common/core/result.h"

namespace autovibe::tools {

// Where the tool's LLM calls go, and with which key: the agent's metering proxy and the task's
// own proxy token, never a real provider key. Every adapter passes these on as ANTHROPIC_BASE_URL /
// ANTHROPIC_API_KEY / OPENAI_BASE_URL / OPENAI_API_KEY (plus the names its tool reads, e.g. aider's
// OPENAI_API_BASE).
struct ProviderAccess {
  std::string anthropic_base_url;  // empty: the tool's default. Without "/v1": "http://h:p"
  std::string anthropic_api_key;
  std::string openai_base_url;  // as OpenAI SDKs expect it, with "/v1": "http://h:p/v1"
  std::string openai_api_key;
};

// What the adapter decides from the tool's exit and output.
struct ToolVerdict {
  v1::TaskOutcome outcome = v1::TASK_OUTCOME_FAILED;
  std::string reason;  // empty on success
  v1::ToolReport report;
};

// One run of a tool: sees its stdout, then judges the run.
class ToolRun {
 public:
  virtual ~ToolRun() = default;
  // Raw stdout bytes as they arrive (lines may be split across calls).
  virtual void OnStdout(std::string_view data) {}
  // What the run has shown of itself so far (the session to resume, turns), for a run that is
  // stopped before it ends on its own.
  virtual v1::ToolReport Report() const { return {}; }
  // Called once the process ended normally (not cancelled or timed out) with its exit code
  // (-1 and `signal` when a signal killed it).
  virtual ToolVerdict Finish(int exit_code, int signal) = 0;
};

// A file the runner writes into the task's own home before the tool starts (settings that
// tell the tool where its provider is). Never in the workspace, so no checkpoint carries it.
struct ToolFile {
  std::string path;  // relative to the task's home: "codex/config.toml"; no "..", not absolute
  std::string content;
};

struct ToolLaunch {
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;  // added to the task's environment
  std::vector<ToolFile> files;
  // Variables the runner sets to a directory of the task's home, by its path relative to that
  // home ("CODEX_HOME" -> "codex"): the adapter does not know where the home is.
  std::map<std::string, std::string> home_dirs;
  std::unique_ptr<ToolRun> run;
};

class ToolAdapter {
 public:
  virtual ~ToolAdapter() = default;
  // The tool name used in tasks: "shell", "claude-code", "aider", "codex".
  virtual std::string_view name() const = 0;
  // The binary that must be on PATH for a machine to offer this tool ("sh", "claude", ...).
  virtual std::string_view binary() const = 0;
  // Builds the command line for a task; an error (code "bad_task") when the task lacks what
  // the tool needs (no prompt, no command, a bad option).
  virtual Result<ToolLaunch> Prepare(const v1::RunTask& task,
                                     const ProviderAccess& access) const = 0;
};

// The adapter for a tool name, or nullptr.
const ToolAdapter* FindAdapter(std::string_view tool);
// Every adapter, in a stable order.
std::vector<const ToolAdapter*> AllAdapters();

// Judges a run by its exit code alone: 0 succeeded, else failed with "exit code N" or
// "killed by signal SIGx". Shared by adapters whose tools report nothing more.
ToolVerdict VerdictFromExit(int exit_code, int signal);

// "SIGTERM", "SIGKILL", ...; "signal N" for a number without a name.
std::string SignalName(int signal);

}  // namespace autovibe::tools
