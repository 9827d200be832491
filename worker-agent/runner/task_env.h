// What a task's tool sees (DESIGN.md, "What a task's tool sees"): its workspace as working
// directory and an environment built from scratch, never the agent's own.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "autovibe/v1/command.pb.h"
#include "common/core/result.h"
#include "worker-agent/tools/adapter.h"

namespace autovibe {

// What the agent passes on from its own environment. Read once at start; tests make their own.
struct AgentEnvironment {
  std::string path;  // PATH for finding the tools
  std::string home;  // HOME: coding tools keep settings there and need it writable
  std::string anthropic_api_key;
  std::string openai_api_key;

  // The first call takes the provider keys out of the process's environment for good: unset,
  // and their bytes overwritten where the kernel shows the environment the process started
  // with (/proc/<pid>/environ). Later calls return what the first one read. Call it first
  // thing in main, before any thread starts.
  static AgentEnvironment FromProcess();
};

// Reads `name` from the environment, then removes it: its value's bytes are zeroed in place
// (in the block /proc/<pid>/environ shows, when it is there) and the variable unset. Not
// thread-safe (no environment call may run meanwhile).
std::string TakeSecretEnv(const char* name);

// The tool's whole environment, later entries winning: a minimal base (PATH, HOME, LANG, TERM),
// the task's env, the adapter's env (so a task cannot point its tool past the agent), then
// AUTOVIBE_TASK_ID and AUTOVIBE_PROJECT.
std::map<std::string, std::string> TaskEnvironment(
    const v1::RunTask& task, const AgentEnvironment& agent,
    const std::map<std::string, std::string>& adapter_env);

// A task id that is safe as a directory name: 1-64 of [A-Za-z0-9._-], without "..".
bool ValidTaskId(std::string_view id);

// `<data_dir>/workspaces`, and `<data_dir>/workspaces/<task_id>`: where a task works.
std::string WorkspacesDir(const std::string& data_dir);
std::string WorkspacePath(const std::string& data_dir, const std::string& task_id);

// `<data_dir>/homes/<task_id>`: the task's own home, outside its workspace (a boxed task's
// HOME; for every task, the settings its adapter writes there).
std::string TaskHomePath(const std::string& data_dir, const std::string& task_id);

// Creates WorkspacePath (mode 0700) if missing and returns it. The id must be valid
// (ValidTaskId).
Result<std::string> PrepareWorkspace(const std::string& data_dir, const std::string& task_id);

}  // namespace autovibe
