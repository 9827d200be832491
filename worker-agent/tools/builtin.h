// The adapters that ship with the agent and the checks they share. Private to worker-agent/tools;
// everyone else finds adapters through FindAdapter() in adapter.h.
#pragma once

#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/core/result.h"
#include "worker-agent/tools/adapter.h"

namespace autovibe::tools {

const ToolAdapter& ShellAdapter();
const ToolAdapter& ClaudeCodeAdapter();
const ToolAdapter& AiderAdapter();
const ToolAdapter& CodexAdapter();

// A run judged by its exit code alone (VerdictFromExit), for tools that report nothing more.
std::unique_ptr<ToolRun> MakeExitCodeRun();

// A bad_task error whose message starts with the tool's name.
Error BadTask(std::string_view tool, std::string_view message);

// Fails when the task sets an option the tool does not take (a typo would otherwise be ignored
// silently and the task would run with the tool's defaults).
Result<void> CheckOptionNames(std::string_view tool, const v1::RunTask& task,
                              std::initializer_list<std::string_view> allowed);

// The task's prompt; an error when it is empty or blank.
Result<std::string> RequirePrompt(std::string_view tool, const v1::RunTask& task);

// The "model" option if set: a model id such as "claude-sonnet-4-5" or "openai/gpt-4.1"
// (letters, digits and . _ - : / @, not starting with '-').
Result<std::optional<std::string>> ModelOption(std::string_view tool, const v1::RunTask& task);

// What a prompt-driven tool (claude-code, aider, codex) reads from every task: only `allowed`
// options (which include "model"), a prompt that is not blank, and the model if set.
struct PromptTask {
  std::string prompt;
  std::optional<std::string> model;
};
Result<PromptTask> ReadPromptTask(std::string_view tool, const v1::RunTask& task,
                                  std::initializer_list<std::string_view> allowed);

// A positive integer option such as "max_turns", if set.
Result<std::optional<uint32_t>> PositiveIntOption(std::string_view tool, const v1::RunTask& task,
                                                  const std::string& name);

// The prompt of a task resumed after a pause: the task's prompt, told it was stopped part way.
std::string ResumePrompt(std::string_view prompt);

// At most 300 bytes of `text`, cut on a UTF-8 character boundary ("..." after a cut), on one
// line: a tool's own words quoted in a task's reason.
std::string Quote(std::string_view text);

// What every tool sees of the providers (DESIGN.md, "What a task's tool sees"):
// ANTHROPIC_BASE_URL, ANTHROPIC_API_KEY, OPENAI_BASE_URL, OPENAI_API_KEY, each only when set.
std::map<std::string, std::string> ProviderEnv(const ProviderAccess& access);

}  // namespace autovibe::tools
